"""The deadline loop: timers whose next deadline has come are claimed and re-evaluated.

Each running timer carries its next deadline (warning point, due time or threshold time) in
``TicketTimer.next_due``, under a partial index. Every tick claims the due rows with a
conditional UPDATE on the value it saw (healthchecks' ``sendalerts`` pattern, house style
point 8) and, in the same transaction, marks their tickets for evaluation. Two workers never
claim one row; a worker that dies after the claim leaves the ticket marked, so the next tick
evaluates it. Nothing waits in the broker.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from monitoring.models import Ticket, TicketTimer


def claim_due_timers(now: datetime, limit: int = 1000) -> int:
    """Claim up to ``limit`` timers due at ``now``; mark their tickets; return how many."""
    return len(claim_due_timer_tickets(now, limit))


def claim_due_timer_tickets(now: datetime, limit: int = 1000) -> list[int]:
    """Claim up to ``limit`` timers due at ``now``; mark their tickets; return the tickets
    (one per claimed timer), for the caller to evaluate them first."""
    due = list(
        TicketTimer.objects.filter(next_due__lte=now)
        .order_by("next_due")
        .values_list("pk", "ticket_id", "next_due")[:limit]
    )
    claimed: list[int] = []
    for pk, ticket_id, seen in due:
        with transaction.atomic():
            # Lock the ticket before the timer, in the order an evaluation does (its batch
            # locks the tickets, then upserts their timers). Claiming the timer first and then
            # waiting for a ticket that an evaluation holds deadlocked both as soon as that
            # evaluation wrote the timer. A ticket being evaluated right now is skipped: the
            # evaluation writes its timer's next deadline, and the next tick claims it if due.
            locked = (
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(pk=ticket_id)
                .values_list("pk", flat=True)
            )
            if not list(locked):
                continue
            if TicketTimer.objects.filter(pk=pk, next_due=seen).update(next_due=None):
                Ticket.objects.filter(pk=ticket_id).update(evaluated_at=None)
                claimed.append(ticket_id)
    return claimed
