"""Why a timer used less than the time that passed: the ticket page's account of each timer
(business time used, set against the pauses and the hours outside the calendar), built from the
same pauses and calendar as the evaluation (``monitoring.evaluation.tickets``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from agreements.clock import TimeAccount, time_account
from agreements.terms import measured_terms
from monitoring.evaluation.tickets import resolution_history, timer_input
from monitoring.format import duration
from monitoring.models import Ticket, TicketPause, TicketTimer


@dataclass(frozen=True)
class TimerAccount:
    """A timer's business time used set against the wall-clock time since the ticket opened:
    how much the pauses took out (and why they paused) and how much fell outside the
    calendar's hours."""

    account: TimeAccount
    pause_reasons: tuple[str, ...]
    calendar_name: str

    @property
    def text(self) -> str:
        """ "15 min used of 18 min elapsed: 3 min paused (Waiting on customer); 0 min outside
        the hours of “Office hours”": every part is named, even when it is nothing, so
        the reader sees the sum."""
        a = self.account
        why = f" ({', '.join(self.pause_reasons)})" if self.pause_reasons else ""
        return (
            f"{_minutes(a.counted)} used of {_minutes(a.elapsed)} elapsed: "
            f"{_minutes(a.paused)} paused{why}; {_minutes(a.outside_hours)} outside the hours "
            f"of \u201c{self.calendar_name}\u201d"
        )


def _minutes(span: timedelta) -> str:
    seconds = span.total_seconds()
    # "0 min", not "0 s": the parts are compared with each other, in the same unit.
    return "0 min" if round(seconds) == 0 else duration(seconds)


def timer_accounts(ticket: Ticket, timers: list[TicketTimer]) -> dict[str, TimerAccount]:
    """Per target key, where the time of each timer of ``ticket`` went, up to the timer's stop
    or its last evaluation (the moment its ``used_seconds`` is from). Built from the same
    pauses and calendar as the evaluation, so counted time equals ``used_seconds``."""
    agreement = ticket.agreement
    if agreement is None or not timers:
        return {}
    terms = measured_terms(agreement)
    if terms is None:
        return {}
    targets = {t.key: t for t in terms.targets}
    pause_rows = list(TicketPause.objects.filter(ticket_id=ticket.pk).order_by("start"))
    pauses = [(p.start, p.end) for p in pause_rows]
    resolved_gaps, first_resolved = resolution_history([ticket.pk])
    found = {}
    for timer in timers:
        target = targets.get(timer.target_key)
        if target is None:
            continue
        spec = timer_input(
            ticket, target, pauses, resolved_gaps[ticket.pk], first_resolved.get(ticket.pk)
        )
        end = max(timer.stopped_at or timer.evaluated_at, spec.start)
        spans = [(a, b or end) for a, b in spec.pauses]
        account = time_account(target.calendar, spec.start, end, spans)
        reasons = [
            p.reason or "paused"
            for p in pause_rows
            if p.start < end and (p.end is None or p.end > spec.start)
        ]
        if len(spec.pauses) > len(pauses):
            reasons.append("resolved until reopened")
        found[timer.target_key] = TimerAccount(
            account, tuple(dict.fromkeys(reasons)), target.calendar_name
        )
    return found
