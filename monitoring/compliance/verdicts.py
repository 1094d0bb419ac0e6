"""A period's verdict: its value against the target and the threshold, and when it crosses them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agreements.clock import BusinessCalendar
from monitoring.compliance.intervals import cap, intersect, merge_intervals, subtract, total_seconds
from monitoring.compliance.states import (
    AT_RISK,
    BREACHED,
    MET,
    MISSED_TARGET,
    NO_DATA,
    TOLERANCE,
    Interval,
)


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
    maintenance = intersect(service, merge_intervals(excluded_maintenance))
    if max_excluded_seconds is not None:
        maintenance = cap(maintenance, max_excluded_seconds)
    counted = subtract(service, maintenance)
    before_silence = counted
    counted = subtract(counted, merge_intervals(unmeasured))
    down_spans = merge_intervals(
        (a, min(b, upto) if b is not None else upto) for a, b in outages if a < upto
    )
    down = total_seconds(intersect(counted, down_spans))
    counted_seconds = total_seconds(counted)
    elapsed_seconds = total_seconds(intersect(counted, [(start, upto)])) if upto > start else 0.0
    budget = counted_seconds * (100 - goal.target) / 100
    threshold_budget = counted_seconds * (100 - goal.threshold) / 100
    closed = now >= end
    details = {
        "service_seconds": total_seconds(service),
        "excluded_seconds": total_seconds(maintenance),
        "counted_seconds": counted_seconds,
        "elapsed_seconds": elapsed_seconds,
        "down_seconds": down,
        "budget_seconds": budget,
        "budget_left_seconds": budget - down,
        "threshold_budget_seconds": threshold_budget,
        "so_far": (elapsed_seconds - down) / elapsed_seconds * 100 if elapsed_seconds else None,
    }
    unmeasured_seconds = total_seconds(before_silence) - counted_seconds
    if unmeasured_seconds > 0:
        known = total_seconds(intersect(before_silence, [(start, upto)])) if upto > start else 0.0
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
    runs = intersect(counted, spans)
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
            micro = math.floor(left * 1_000_000) + 1
            # Floating point can land a whole microsecond short (allowance - used x 10^6 is
            # 8,589,799,999.99... for 8,589.8 s): the moment is past the allowance, not on it,
            # counted the way the verdict adds the downtime up.
            while used + micro / 1_000_000 <= allowance:
                micro += 1
            return min(b, a + timedelta(microseconds=micro))
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
