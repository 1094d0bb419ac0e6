"""When an availability budget runs out: the crossing moments of a period, known in advance.

While an outage is open its downtime grows with every counted second, so the moments at
which the period's downtime passes the warning share of the budget, the budget itself (the
target is missed) and the threshold's allowance (the threshold is breached) can be computed
now, like a ticket's due time. The deadline loop then alerts at each moment instead of
waiting for the next periodic evaluation, and every alert is stamped with its moment rather
than with the time somebody happened to look.

Pure arithmetic over plain values, no Django (house style point 2). The time that counts is
``monitoring.compliance.counted_time``, the same as ``availability_verdict``'s, so a moment
here is exactly where that verdict changes: service hours and the calendar's holidays,
excluded maintenance and unmeasured silence all stop the downtime from growing, and a
budget that runs out at a closing time is crossed when service resumes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import BusinessCalendar
from .compliance import (
    AT_RISK,
    BREACHED,
    MISSED_TARGET,
    TOLERANCE,
    Goal,
    Interval,
    counted_time,
    intersect_intervals,
    merge_intervals,
)

__all__ = ["WARNING", "Crossings", "availability_crossings", "next_crossing"]

WARNING = "warning"
# The alert level of each crossing, in the order an outage reaches them.
LEVELS = (WARNING, MISSED_TARGET, BREACHED)
# How far a period status has gone, in the levels above.
_STATUS_RANK = {AT_RISK: 1, MISSED_TARGET: 2, BREACHED: 3}
# A crossing that has come but that the verdict does not show yet (the value is within
# the verdict's floating-point tolerance of the limit) is looked at again this much later.
RETRY = timedelta(seconds=1)


@dataclass(frozen=True)
class Crossings:
    """The moment the period's downtime runs past each level's allowance, if the outages
    open now go on until the period ends (``None``: not within the period)."""

    warning: datetime | None = None
    missed_target: datetime | None = None
    breached: datetime | None = None

    def moment(self, level: str) -> datetime | None:
        """The crossing moment of an alert level (``warning``, ``missed_target``, ``breached``)."""
        return {WARNING: self.warning, MISSED_TARGET: self.missed_target, BREACHED: self.breached}[
            level
        ]

    def as_dict(self) -> dict[str, datetime | None]:
        return {level: self.moment(level) for level in LEVELS}


def availability_crossings(
    calendar: BusinessCalendar,
    period: Interval,
    outages: Iterable[tuple[datetime, datetime | None]],
    excluded_maintenance: Iterable[Interval],
    max_excluded_seconds: float | None,
    goal: Goal,
    unmeasured: Iterable[Interval] = (),
) -> Crossings:
    """The crossing moments of one period, over the inputs of ``availability_verdict``.

    An outage with no end (``None``) is taken to go on until the period ends; an ended one
    counts as it is. The downtime is the outages' time inside the counted time; a level is
    crossed at the first instant at which the downtime runs past its allowance:

        budget    = counted * (100 - target) / 100
        warning   = budget * warning_percent / 100       (at risk: down > warning)
        missed    = budget + tolerance                   (Goal.status: value < target)
        breached  = counted * (100 - threshold) / 100 + tolerance

    where ``tolerance`` is ``Goal.status``'s slack on the percentage, in seconds. A level
    whose allowance is used exactly at a closing time is crossed when the downtime grows
    again, at the next counted instant of an outage (the next opening). Moments may lie in
    the past (the level was reached before anybody evaluated): callers stamp alerts with
    them and keep the future ones as deadlines.
    """
    if not goal.higher_is_better:
        return Crossings()
    start, end = period
    counted = counted_time(
        calendar, period, excluded_maintenance, max_excluded_seconds, unmeasured
    ).counted
    counted_seconds = sum((b - a).total_seconds() for a, b in counted)
    if counted_seconds <= 0:
        return Crossings()
    spans = merge_intervals(
        (max(a, start), min(b, end) if b is not None else end) for a, b in outages if a < end
    )
    runs = intersect_intervals(counted, spans)
    slack = counted_seconds * TOLERANCE / 100
    budget = counted_seconds * (100 - goal.target) / 100
    allowances = {
        WARNING: budget * goal.warning_percent / 100,
        MISSED_TARGET: budget + slack,
        BREACHED: counted_seconds * (100 - goal.threshold) / 100 + slack,
    }
    return Crossings(**{level: _runs_past(runs, allowances[level]) for level in LEVELS})


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


def next_crossing(crossings: Crossings, status: str, now: datetime) -> datetime | None:
    """The period's next deadline: the earliest crossing of a level above what ``status``
    already shows. A moment that has come although the status does not show it yet (the
    value sits within the tolerance of the limit) is retried shortly, never dropped."""
    reached = _STATUS_RANK.get(status, 0)
    pending = [
        moment
        for rank, level in enumerate(LEVELS, start=1)
        if rank > reached and (moment := crossings.moment(level)) is not None
    ]
    if not pending:
        return None
    return min(pending) if min(pending) > now else now + RETRY
