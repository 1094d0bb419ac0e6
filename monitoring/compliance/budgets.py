"""Error budgets: what may still go wrong in a period before the target, and before the
threshold, in the target's own unit.

Every ratio target has one (``docs/budgets.md`` has the definitions with worked examples):

=============  =========  ==============================================================
kind           unit       allowed (to the target; the threshold likewise)
=============  =========  ==============================================================
downtime       seconds    counted service seconds x (100 - target) / 100
tickets        tickets    expected tickets decided in the period x (100 - target) / 100
errors         errors     the target count
excess         the value  headroom the good samples bank against the target (see below)
=============  =========  ==============================================================

``consumed`` is what already went wrong (downtime, missed tickets, errors, excess of the
slow samples); ``remaining = allowed - consumed`` and the budget has run out once it is
below zero, exactly where the period's verdict stops meeting the level (the verdict
functions of ``monitoring.compliance.verdicts`` decide, this module only restates their
figures as a budget). ``ran_out_at`` is the moment it happened, kept once reached
(``carried``): a budget that ran out on 14 March says so for the rest of the period and
after it is closed, even where later data could make it look regained.

Pure, no Django (house style point 2): the evaluation engine feeds it plain values and
stores ``Budget.as_dict()`` in the period result's details under ``"budget"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET, TOLERANCE
from monitoring.compliance.verdicts import Goal

__all__ = [
    "DOWNTIME",
    "ERRORS",
    "EXCESS",
    "TICKETS",
    "Budget",
    "availability_budget",
    "carried",
    "count_budget",
    "expected_tickets",
    "ticket_budget",
    "value_budget",
]

DOWNTIME = "downtime"
TICKETS = "tickets"
ERRORS = "errors"
EXCESS = "excess"

# The n-th event (1-based) that happened in the period, for the moment a count ran out.
MomentOf = Callable[[int], "datetime | None"]


@dataclass(frozen=True)
class Budget:
    """One period's error budget, to the target and to the threshold, in ``unit``."""

    kind: str
    unit: str
    allowed: float
    allowed_threshold: float
    consumed: float
    ran_out_at: datetime | None = None
    threshold_ran_out_at: datetime | None = None
    # How the allowance was found (expected tickets, samples, ...): shown, not recomputed.
    basis: dict = field(default_factory=dict)

    @property
    def remaining(self) -> float:
        """What may still go wrong before the target is missed (negative: overspent)."""
        return self.allowed - self.consumed

    @property
    def remaining_threshold(self) -> float:
        """What may still go wrong before the threshold is breached."""
        return self.allowed_threshold - self.consumed

    @property
    def used_percent(self) -> float | None:
        """Consumed as a share of the target's allowance (``None``: nothing was allowed)."""
        if self.allowed <= 0:
            return None if self.consumed <= 0 else math.inf
        return self.consumed / self.allowed * 100

    def as_dict(self) -> dict:
        """JSON for ``PeriodResult.details["budget"]`` (moments as ISO 8601)."""
        return {
            "kind": self.kind,
            "unit": self.unit,
            "allowed": self.allowed,
            "allowed_threshold": self.allowed_threshold,
            "consumed": self.consumed,
            "remaining": self.remaining,
            "remaining_threshold": self.remaining_threshold,
            "ran_out_at": _iso(self.ran_out_at),
            "threshold_ran_out_at": _iso(self.threshold_ran_out_at),
            "basis": dict(self.basis),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Budget | None:
        """The budget a details dict holds, ``None`` when it holds none or a broken one."""
        try:
            return cls(
                kind=str(data["kind"]),
                unit=str(data["unit"]),
                allowed=float(data["allowed"]),
                allowed_threshold=float(data["allowed_threshold"]),
                consumed=float(data["consumed"]),
                ran_out_at=_moment(data.get("ran_out_at")),
                threshold_ran_out_at=_moment(data.get("threshold_ran_out_at")),
                basis=dict(data.get("basis") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def carried(budget: Budget, previous: Mapping | None) -> Budget:
    """``budget`` with the run-out moments an earlier evaluation of the same period found:
    once a budget ran out it stays run out at that moment (the earlier of the two)."""
    before = Budget.from_dict(previous) if previous else None
    if before is None:
        return budget
    return replace(
        budget,
        ran_out_at=_earliest(budget.ran_out_at, before.ran_out_at),
        threshold_ran_out_at=_earliest(budget.threshold_ran_out_at, before.threshold_ran_out_at),
    )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def availability_budget(
    details: Mapping, crossings: Mapping[str, datetime], now: datetime
) -> Budget | None:
    """Seconds of downtime in the counted service time (``availability_verdict``'s
    ``budget_seconds``). It ran out at the verdict's ``missed_target`` crossing, and to the
    threshold at its ``breached`` crossing, once those moments have come."""
    if "budget_seconds" not in details:
        return None
    return Budget(
        kind=DOWNTIME,
        unit="seconds",
        allowed=float(details["budget_seconds"]),
        allowed_threshold=float(details["threshold_budget_seconds"]),
        consumed=float(details["down_seconds"]),
        ran_out_at=_come(crossings.get(MISSED_TARGET), now),
        threshold_ran_out_at=_come(crossings.get(BREACHED), now),
        basis={"counted_seconds": float(details["counted_seconds"])},
    )


def _come(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment <= now else None


def expected_tickets(
    decided: int, pending: int, service_share: float, earlier_mean: float | None, closed: bool
) -> float:
    """How many tickets the period will decide: the larger of what it has so far
    (decided and pending) extrapolated over its service time, and the mean of earlier
    periods. A closed period decided what it decided, so there it is exactly that."""
    if closed:
        return float(decided)
    so_far = float(decided + pending)
    if 0 < service_share < 1:
        so_far /= service_share
    return max(so_far, earlier_mean or 0.0)


def ticket_budget(
    met: int,
    missed: int,
    expected: float,
    goal: Goal,
    moment_of_miss: MomentOf,
) -> Budget:
    """Tickets that may still miss: ``expected x (100 - compliance target) / 100`` of them,
    less those that already missed. It runs out with the miss that takes the count above
    the allowance (``moment_of_miss(k)``: when the k-th miss of the period was decided)."""
    allowed = expected * (100 - goal.target) / 100
    allowed_threshold = expected * (100 - goal.threshold) / 100
    return Budget(
        kind=TICKETS,
        unit="tickets",
        allowed=allowed,
        allowed_threshold=allowed_threshold,
        consumed=float(missed),
        ran_out_at=_nth_past(allowed, missed, moment_of_miss),
        threshold_ran_out_at=_nth_past(allowed_threshold, missed, moment_of_miss),
        basis={"expected": expected, "met": met, "missed": missed},
    )


def count_budget(count: int, goal: Goal, moment_of_event: MomentOf) -> Budget:
    """Errors that may still happen: the target count (and the threshold count) less the
    errors so far. It runs out with the first error past the target (``count_verdict``:
    a count equal to the target still meets it)."""
    return Budget(
        kind=ERRORS,
        unit="errors",
        allowed=goal.target,
        allowed_threshold=goal.threshold,
        consumed=float(count),
        ran_out_at=_nth_past(goal.target, count, moment_of_event),
        threshold_ran_out_at=_nth_past(goal.threshold, count, moment_of_event),
    )


def _nth_past(allowance: float, count: int, moment_of: MomentOf) -> datetime | None:
    """The moment of the event that takes ``count`` above ``allowance``, if it happened."""
    nth = math.floor(allowance + TOLERANCE) + 1
    return moment_of(nth) if 0 < nth <= count else None


def value_budget(samples: Sequence[tuple[datetime, float]], goal: Goal, unit: str) -> Budget | None:
    """Measured values (``value_verdict``: the period's value is their mean). A sample
    worse than the target spends its excess over it; a better one banks its headroom, so

        allowed   = sum of (target - v) over the samples better than the target
        consumed  = sum of (v - target) over the samples worse than it (the slow ones)
        remaining = allowed - consumed = n x (target - mean)

    (signs turned for a higher-is-better value), which is below zero exactly when the mean
    misses the target. To the threshold, ``remaining = n x (threshold - mean)``. It ran out
    at the first sample after which the running mean missed the target (or breached the
    threshold), as ``Goal.status`` judges it."""
    if not samples:
        return None
    sign = -1.0 if goal.higher_is_better else 1.0
    excess = [sign * (value - goal.target) for _, value in samples]
    consumed = sum(e for e in excess if e > 0)
    banked = sum(-e for e in excess if e < 0)
    n = len(samples)
    total = sum(value for _, value in samples)
    margin = sign * (goal.threshold - goal.target) * n
    ran_out_at = threshold_ran_out_at = None
    running = 0.0
    for index, (moment, value) in enumerate(samples, start=1):
        running += value
        status = goal.status(running / index)
        if status != MET and ran_out_at is None:
            ran_out_at = moment
        if status == BREACHED and threshold_ran_out_at is None:
            threshold_ran_out_at = moment
    return Budget(
        kind=EXCESS,
        unit=unit,
        allowed=banked,
        allowed_threshold=banked + margin,
        consumed=consumed,
        ran_out_at=ran_out_at,
        threshold_ran_out_at=threshold_ran_out_at,
        basis={
            "samples": n,
            "slow_samples": sum(1 for e in excess if e > 0),
            "mean": total / n,
        },
    )
