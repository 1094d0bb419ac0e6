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
figures as a budget). ``ran_out_at`` is the moment it happened, kept as it was first found
(``carried``) while its cause stands: the consumption that ran it out (stored in ``basis``)
is still there and the goal is unchanged. Where the cause is retracted (an outage rebuilt
from late "up" checks, a timer deleted, a relaxed target) the moment goes, or becomes the
one the current figures give; a closed period that met the level never says it ran out.

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
    "past_index",
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

    @property
    def within(self) -> bool:
        """Within the target's allowance, with the verdict's slack (``Goal.status``)."""
        return self.remaining >= -self._slack()

    @property
    def within_threshold(self) -> bool:
        """Within the threshold's allowance, with the same slack."""
        return self.remaining_threshold >= -self._slack()

    def _slack(self) -> float:
        # The verdicts compare percentages with TOLERANCE; in the budget's unit that is
        # TOLERANCE percent of what the allowance is a share of (at least TOLERANCE itself).
        base = self.basis.get("counted_seconds") or self.basis.get("expected") or 1.0
        return max(abs(float(base)) * TOLERANCE / 100, TOLERANCE)

    @property
    def left(self) -> float:
        """``remaining`` as shown: within the verdict's slack of zero it is zero."""
        return _snap(self.remaining, self.within)

    @property
    def left_threshold(self) -> float:
        """``remaining_threshold`` as shown, likewise."""
        return _snap(self.remaining_threshold, self.within_threshold)

    @property
    def samples_left(self) -> int | None:
        """For a performance budget: how many more samples exactly at the threshold still
        fit before the target is missed, ``floor(remaining / |threshold - target|)`` (each
        spends that much excess). ``None`` for other kinds or where the two levels are one."""
        step = self.basis.get("excess_per_threshold_sample")
        if self.kind != EXCESS or not step:
            return None
        return max(math.floor(max(self.remaining, 0.0) / float(step) + TOLERANCE), 0)

    def as_dict(self) -> dict:
        """JSON for ``PeriodResult.details["budget"]`` (moments as ISO 8601; a remainder
        within the verdict's slack of zero is stored as zero, not as "overspent by 0 s")."""
        return {
            "kind": self.kind,
            "unit": self.unit,
            "allowed": self.allowed,
            "allowed_threshold": self.allowed_threshold,
            "consumed": self.consumed,
            "remaining": self.left,
            "remaining_threshold": self.left_threshold,
            "ran_out_at": _iso(self.ran_out_at),
            "threshold_ran_out_at": _iso(self.threshold_ran_out_at),
            "samples_left": self.samples_left,
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


def _snap(amount: float, within: bool) -> float:
    return 0.0 if within and amount < 0 else amount


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


# Where ``basis`` keeps what was consumed when each moment was found, and the goal.
AT = {"ran_out_at": "ran_out_consumed", "threshold_ran_out_at": "threshold_ran_out_consumed"}


def carried(
    budget: Budget,
    previous: Mapping | None,
    closed: bool = False,
    goal: tuple[float, float] | None = None,
) -> Budget:
    """``budget`` with the run-out moments an earlier evaluation of the same period found.

    A moment found before is kept as it is (not moved to an earlier or later one) while its
    cause stands: the goal (``(target, threshold)``) is the same and at least as much is
    consumed as when it was found. Otherwise it is dropped, and the moment the current
    figures give (if any) is taken. A closed period within its allowance has no moment: it
    met the level, whatever it looked like while open. ``basis`` records the consumption at
    each moment and the goal, for the next evaluation to judge."""
    before = Budget.from_dict(previous) if previous else None
    same_goal = (
        before is not None and goal is not None and before.basis.get("goal") == [goal[0], goal[1]]
    )
    basis = dict(budget.basis)
    if goal is not None:
        basis["goal"] = [goal[0], goal[1]]
    moments = {}
    for name, consumed_key in AT.items():
        fresh = getattr(budget, name)
        inside = budget.within if name == "ran_out_at" else budget.within_threshold
        old = getattr(before, name) if before is not None else None
        old_consumed = before.basis.get(consumed_key) if before is not None else None
        stands = (
            same_goal
            and old is not None
            and old_consumed is not None
            and budget.consumed >= float(old_consumed) - budget._slack()
        )
        moment, at = (old, old_consumed) if stands else (fresh, budget.consumed)
        if inside and (closed or not stands):
            moment = None
        moments[name] = moment
        if moment is None:
            basis.pop(consumed_key, None)
        else:
            basis[consumed_key] = at
    return replace(budget, basis=basis, **moments)


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


# Below this share of the period's service time, the flow so far says too little to
# extrapolate (5 minutes into a month, 2 decided tickets would "forecast" thousands).
MIN_SHARE = 0.1


def expected_tickets(
    decided: int, pending: int, service_share: float, earlier_mean: float | None, closed: bool
) -> float:
    """How many tickets the period will decide: the larger of what it has so far and, where
    earlier periods exist, their mean. "So far" extrapolates only the flow (the tickets
    decided in the period) over its service time and adds the pending ones as they are (a
    backlog, partly from last month, does not recur); until ``MIN_SHARE`` of the service
    time has passed the flow is not extrapolated at all. A closed period decided what it
    decided, so there it is exactly that."""
    if closed:
        return float(decided)
    flow = float(decided)
    if MIN_SHARE <= service_share < 1:
        flow /= service_share
    return max(flow + pending, float(decided + pending), earlier_mean or 0.0)


def ticket_budget(
    met: int,
    missed: int,
    expected: float,
    goal: Goal,
    moment_of_miss: MomentOf,
) -> Budget | None:
    """Tickets that may still miss: ``expected x (100 - compliance target) / 100`` of them,
    less those that already missed. It runs out with the miss that takes the count above
    the allowance (``moment_of_miss(k)``: when the k-th miss of the period was decided).
    ``None`` where no ticket is expected: nothing to budget."""
    if expected <= 0:
        return None
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
        basis={
            "expected": expected,
            "met": met,
            "missed": missed,
            **_indices(allowed, allowed_threshold, missed),
        },
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
        basis=_indices(goal.target, goal.threshold, count),
    )


def past_index(allowance: float, count: int) -> int | None:
    """Which event (1-based) took ``count`` above ``allowance``, ``None`` if none did yet."""
    nth = math.floor(allowance + TOLERANCE) + 1
    return nth if 0 < nth <= count else None


def _nth_past(allowance: float, count: int, moment_of: MomentOf) -> datetime | None:
    """The moment of the event that takes ``count`` above ``allowance``, if it happened."""
    nth = past_index(allowance, count)
    return moment_of(nth) if nth is not None else None


def _indices(allowed: float, allowed_threshold: float, count: int) -> dict:
    """The event numbers the moments are of, kept in ``basis`` so the next evaluation
    need not look up a moment it already knows."""
    return {
        "ran_out_n": past_index(allowed, count),
        "threshold_ran_out_n": past_index(allowed_threshold, count),
    }


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
            "excess_per_threshold_sample": abs(goal.threshold - goal.target),
        },
    )
