"""The error budget of each evaluated period, fed from the rows the verdict was computed from.

The arithmetic is ``monitoring.compliance.budgets``; this module reads the few extra facts it
needs (the moment of the miss or error that ran a budget out, the earlier periods' ticket
volume, the service time elapsed) and attaches the budget to the verdict's details, where
``monitoring.evaluation.periods`` stores it with the ``PeriodResult``. ``keep_ran_out``
carries a moment an earlier evaluation found, so a budget that ran out stays run out.
"""

from __future__ import annotations

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
    ticket_budget,
    value_budget,
)
from monitoring.compliance.intervals import intersect, total_seconds
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.models import ErrorEvent, PeriodResult, TicketTimer

# The ticket volume a period is expected to reach looks back at most this many closed periods.
EARLIER_PERIODS = 12


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
) -> Verdict:
    """The ticket-share verdict with the tickets that may still miss (``decided_misses``:
    the period's missed timers)."""
    d = verdict.details
    met, missed, pending = d["met"], d["missed"], d["pending"]
    # A closed period decided what it decided: no extrapolation, no history to read.
    share = 1.0 if closed else _service_share(target, window, now)
    earlier = None if closed else _earlier_mean(agreement, target.key, window[0])
    expected = expected_tickets(met + missed, pending, share, earlier, closed)
    ordered = decided_misses.order_by("decided_at", "pk").values_list("decided_at", flat=True)
    budget = ticket_budget(met, missed, expected, goal, lambda nth: _nth(ordered, nth))
    return _attach(verdict, budget)


def with_count_budget(verdict: Verdict, events: QuerySet[ErrorEvent], goal: Goal) -> Verdict:
    """The error-count verdict with the errors that may still happen (``events``: the
    period's counted errors)."""
    ordered = events.order_by("occurred_at", "pk").values_list("occurred_at", flat=True)
    count = int(verdict.details["count"])
    return _attach(verdict, count_budget(count, goal, lambda nth: _nth(ordered, nth)))


def with_value_budget(
    verdict: Verdict, samples: list[tuple[datetime, float]], goal: Goal, unit: str
) -> Verdict:
    """The measured-values verdict with the excess the slow samples may still add."""
    return _attach(verdict, value_budget(samples, goal, unit))


def keep_ran_out(verdict: Verdict, previous: dict | None) -> Verdict:
    """The verdict with the run-out moments of the period's previous evaluation kept."""
    now_budget = Budget.from_dict(verdict.details.get("budget") or {})
    if now_budget is None or not previous or "budget" not in previous:
        return verdict
    return _attach(verdict, carried(now_budget, previous["budget"]))


def _nth(ordered: QuerySet, nth: int) -> datetime | None:
    return ordered[nth - 1 : nth].first()


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
