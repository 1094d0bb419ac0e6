"""Burn rates of an error budget over sliding windows, and the moments a rule fires or recovers.

The SRE workbook's multi-window, multi-burn-rate alerts (docs/burn-rates.md): a rule fires when
the budget is being spent ``factor`` times faster than a spend that would use exactly the
period's budget by its end, over a long window *and* a short one (the long one proves the burn
is significant, the short one that it is still going on). A rate of 1 spends the budget in
exactly the period; 14.4 over 1/720 of the period spends 2 % of it.

Windows are measured in the target's *counted* time (service hours of its calendar, minus
excluded maintenance and unmeasured time), so "the last hour" of an office-hours target at
09:30 on a Monday reaches back into Friday afternoon. They are clipped to the period's start:
each period has a budget of its own and what happened before it spent none of it, so a
window's denominator is always its full length (time before the period counts as no burn).

Pure, no Django (house style point 2): the engine (``monitoring.evaluation.burn_rates``)
reads outages and event counts from PostgreSQL and stores what this returns.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agreements.burn_rules import (
    DEFAULT_RULES,
    PAGE,
    REFERENCE_SECONDS,
    WARN,
    BurnRule,
    parse_rules,
)
from monitoring.compliance.intervals import (
    cap,
    intersect,
    merge_intervals,
    subtract,
    total_seconds,
)
from monitoring.compliance.states import Interval

__all__ = [
    "DEFAULT_RULES",
    "PAGE",
    "REFERENCE_SECONDS",
    "WARN",
    "BurnReport",
    "BurnRule",
    "RuleState",
    "availability_burn",
    "count_burn",
    "counted_time",
    "expected_tickets",
    "parse_rules",
    "rules_for_period",
    "spend_key",
    "spends",
    "window_start",
]

# Firing and recovery moments are found to this precision.
PRECISION = timedelta(milliseconds=1)


def rules_for_period(rules: Sequence[BurnRule], period_seconds: float) -> list[BurnRule]:
    """The rules with their windows in this period's counted seconds: scaled ones keep the
    share of the period they have in 30 days (1 h is 1/720 of the period: 3 h of a
    round-the-clock quarter, about 15 min of an office-hours month), so a factor spends the
    same share of the budget in a long window whatever the period and service hours."""
    found = []
    for rule in rules:
        if rule.scaled:
            share = period_seconds / REFERENCE_SECONDS
            rule = BurnRule(
                rule.name,
                rule.severity,
                rule.long_seconds * share,
                rule.short_seconds * share,
                rule.factor,
                min_events=rule.min_events,
            )
        found.append(rule)
    return found


def counted_time(
    service: Iterable[Interval],
    excluded_maintenance: Iterable[Interval],
    max_excluded_seconds: float | None,
    unmeasured: Iterable[Interval],
) -> list[Interval]:
    """The period's counted time, as ``availability_verdict`` counts it: service hours,
    minus announced maintenance (at most the allowed seconds), minus unmeasured time."""
    service = merge_intervals(service)
    maintenance = intersect(service, merge_intervals(excluded_maintenance))
    if max_excluded_seconds is not None:
        maintenance = cap(maintenance, max_excluded_seconds)
    return subtract(subtract(service, maintenance), merge_intervals(unmeasured))


def spends(details: dict, open_outage: bool = False) -> bool:
    """Whether a period's verdict shows any spend of its budget (downtime, a missed
    ticket, an error) or an open outage that will spend it: only then can a burn rule
    fire, so only then is it computed. An outage that opens outside service hours (or
    this very second) has spent nothing yet, but the moment it fires is known now."""
    return open_outage or bool(
        details.get("down_seconds") or details.get("missed") or details.get("count")
    )


def spend_key(details: dict, open_outage: bool = False) -> list:
    """What a period's verdict says was spent (downtime, decided and pending tickets,
    errors) and whether an outage is open: a burn computation records it, and an
    evaluation whose figures still match need not ask for another (the stored next moment
    stands)."""
    keys = ("down_seconds", "missed", "pending", "count")
    return [*(details.get(key) for key in keys), open_outage]


def window_start(counted: Sequence[Interval], now: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of counted time before ``now`` (the period's first counted
    moment when it holds less)."""
    left = seconds
    for a, b in reversed(counted):
        if a >= now:
            continue
        b = min(b, now)
        length = (b - a).total_seconds()
        if length >= left:
            return b - timedelta(seconds=left)
        left -= length
    return counted[0][0] if counted else now


@dataclass(frozen=True)
class RuleState:
    """One rule's rates at a moment, and whether it fires."""

    rule: BurnRule
    long_rate: float
    short_rate: float
    # Events in the long window, for a budget of events (``None``: downtime).
    events: int | None = None

    @property
    def firing(self) -> bool:
        if self.events is not None and self.events < self.rule.min_events:
            return False
        return self.long_rate > self.rule.factor and self.short_rate > self.rule.factor

    def as_dict(self) -> dict:
        found = {
            **self.rule.as_dict(),
            "long_rate": _finite(self.long_rate),
            "short_rate": _finite(self.short_rate),
            "firing": self.firing,
        }
        if self.events is not None:
            found["events"] = self.events
        return found


@dataclass(frozen=True)
class BurnReport:
    """The rules' states now, and for each rule the next moment it changes by time alone
    (fires while an outage goes on, or recovers as old spend slides out of its windows)."""

    states: list[RuleState]
    moments: dict[str, datetime] = field(default_factory=dict)
    # Rules that fired at a moment after the last computation (spend that came in late, or
    # a loop that was down), with that first moment; and, for those no longer firing now,
    # the moment they recovered.
    fired: dict[str, datetime] = field(default_factory=dict)
    recovered: dict[str, datetime] = field(default_factory=dict)

    @property
    def next_moment(self) -> datetime | None:
        return min(self.moments.values(), default=None)


def _rate(spent: float, allowance_per_second: float, seconds: float) -> float:
    allowed = allowance_per_second * seconds
    if allowed <= 0:
        return math.inf if spent > 0 else 0.0
    return spent / allowed


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _first_true(test: Callable[[datetime], bool], low: datetime, high: datetime) -> datetime | None:
    """The first moment in ``(low, high]`` at which a monotone ``test`` holds (to
    ``PRECISION``, rounded up so the moment itself shows it), or ``None``."""
    if not test(high):
        return None
    while high - low > PRECISION:
        middle = low + (high - low) / 2
        if test(middle):
            high = middle
        else:
            low = middle
    return high


# Candidate moments checked for a late firing in one computation at most (the earliest).
LATE_CANDIDATES = 1000


def _late(
    rules: Sequence[BurnRule],
    firing: Callable[[BurnRule, datetime], bool],
    segments: Sequence[Interval],
    now: datetime,
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """The first moment each rule fired inside ``segments`` (each one a stretch in which
    spend only grows, so firing is monotone in it: a downtime span, the instant of an
    event), and when a rule that fired then no longer fires ``now``, its recovery."""
    fired, recovered = {}, {}
    for rule in rules:
        for low, high in segments[:LATE_CANDIDATES]:
            moment = _first_true(lambda at, r=rule: firing(r, at), low, high)
            if moment is not None:
                fired[rule.name] = moment
                break
        if rule.name in fired and not firing(rule, now):
            back = _first_true(lambda at, r=rule: not firing(r, at), fired[rule.name], now)
            recovered[rule.name] = back or now
    return fired, recovered


def availability_burn(
    counted: Sequence[Interval],
    outages: Iterable[tuple[datetime, datetime | None]],
    now: datetime,
    target: float,
    rules: Sequence[BurnRule],
    since: datetime | None = None,
) -> BurnReport:
    """Burn rates of an availability target::

        rate = downtime in the window's counted time / (window x (100 - target) / 100)

    ``counted`` is the period's counted time (sorted, disjoint), ``outages`` the period's
    outages (an open one has no end). While an outage is open the downtime in every window
    only grows, so each rule's firing moment is found by bisection up to the period's end;
    once none is open the rates only fall, and a firing rule's recovery moment is found
    the same way. Downtime after ``since`` (the last computation) that was learnt late is
    searched for the moments rules fired then (``BurnReport.fired``)."""
    counted = list(counted)
    if not counted:
        return BurnReport([])
    period_end = counted[-1][1]
    outages = list(outages)
    is_open = any(b is None for _, b in outages)
    spans = merge_intervals((a, period_end if b is None else b) for a, b in outages)
    down = intersect(counted, spans)
    fraction = (100 - target) / 100

    def rates(rule: BurnRule, at: datetime) -> tuple[float, float]:
        found = []
        for seconds in (rule.long_seconds, rule.short_seconds):
            start = window_start(counted, at, seconds)
            spent = total_seconds(intersect(down, [(start, at)])) if at > start else 0.0
            found.append(_rate(spent, fraction, seconds))
        return found[0], found[1]

    def firing(rule: BurnRule, at: datetime) -> bool:
        return RuleState(rule, *rates(rule, at)).firing

    states, moments = [], {}
    horizon = max(now, period_end)
    for rule in rules:
        state = RuleState(rule, *rates(rule, now))
        states.append(state)
        if state.firing and not is_open:
            moment = _first_true(lambda at, r=rule: not firing(r, at), now, horizon)
        elif not state.firing and is_open:
            moment = _first_true(lambda at, r=rule: firing(r, at), now, horizon)
        else:
            moment = None
        if moment is not None and moment < period_end:
            moments[rule.name] = moment
    fired, recovered = {}, {}
    if since is not None and since < now:
        segments = intersect(down, [(since, now)])
        fired, recovered = _late(rules, firing, segments, now)
    return BurnReport(states, moments, fired, recovered)


def count_burn(
    counted: Sequence[Interval],
    events: Sequence[datetime],
    now: datetime,
    budget: float,
    rules: Sequence[BurnRule],
    since: datetime | None = None,
    weights: Sequence[int] | None = None,
) -> BurnReport:
    """Burn rates of a budget of events (tickets that may miss, errors that may occur)::

        period = the period's counted seconds
        rate   = events in the window / (budget x window / period)

    and a rule fires only once its long window holds ``min_events`` events (one missed
    ticket against a small budget burns far past any factor, yet is not a burn).

    ``events`` are the moments of the spending events of the period so far (sorted; only
    those inside the longest window matter). A window of counted time reaches back to its
    start in wall time and counts every event since, in or out of service hours (the
    period's verdict counts them all too). New events come with new data, which re-runs
    this; by time alone the rates only fall, so the moment given is a firing rule's
    recovery. Events after ``since`` (the last computation) arrive late (checks come in
    batches, the loop may have been down): each is a moment a rule may have fired at, and
    the first one where it did is ``BurnReport.fired``. ``weights`` (one per event) stand
    for several events at one moment (a per-minute rollup of older ones). Counting a window
    is a binary search in the sorted events and a difference of running sums, not a scan."""
    counted = list(counted)
    if not counted:
        return BurnReport([])
    period_seconds = total_seconds(counted)
    per_second = budget / period_seconds if period_seconds > 0 else 0.0
    counts = weights if weights is not None else [1] * len(events)
    pairs = sorted(zip(events, counts, strict=True))
    events = [moment for moment, _ in pairs]
    running = [0]
    for _, weight in pairs:
        running.append(running[-1] + weight)
    period_end = counted[-1][1]

    def held(at: datetime, seconds: float) -> int:
        start = window_start(counted, at, seconds)
        return running[bisect_right(events, at)] - running[bisect_left(events, start)]

    def rates(rule: BurnRule, at: datetime) -> tuple[float, float, int]:
        long, short = held(at, rule.long_seconds), held(at, rule.short_seconds)
        return (
            _rate(long, per_second, rule.long_seconds),
            _rate(short, per_second, rule.short_seconds),
            long,
        )

    states, moments = [], {}
    for rule in rules:
        state = RuleState(rule, *rates(rule, now))
        states.append(state)
        if state.firing:
            moment = _first_true(
                lambda at, r=rule: not RuleState(r, *rates(r, at)).firing,
                now,
                max(now, period_end),
            )
            if moment is not None and moment < period_end:
                moments[rule.name] = moment
    fired, recovered = {}, {}
    if since is not None and since < now:
        late = events[bisect_right(events, since) : bisect_right(events, now)]
        segments = [(moment - PRECISION, moment) for moment in late]
        fired, recovered = _late(
            rules, lambda r, at: RuleState(r, *rates(r, at)).firing, segments, now
        )
    return BurnReport(states, moments, fired, recovered)


# Share of the period's service time before the decided flow is extrapolated at all
# (as the error budgets count it, ``monitoring.compliance.budgets``).
MIN_SHARE = 0.1


def expected_tickets(
    decided: int,
    pending: int,
    elapsed_seconds: float,
    period_seconds: float,
    earlier_decided: Sequence[int] = (),
) -> float:
    """The tickets a period is expected to decide, as its error budget counts them: the
    larger of what it has so far and the mean decided count of earlier periods (when there
    are any). "So far" extrapolates only the flow (tickets decided in the period) over its
    service time and adds the pending ones as they are: a backlog, partly last period's,
    does not recur. Until ``MIN_SHARE`` of the service time has passed the flow is not
    extrapolated at all (a day's two tickets are no forecast of a month), so early in a
    period the history sets the budget. At least 1, so one miss is never a division by
    zero."""
    share = elapsed_seconds / period_seconds if period_seconds > 0 else 0.0
    flow = float(decided)
    if MIN_SHARE <= share < 1:
        flow /= share
    history = sum(earlier_decided) / len(earlier_decided) if earlier_decided else 0.0
    return max(flow + pending, float(decided + pending), history, 1.0)
