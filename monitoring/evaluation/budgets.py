"""The error budget of each evaluated period, fed from the rows the verdict was computed from.

The arithmetic is ``monitoring.compliance.budgets``; this module reads the few extra facts it
needs (the moment of the miss or error that ran a budget out, the earlier periods' ticket
volume, the service time elapsed) and attaches the budget to the verdict's details, where
``monitoring.evaluation.periods`` stores it with the ``PeriodResult``. ``keep_ran_out``
carries a moment an earlier evaluation found, so a budget that ran out stays run out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import QuerySet

from agreements.models import Agreement
from agreements.terms import MeasuredTarget
from monitoring.compliance.budgets import (
    Budget,
    availability_budget,
    carried,
    count_budget,
    expected_tickets,
    past_index,
    ticket_budget,
    value_budget,
)
from monitoring.compliance.intervals import intersect, total_seconds
from monitoring.compliance.states import NO_DATA
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.models import ErrorEvent, PeriodResult, TicketTimer

# The ticket volume a period is expected to reach looks back at most this many closed periods.
EARLIER_PERIODS = 12
# Two moments this close (in events) come from one slice; farther apart, from two rows.
SLICE = 200


def _attach(verdict: Verdict, budget: Budget | None) -> Verdict:
    if budget is not None:
        verdict.details["budget"] = budget.as_dict()
    return verdict


def with_availability_budget(verdict: Verdict, now: datetime) -> Verdict:
    """The availability verdict with its downtime budget (none while nothing is counted)."""
    if verdict.value is None:
        return verdict
    return _attach(verdict, availability_budget(verdict.details, verdict.crossings, now))


def with_ticket_budget(
    verdict: Verdict,
    agreement: Agreement,
    target: MeasuredTarget,
    decided_misses: QuerySet[TicketTimer],
    window: tuple[datetime, datetime],
    now: datetime,
    goal: Goal,
    closed: bool,
    previous: dict | None = None,
) -> Verdict:
    """The ticket-share verdict with the tickets that may still miss (``decided_misses``:
    the period's missed timers; ``previous``: the period's details at its last evaluation).
    A period that expects no ticket has no budget."""
    d = verdict.details
    met, missed, pending = d["met"], d["missed"], d["pending"]
    if closed and met + missed == 0:
        return verdict
    # A closed period decided what it decided: no extrapolation, no history to read.
    share = 1.0 if closed else _service_share(target, window, now)
    earlier = None if closed else _earlier_mean(agreement, target.key, window[0])
    expected = expected_tickets(met + missed, pending, share, earlier, closed)
    if expected <= 0:
        return verdict
    allowances = (
        expected * (100 - goal.target) / 100,
        expected * (100 - goal.threshold) / 100,
    )
    ordered = decided_misses.order_by("decided_at", "pk").values_list("decided_at", flat=True)
    moment_of = _moments(ordered, allowances, missed, previous)
    return _attach(verdict, ticket_budget(met, missed, expected, goal, moment_of))


def with_count_budget(
    verdict: Verdict, events: QuerySet[ErrorEvent], goal: Goal, previous: dict | None = None
) -> Verdict:
    """The error-count verdict with the errors that may still happen (``events``: the
    period's counted errors)."""
    ordered = events.order_by("occurred_at", "pk").values_list("occurred_at", flat=True)
    count = int(verdict.details["count"])
    moment_of = _moments(ordered, (goal.target, goal.threshold), count, previous)
    return _attach(verdict, count_budget(count, goal, moment_of))


def with_value_budget(
    verdict: Verdict, samples: list[tuple[datetime, float]], goal: Goal, unit: str
) -> Verdict:
    """The measured-values verdict with the excess the slow samples may still add."""
    return _attach(verdict, value_budget(samples, goal, unit))


def keep_ran_out(verdict: Verdict, previous: dict | None, closed: bool, goal: Goal) -> Verdict:
    """The verdict with the run-out moments of the period's previous evaluation kept where
    their cause stands (``monitoring.compliance.budgets.carried``).

    An open period whose verdict has no figures for a while (a silence not counted as
    down) keeps the budget it had, moments and all: nothing retracted them, the data is
    just not there. A closed one, or one whose ticket figures fell below what ran it out,
    lets them go."""
    before = (previous or {}).get("budget")
    levels = (goal.target, goal.threshold)
    now_budget = Budget.from_dict(verdict.details.get("budget") or {})
    if now_budget is not None:
        return _attach(verdict, carried(now_budget, before, closed, levels))
    kept = Budget.from_dict(before) if isinstance(before, dict) else None
    if (
        kept is None
        or closed
        or verdict.status != NO_DATA
        or kept.ran_out_at is None
        or kept.basis.get("goal") != list(levels)
        or "missed" in verdict.details
    ):
        return verdict
    return _attach(verdict, kept)


def _moments(
    ordered: QuerySet, allowances: tuple[float, float], count: int, previous: dict | None
) -> Callable[[int], datetime | None]:
    """When the n-th event was, for the moments the budget needs: the ones the last
    evaluation stored for the same n (while no event was taken away) are not looked up
    again, the others come from one slice of the ordered events."""
    known: dict[int, datetime] = {}
    before = Budget.from_dict((previous or {}).get("budget") or {})
    if before is not None and count >= before.consumed:
        for name in ("ran_out", "threshold_ran_out"):
            n, at = before.basis.get(f"{name}_n"), getattr(before, f"{name}_at")
            if n is not None and at is not None:
                known[int(n)] = at
    wanted = sorted(
        {n for n in (past_index(a, count) for a in allowances) if n is not None} - set(known)
    )
    if wanted:
        first, last = wanted[0], wanted[-1]
        if last - first > SLICE:
            for n in wanted:
                known[n] = ordered[n - 1 : n].first()
        else:
            rows = list(ordered[first - 1 : last])
            known.update({n: rows[n - first] for n in wanted if n - first < len(rows)})
    return known.get


def _service_share(
    target: MeasuredTarget, window: tuple[datetime, datetime], now: datetime
) -> float:
    """The share of the period's service time (the target's calendar) that has passed."""
    start, end = window
    service = target.calendar.intervals(start, end)
    whole = total_seconds(service)
    if whole <= 0 or now <= start:
        return 0.0
    return total_seconds(intersect(service, [(start, min(now, end))])) / whole


def _earlier_mean(agreement: Agreement, target_key: str, before: datetime) -> float | None:
    """The mean number of tickets decided in the target's last closed periods."""
    rows = (
        PeriodResult.objects.filter(
            agreement=agreement,
            target_key=target_key,
            closed_at__isnull=False,
            period_start__lt=before,
        )
        .order_by("-period_start")
        .values_list("details", flat=True)[:EARLIER_PERIODS]
    )
    counts = [d["met"] + d["missed"] for d in rows if d and "met" in d]
    return sum(counts) / len(counts) if counts else None
