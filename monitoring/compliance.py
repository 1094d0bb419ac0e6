"""Compliance arithmetic: ticket timers, measurement periods and per-period verdicts.

Pure functions over plain values (datetimes, floats, lists) and a
:class:`~agreements.clock.BusinessCalendar`; no Django. The evaluation services feed them from
the database and store what they return, so every figure a customer sees comes from here and
is tested here (``docs/evaluation.md`` has the long form of every rule).

Statuses, from good to bad: ``met``, ``at_risk`` (the trajectory misses the target),
``missed_target`` (worse than the target, within the threshold) and ``breached`` (worse than
the threshold of unacceptable service); ``no_data`` when nothing was measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agreements.clock import BusinessCalendar

__all__ = [
    "AT_RISK",
    "BREACHED",
    "MET",
    "MISSED_TARGET",
    "NO_DATA",
    "PAUSED",
    "RUNNING",
    "Goal",
    "TimerInput",
    "TimerResult",
    "Verdict",
    "availability_verdict",
    "count_verdict",
    "merge_intervals",
    "period_bounds",
    "periods_between",
    "recovery_verdict",
    "ticket_share_verdict",
    "ticket_timer",
    "value_verdict",
]

RUNNING = "running"
PAUSED = "paused"
AT_RISK = "at_risk"
MET = "met"
MISSED_TARGET = "missed_target"
BREACHED = "breached"
NO_DATA = "no_data"

# Alert levels in the order a ticket reaches them, with the timer field that holds the moment.
LEVELS = (("warning", "warning_at"), (MISSED_TARGET, "due_at"), (BREACHED, "threshold_due_at"))

Interval = tuple[datetime, datetime]

# Absolute slack when a computed value is compared with a limit (see Goal.status).
TOLERANCE = 1e-9


# --- Ticket timers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimerInput:
    """One time target applied to one ticket.

    ``stop`` is the event that ends the clock (first response, or resolution); ``pauses`` are
    ``(start, end)`` pairs with ``end=None`` for a pause still going on.
    """

    start: datetime
    stop: datetime | None
    pauses: Sequence[tuple[datetime, datetime | None]]
    target_seconds: float
    threshold_seconds: float
    warning_percent: float


@dataclass(frozen=True)
class TimerResult:
    state: str
    warning_at: datetime | None
    due_at: datetime | None
    threshold_due_at: datetime | None
    used_seconds: float
    remaining_seconds: float | None
    stopped_at: datetime | None
    # When the timer was decided: its stop if it met the target, else the moment it missed it.
    decided_at: datetime | None
    # The next moment at which the state changes by itself (None: stopped or paused).
    next_due: datetime | None
    # Levels reached so far with the moment each was reached, in order.
    reached: tuple[tuple[str, datetime], ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None


def ticket_timer(calendar: BusinessCalendar, spec: TimerInput, now: datetime) -> TimerResult:
    """The state of one ticket's time target at ``now``.

    Business time runs in ``calendar`` from ``spec.start`` and stands still in every pause. The
    clock stops at ``spec.stop`` (an event at or before a deadline meets it). While a pause is
    still going on, deadlines that would fall after its start are unknown (``None``): nobody
    can say when the clock will run again.

    A level is reached when the clock runs past its moment (``docs/clock.md``, "Meeting and
    breaching a target"): a stopped clock reached it iff the business time up to the stop
    exceeds the level's seconds; an open clock reaches it at the first instant at or after
    the moment at which the clock runs again (the moment itself when the clock is running
    then, the next opening when the moment is a closing time, the end of a pause that starts
    right there). So a ticket due at Friday 17:00 and answered on Saturday or at Monday 09:00
    meets its target, and its alert fires on Monday at 09:00, not on Friday evening.
    ``reached`` and ``decided_at`` hold those instants; ``next_due`` is the next of them.
    """
    stopped = spec.stop is not None and spec.stop <= now
    end = spec.stop if stopped else now
    end = max(end, spec.start)
    known: list[Interval] = []
    open_since: datetime | None = None
    for start, stop in spec.pauses:
        if stop is None:
            if stopped:
                known.append((start, end))
            elif open_since is None or start < open_since:
                open_since = start
        else:
            known.append((start, stop))
    used_pauses = known + ([(open_since, end)] if open_since is not None else [])
    used = calendar.business_seconds(spec.start, end, used_pauses)

    merged_known = merge_intervals(known)
    # A clock that always runs (a 24x7 calendar, no pause) needs no calendar walk: a
    # deadline is the start plus the seconds, and every instant is one at which it runs.
    # Most tickets of a large log are like that; the general path gives the same instants.
    straight = calendar.is_always and not known and open_since is None

    def moment(seconds: float) -> datetime | None:
        if straight and float(seconds).is_integer() and seconds >= 0:
            return spec.start.astimezone(UTC) + timedelta(seconds=seconds)
        instant = calendar.deadline(spec.start, seconds, known)
        if open_since is not None and instant > open_since:
            return None
        return instant

    def runs_past(instant: datetime | None) -> datetime | None:
        """The first instant at or after ``instant`` at which the clock runs (None: unknown,
        because a pause still going on holds it)."""
        if instant is None or straight:
            return instant
        cursor = instant
        while True:
            cursor = calendar.next_business_start(cursor)
            inside = next((b for a, b in merged_known if a <= cursor < b), None)
            if inside is None:
                break
            cursor = inside
        if open_since is not None and cursor >= open_since:
            return None
        return cursor

    warning_seconds = spec.target_seconds * spec.warning_percent / 100
    moments = {
        "warning_at": moment(warning_seconds),
        "due_at": moment(spec.target_seconds),
        "threshold_due_at": moment(spec.threshold_seconds),
    }
    checks = {name: runs_past(instant) for name, instant in moments.items()}

    def reached_by(check: datetime | None) -> bool:
        if check is None:
            return False
        # An event exactly at the deadline meets it; an open clock has missed it at that moment.
        return check < end if stopped else check <= end

    reached = tuple((level, checks[name]) for level, name in LEVELS if reached_by(checks[name]))
    reached_levels = {level for level, _ in reached}
    if BREACHED in reached_levels:
        state = BREACHED
    elif MISSED_TARGET in reached_levels:
        state = MISSED_TARGET
    elif stopped:
        state = MET
    elif open_since is not None:
        state = PAUSED
    elif "warning" in reached_levels:
        state = AT_RISK
    else:
        state = RUNNING

    if MISSED_TARGET in reached_levels:
        decided_at = checks["due_at"]
    elif stopped:
        decided_at = spec.stop
    else:
        decided_at = None
    next_due = None
    if not stopped and open_since is None:
        upcoming = [m for m in checks.values() if m is not None and m > now]
        next_due = min(upcoming) if upcoming else None
    return TimerResult(
        state=state,
        warning_at=moments["warning_at"],
        due_at=moments["due_at"],
        threshold_due_at=moments["threshold_due_at"],
        used_seconds=used,
        remaining_seconds=spec.target_seconds - used,
        stopped_at=spec.stop if stopped else None,
        decided_at=decided_at,
        next_due=next_due,
        reached=reached,
    )


# --- Periods ----------------------------------------------------------------------------------

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_bounds(period: str, instant: datetime, zone: str = "UTC") -> Interval:
    """The measurement period (month, quarter or year in ``zone``) that holds ``instant``,
    as aware UTC datetimes ``[start, end)``."""
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    step = _MONTHS[period]
    first_month = (local.month - 1) // step * step + 1
    start = datetime(local.year, first_month, 1, tzinfo=tz)
    return start.astimezone(UTC), _add_months(start, step).astimezone(UTC)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


def periods_between(period: str, first: datetime, last: datetime, zone: str = "UTC") -> list:
    """Every period from the one holding ``first`` to the one holding ``last``, in order."""
    found = []
    start, end = period_bounds(period, first, zone)
    while start <= last:
        found.append((start, end))
        start, end = period_bounds(period, end, zone)
    return found


# --- Verdicts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A target and a threshold of unacceptable service, in one direction."""

    target: float
    threshold: float
    higher_is_better: bool
    warning_percent: float = 75.0

    def status(self, value: float) -> str:
        # Values are computed in floating point: (counted - down) / counted * 100 for a
        # downtime exactly at the budget can come out as 99.89999999999999 for a 99.9 target.
        # A value within TOLERANCE of a limit is at that limit, so it meets it.
        if self.higher_is_better:
            if value >= self.target - TOLERANCE:
                return MET
            return MISSED_TARGET if value >= self.threshold - TOLERANCE else BREACHED
        if value <= self.target + TOLERANCE:
            return MET
        return MISSED_TARGET if value <= self.threshold + TOLERANCE else BREACHED


@dataclass(frozen=True)
class Verdict:
    """A period's achieved value and status.

    ``final`` says the status can no longer get better within the period (a closed period, or
    a miss that more time cannot undo such as an exhausted downtime budget). A status that is
    not final may still recover, so it warns but does not yet count as a miss.
    """

    value: float | None
    status: str
    final: bool
    details: dict
    # Availability only: the moment the downtime runs past each level's allowance
    # (``warning``, ``missed_target``, ``breached``) if the outages open now go on until the
    # period ends; a level not crossed within the period is absent. Like a ticket timer's
    # deadlines, known in advance: see ``availability_verdict`` and ``monitoring.budget``.
    crossings: dict[str, datetime] = field(default_factory=dict)


def ticket_share_verdict(
    met: int, missed: int, pending: int, pending_at_risk: int, goal: Goal, closed: bool
) -> Verdict:
    """Share of tickets that met their time target, among those decided in the period.

    A ticket is decided when it meets the target (at its response or resolution) or when it
    misses it (at the due time). ``pending`` tickets are still open and able to meet it;
    ``pending_at_risk`` of them have passed their warning point. The period is at risk when
    counting those as misses would take the share below the target.
    """
    decided = met + missed
    details = {
        "met": met,
        "missed": missed,
        "pending": pending,
        "pending_at_risk": pending_at_risk,
    }
    if decided == 0:
        # Tickets still open when a period closes are decided in a later period: a closed
        # period without a decided ticket has no value, whatever was pending.
        status = NO_DATA if closed or not pending else AT_RISK if pending_at_risk else MET
        return Verdict(None, status, closed, details)
    value = met / decided * 100
    status = goal.status(value)
    at_risk_share = met / (decided + pending_at_risk) * 100
    if status == MET and not closed and pending_at_risk and goal.status(at_risk_share) != MET:
        status = AT_RISK
    return Verdict(value, status, closed, details)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals (empty ones dropped)."""
    merged: list[list[datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    found, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            found.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return found


def _subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    found = []
    for start, end in a:
        cursor = start
        for cut_start, cut_end in b:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                found.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
        if cursor < end:
            found.append((cursor, end))
    return found


def _seconds(intervals: Iterable[Interval]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals)


def _cap(intervals: list[Interval], seconds: float) -> list[Interval]:
    """The first ``seconds`` of the intervals, in time order."""
    kept, left = [], seconds
    for start, end in intervals:
        if left <= 0:
            break
        length = (end - start).total_seconds()
        if length <= left:
            kept.append((start, end))
            left -= length
        else:
            kept.append((start, start + timedelta(seconds=left)))
            left = 0
    return kept


def availability_verdict(
    calendar: BusinessCalendar,
    period: Interval,
    now: datetime,
    outages: Iterable[tuple[datetime, datetime | None]],
    excluded_maintenance: Iterable[Interval],
    max_excluded_seconds: float | None,
    goal: Goal,
    unmeasured: Iterable[Interval] = (),
) -> Verdict:
    """Availability of one period, the way ``docs/evaluation.md`` writes the formula::

        service   = business time of the period (the service hours)
        excluded  = announced maintenance inside service hours, at most the allowed minutes
        counted   = service - excluded - unmeasured
        down      = outage time inside counted
        value     = (counted - down) / counted * 100

    ``unmeasured`` is time nobody measured (the silence of a stale source, see
    ``monitoring.silence``): neither up nor down, it leaves the formula altogether. A period
    with nothing measured has no value (``no_data``); ``measured_percent`` in the details
    says how much of the period's service time was measured so far.

    The value is the period's availability if no more downtime happens before it ends, so
    at the end of the period it is simply the period's availability. Downtime only grows,
    so a spent budget is final: ``breached`` as soon as the downtime exceeds what the
    threshold allows. The period is at risk once the downtime has used more than the warning
    share of what the target allows (the error budget).

    ``crossings`` holds the moment each level is crossed, whether past or still to come if
    the open outages go on (see ``_crossings``).
    """
    start, end = period
    upto = min(max(now, start), end)
    outages = list(outages)
    service = merge_intervals(calendar.intervals(start, end))
    maintenance = _intersect(service, merge_intervals(excluded_maintenance))
    if max_excluded_seconds is not None:
        maintenance = _cap(maintenance, max_excluded_seconds)
    counted = _subtract(service, maintenance)
    before_silence = counted
    counted = _subtract(counted, merge_intervals(unmeasured))
    down_spans = merge_intervals(
        (a, min(b, upto) if b is not None else upto) for a, b in outages if a < upto
    )
    down = _seconds(_intersect(counted, down_spans))
    counted_seconds = _seconds(counted)
    elapsed_seconds = _seconds(_intersect(counted, [(start, upto)])) if upto > start else 0.0
    budget = counted_seconds * (100 - goal.target) / 100
    threshold_budget = counted_seconds * (100 - goal.threshold) / 100
    closed = now >= end
    details = {
        "service_seconds": _seconds(service),
        "excluded_seconds": _seconds(maintenance),
        "counted_seconds": counted_seconds,
        "elapsed_seconds": elapsed_seconds,
        "down_seconds": down,
        "budget_seconds": budget,
        "budget_left_seconds": budget - down,
        "threshold_budget_seconds": threshold_budget,
        "so_far": (elapsed_seconds - down) / elapsed_seconds * 100 if elapsed_seconds else None,
    }
    unmeasured_seconds = _seconds(before_silence) - counted_seconds
    if unmeasured_seconds > 0:
        known = _seconds(_intersect(before_silence, [(start, upto)])) if upto > start else 0.0
        details["unmeasured_seconds"] = unmeasured_seconds
        details["measured_percent"] = (
            (known - unmeasured_seconds) / known * 100 if known > 0 else 0.0
        )
    if counted_seconds == 0:
        return Verdict(None, NO_DATA, closed, details)
    value = (counted_seconds - down) / counted_seconds * 100
    status = goal.status(value)
    final = closed or status != MET
    if status == MET and not closed and down > budget * goal.warning_percent / 100:
        status = AT_RISK
    crossings = _crossings(counted, counted_seconds, period, outages, goal) if outages else {}
    return Verdict(value, status, final, details, crossings)


def _crossings(
    counted: list[Interval],
    counted_seconds: float,
    period: Interval,
    outages: list[tuple[datetime, datetime | None]],
    goal: Goal,
) -> dict[str, datetime]:
    """When the downtime runs past each level's allowance, the open outages going on until
    the period ends::

        budget    = counted * (100 - target) / 100
        warning   = budget * warning_percent / 100     (at risk: down > warning)
        missed    = budget + tolerance                 (Goal.status: value < target)
        breached  = counted * (100 - threshold) / 100 + tolerance

    ``tolerance`` is ``Goal.status``'s slack on the percentage, in seconds, so a moment is
    exactly where the verdict changes. The downtime grows only inside the counted time
    (service hours and holidays of the calendar, excluded maintenance and unmeasured time
    left out), so a level whose allowance is used up exactly at a closing time is crossed
    when the downtime grows again, at the next opening."""
    if not goal.higher_is_better:
        return {}
    start, end = period
    spans = merge_intervals(
        (max(a, start), end if b is None else min(b, end)) for a, b in outages if a < end
    )
    runs = _intersect(counted, spans)
    slack = counted_seconds * TOLERANCE / 100
    budget = counted_seconds * (100 - goal.target) / 100
    allowances = {
        "warning": budget * goal.warning_percent / 100,
        MISSED_TARGET: budget + slack,
        BREACHED: counted_seconds * (100 - goal.threshold) / 100 + slack,
    }
    found = {level: _runs_past(runs, allowance) for level, allowance in allowances.items()}
    return {level: moment for level, moment in found.items() if moment is not None}


def _runs_past(runs: list[Interval], allowance: float) -> datetime | None:
    """The first microsecond at which the downtime of ``runs`` exceeds ``allowance``
    seconds: the verdict at that very instant shows the crossing (downtime exactly at an
    allowance still meets it), so the deadline loop never has to look twice."""
    used = 0.0
    for a, b in runs:
        length = (b - a).total_seconds()
        if used + length > allowance:
            left = max(0.0, allowance - used)
            return min(b, a + timedelta(microseconds=math.floor(left * 1_000_000) + 1))
        used += length
    return None


def count_verdict(count: int, goal: Goal, closed: bool) -> Verdict:
    """Events counted in a period (lower is better). Counts only grow, so a miss is final;
    the period is at risk once the count passes the warning share of the target."""
    status = goal.status(count)
    final = closed or status != MET
    if status == MET and not closed and count > goal.target * goal.warning_percent / 100:
        status = AT_RISK
    return Verdict(float(count), status, final, {"count": count})


def recovery_verdict(
    incidents: Iterable[tuple[datetime, datetime | None]], now: datetime, goal: Goal, closed: bool
) -> Verdict:
    """The longest recovery of the period's continuity incidents, in the goal's unit of
    minutes; an incident not yet recovered counts with the time it has taken so far."""
    durations = [((stop or now) - start).total_seconds() / 60 for start, stop in incidents]
    if not durations:
        return Verdict(None, NO_DATA if closed else MET, closed, {"incidents": 0})
    worst = max(durations)
    status = goal.status(worst)
    final = closed or status != MET
    if status == MET and not closed and worst > goal.target * goal.warning_percent / 100:
        status = AT_RISK
    return Verdict(worst, status, final, {"incidents": len(durations), "longest_minutes": worst})


def value_verdict(values: Sequence[float], goal: Goal, closed: bool) -> Verdict:
    """Measured values of a period (for example hourly p95 latency): the period's value is
    their mean. The mean can still move either way, so only a closed period is final; an
    open period is at risk when the latest value misses the target."""
    if not values:
        return Verdict(None, NO_DATA, closed, {"samples": 0})
    mean = sum(values) / len(values)
    status = goal.status(mean)
    latest = values[-1]
    if status == MET and not closed and goal.status(latest) != MET:
        status = AT_RISK
    details = {"samples": len(values), "latest": latest, "worst": _worst(values, goal)}
    return Verdict(mean, status, closed, details)


def _worst(values: Sequence[float], goal: Goal) -> float:
    return min(values) if goal.higher_is_better else max(values)
