"""Per-ticket timers: every response and resolution target that applies to a ticket.

A ticket is evaluated when it is marked (``evaluated_at`` is NULL): ingest marks what it
changed in its own transaction, and the deadline loop marks tickets whose next deadline has
come. ``evaluate_pending_tickets`` takes marked tickets in batches with ``FOR UPDATE SKIP
LOCKED``, so any number of workers can run it at once without evaluating a ticket twice, and
a batch whose worker dies is simply taken again (its tickets are still marked).

Rules (``docs/evaluation.md``):

* The clock starts when the ticket is opened and runs in the target's calendar.
* Response stops at the first response; a ticket resolved without one counts as responded
  at its resolution. Resolution stops when the ticket is resolved (or closed).
* Pauses (waiting on the customer or a vendor) stop the clock. A reopened ticket's clock
  continues from where it stood: the time it spent resolved counts as a pause, and the clock
  stops at the final resolution.
* Tickets are measured against the agreement's version in force, from its effective date.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import Lag
from django.utils import timezone

from agreements.models import Agreement, Service
from agreements.terms import (
    MONITORED_STATES,
    MeasuredTarget,
    MeasuredTerms,
    terms_of_version,
)
from monitoring.compliance.timers import TimerInput, TimerResult, ticket_timer
from monitoring.evaluation import alert_emails
from monitoring.evaluation.bulk import upsert_rows
from monitoring.evaluation.ticket_breaches import WITHDRAWN_REASON, record_outcomes
from monitoring.models import Ticket, TicketPause, TicketStatusChange, TicketTimer
from monitoring.services.experience import csat_invite_resolved

logger = logging.getLogger(__name__)

# Tickets per claim and transaction. Large enough that the per-statement costs vanish,
# small enough that a batch commits in well under a second.
BATCH_SIZE = 2000
TIMER_COLUMNS = (
    "ticket_id",
    "target_key",
    "agreement_id",
    "customer_id",
    "version_id",
    "target_label",
    "metric",
    "calendar_name",
    "target_seconds",
    "threshold_seconds",
    "started_at",
    "stopped_at",
    "warning_at",
    "due_at",
    "threshold_due_at",
    "decided_at",
    "used_seconds",
    "state",
    "next_due",
    "evaluated_at",
)
# What an evaluation rewrites on a stored timer; the row is written only when one of these
# other than ``evaluated_at`` changed (an unchanged timer keeps the time its values are from).
TIMER_UPDATE = TIMER_COLUMNS[4:]
TIMER_COMPARE = TIMER_COLUMNS[4:-1]


class TicketFacts(NamedTuple):
    """What the evaluation reads of a ticket (plain values, no model instance per row)."""

    pk: int
    agreement_id: int | None
    service: str
    priority: str
    state: str
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


def evaluate_pending_tickets(now: datetime | None = None, max_batches: int | None = None) -> int:
    """Evaluate every ticket marked for evaluation, batch by batch; return how many.

    The emails of the alerts the run raised are recorded once, at the end (not per batch);
    a worker lost before that leaves them unnotified for the next run or tick."""
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        done = evaluate_batch(now or timezone.now())
        total += done
        batches += 1
        if done < BATCH_SIZE:
            break
    if total:
        alert_emails.deliver_all_new_alerts(now or timezone.now())
    return total


def evaluate_batch(now: datetime, only: Sequence[int] | None = None) -> int:
    """Claim up to ``BATCH_SIZE`` marked tickets, compute their timers, raise their alerts.

    Only ids are claimed (``FOR UPDATE SKIP LOCKED``): other workers skip these rows, and
    the mark is cleared in the same transaction, so a worker that dies loses nothing (its
    transaction rolls back, marks included). ``only``: claim among these tickets alone (the
    deadline loop's just-claimed ones, so that they never wait behind an ingest's backlog)."""
    with transaction.atomic():
        _relax_commit()
        if connection.vendor == "postgresql":
            facts = _claim_pg(now, only)
            ids = [f.pk for f in facts]
        else:
            marked = Ticket.objects.select_for_update(skip_locked=True).filter(
                evaluated_at__isnull=True
            )
            if only is not None:
                marked = marked.filter(pk__in=list(only))
            ids = list(marked.order_by("changed_at").values_list("pk", flat=True)[:BATCH_SIZE])
            facts = _ticket_facts(ids)
            Ticket.objects.filter(pk__in=ids).update(evaluated_at=now)
        if not ids:
            return 0
        _evaluate(ids, facts, now)
        # Resolved tickets of agreements with a CSAT target: ask the customer, once.
        resolved = [f.pk for f in facts if f.resolved_at is not None and f.state != "open"]
        if resolved:
            csat_invite_resolved(resolved, now)
    return len(ids)


def _claim_pg(now: datetime, only: Sequence[int] | None = None) -> list[TicketFacts]:
    """Claim, clear the mark of and read a batch of marked tickets in one statement."""
    ticket, service = Ticket._meta.db_table, Service._meta.db_table
    among = "AND id = ANY(%s)" if only is not None else ""
    params = [list(only)] if only is not None else []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH claimed AS (
                SELECT id FROM "{ticket}" WHERE evaluated_at IS NULL {among}
                ORDER BY changed_at LIMIT %s FOR UPDATE SKIP LOCKED
            )
            UPDATE "{ticket}" AS t SET evaluated_at = %s FROM claimed WHERE t.id = claimed.id
            RETURNING t.id, t.agreement_id,
                COALESCE((SELECT s.name FROM "{service}" AS s WHERE s.id = t.service_id), ''),
                t.priority, t.state, t.opened_at, t.first_response_at, t.resolved_at,
                t.closed_at
            """,
            [*params, BATCH_SIZE, now],
        )
        return sorted((TicketFacts(*row) for row in cursor.fetchall()), key=lambda f: f.pk)


def _relax_commit() -> None:
    """On PostgreSQL, let this batch's commit return before its WAL reaches the disk.

    What a batch writes is derived data: if the server crashed before the flush, the batch
    would be lost whole, its marks included, and evaluated again. Nothing outside the
    database acts on it first: emails are recorded by a later, ordinary transaction, whose
    commit flushes the WAL of every transaction before it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def evaluate_tickets(
    tickets: Sequence[Ticket | int],
    now: datetime,
    *,
    quiet_reason: str | None = None,
    withdrawn_reason: str | None = None,
) -> int:
    """Recompute the timers of ``tickets`` (rows or ids, locked by the caller) and raise
    alerts; return how many alerts were new. Reads what it needs set-wise (tickets, pauses,
    status history, agreements; each version's terms once per process) and writes timers,
    breaches and alerts in a few statements, whatever the number of tickets.

    ``quiet_reason``: the alerts are about the past (a recompute after a correction), so they
    are recorded, not emailed, with this reason. ``withdrawn_reason``: why a breach whose
    target is now found met is withdrawn (default ``WITHDRAWN_REASON``)."""
    ids = [t if isinstance(t, int) else t.pk for t in tickets]
    if not ids:
        return 0
    return _evaluate(ids, _ticket_facts(ids), now, quiet_reason, withdrawn_reason)


def _evaluate(
    ids: list[int],
    facts: list[TicketFacts],
    now: datetime,
    quiet_reason: str | None = None,
    withdrawn_reason: str | None = None,
) -> int:
    pauses: dict[int, list] = defaultdict(list)
    for ticket_id, start, end in (
        TicketPause.objects.filter(ticket_id__in=ids)
        .order_by("ticket_id", "start")
        .values_list("ticket_id", "start", "end")
    ):
        pauses[ticket_id].append((start, end))
    resolved_gaps, first_resolved = resolution_history(ids)
    agreements = {
        a.pk: a
        for a in Agreement.objects.filter(
            pk__in={f.agreement_id for f in facts if f.agreement_id is not None}
        ).only("id", "status", "customer_id", "in_force_version_id")
    }
    terms_of: dict[int, MeasuredTerms | None] = {}
    bounds: dict[tuple[int, str], tuple[datetime, datetime | None]] = {}
    rows: list[tuple] = []
    outcomes = []
    for ticket in facts:
        agreement = agreements.get(ticket.agreement_id)
        if agreement is None or agreement.status not in MONITORED_STATES:
            continue
        if agreement.pk not in terms_of:
            version = agreement.in_force_version_id
            terms_of[agreement.pk] = terms_of_version(version) if version else None
        terms = terms_of[agreement.pk]
        if terms is None:
            continue
        for target in terms.targets:
            if not target.is_ticket_timer or not target.applies_to_ticket(
                ticket.priority, ticket.service
            ):
                continue
            key = (terms.version_id, target.zone)
            if key not in bounds:
                bounds[key] = term_bounds(terms, target.zone)
            begin, end = bounds[key]
            if ticket.opened_at < begin or (end is not None and ticket.opened_at >= end):
                continue
            spec = timer_input(
                ticket,
                target,
                pauses[ticket.pk],
                resolved_gaps[ticket.pk],
                first_resolved.get(ticket.pk),
            )
            try:
                result = ticket_timer(target.calendar, spec, now)
            except ValueError as exc:  # a calendar without business hours
                logger.warning("ticket %s, %s: %s", ticket.pk, target.key, exc)
                continue
            rows.append(_timer_row(ticket, agreement, terms, target, spec, result, now))
            outcomes.append((ticket, agreement, target, result))
    _store_timers(ids, rows)
    return record_outcomes(outcomes, now, quiet_reason, withdrawn_reason or WITHDRAWN_REASON)


def _ticket_facts(ids: list[int]) -> list[TicketFacts]:
    return ticket_facts(Ticket.objects.filter(pk__in=ids))


def ticket_facts(tickets: QuerySet[Ticket]) -> list[TicketFacts]:
    """The facts a ticket's timers are computed from, in id order (the engine's batches and a
    replay of proposed terms read them the same way)."""
    return [
        TicketFacts(*row[:2], row[2] or "", *row[3:])
        for row in tickets.order_by("pk").values_list(
            "pk",
            "agreement_id",
            "service__name",
            "priority",
            "state",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
        )
    ]


def term_bounds(terms: MeasuredTerms, zone: str) -> tuple[datetime, datetime | None]:
    """From when and until when (exclusive) tickets are measured: the version's effective
    dates read as local dates in the target calendar's zone, like the measurement periods (a
    ticket opened on 1 January at 00:30 in Berlin is in a term that starts on 1 January).
    The period evaluation clips its windows to the same bounds, and a replay of terms in
    force applies both (``monitoring.evaluation.replay``)."""
    tz = ZoneInfo(zone)
    begin = datetime.combine(terms.effective_from, time(0), tzinfo=tz)
    end = None
    if terms.effective_to is not None:
        end = datetime.combine(terms.effective_to + timedelta(days=1), time(0), tzinfo=tz)
    return begin, end


def resolution_history(ticket_ids: list[int]) -> tuple[dict[int, list], dict[int, datetime]]:
    """Per ticket, the periods between a resolution and a later reopening, and the first
    resolution (a reopened ticket resolved without a response was responded to then)."""
    gaps: dict[int, list] = defaultdict(list)
    first: dict[int, datetime] = {}
    since: dict[int, datetime] = {}
    # Only the rows that matter are read: resolutions, and the change right after one (a
    # reopening ends the gap). A long event log holds many more (assignments, updates).
    previous = Window(
        Lag("resolves"), partition_by=[F("ticket_id")], order_by=[F("at").asc(), F("id").asc()]
    )
    changes = (
        TicketStatusChange.objects.filter(ticket_id__in=ticket_ids)
        .annotate(after_resolution=previous)
        .filter(Q(resolves=True) | Q(after_resolution=True))
        .order_by("ticket_id", "at", "id")
        .values_list("ticket_id", "at", "resolves")
    )
    for ticket_id, at, resolves in changes:
        if resolves:
            first.setdefault(ticket_id, at)
        if resolves and ticket_id not in since:
            since[ticket_id] = at
        elif not resolves and ticket_id in since:
            gaps[ticket_id].append((since.pop(ticket_id), at))
    return gaps, first


def timer_input(
    ticket: Ticket | TicketFacts,
    target: MeasuredTarget,
    pauses: list,
    resolved_gaps: list,
    first_resolved: datetime | None = None,
) -> TimerInput:
    resolved = None
    if ticket.state != Ticket.State.OPEN:
        resolved = ticket.resolved_at or ticket.closed_at
    if target.metric == "response_time":
        # Resolved without a response: responded at the (first) resolution, even when the
        # ticket was reopened since.
        answered = [t for t in (first_resolved, resolved) if t is not None]
        stop = ticket.first_response_at or (min(answered) if answered else None)
        ticket_pauses = pauses
    else:
        stop = resolved
        ticket_pauses = pauses + [gap for gap in resolved_gaps if stop is None or gap[1] <= stop]
    return TimerInput(
        start=ticket.opened_at,
        stop=stop,
        pauses=ticket_pauses,
        target_seconds=target.seconds(target.target_value),
        threshold_seconds=target.seconds(target.threshold_value),
        warning_percent=float(target.warning_percent),
    )


def _timer_row(
    ticket: TicketFacts,
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    spec: TimerInput,
    result: TimerResult,
    now: datetime,
) -> tuple:
    """One timer as a row in the order of ``TIMER_COLUMNS``."""
    return (
        ticket.pk,
        target.key,
        agreement.pk,
        agreement.customer_id,
        terms.version_id,
        target.label[:200],
        target.metric,
        target.calendar_name,
        spec.target_seconds,
        spec.threshold_seconds,
        ticket.opened_at,
        result.stopped_at,
        result.warning_at,
        result.due_at,
        result.threshold_due_at,
        result.decided_at,
        result.used_seconds,
        result.state,
        result.next_due,
        now,
    )


def _store_timers(ticket_ids: list[int], rows: list[tuple]) -> None:
    """Upsert the computed timers and drop those of targets that no longer apply (a ticket
    whose priority changed, or an agreement whose new version dropped a target)."""
    keep = {(row[0], row[1]) for row in rows}
    stale = [
        pk
        for pk, ticket_id, key in TicketTimer.objects.filter(ticket_id__in=ticket_ids).values_list(
            "pk", "ticket_id", "target_key"
        )
        if (ticket_id, key) not in keep
    ]
    if stale:
        TicketTimer.objects.filter(pk__in=stale).delete()
    upsert_rows(
        TicketTimer,
        TIMER_COLUMNS,
        rows,
        conflict=("ticket_id", "target_key"),
        update=TIMER_UPDATE,
        compare=TIMER_COMPARE,
    )


def mark_for_evaluation(ticket_ids: Iterable[int]) -> int:
    """Mark tickets for evaluation again (the deadline loop and re-evaluation requests)."""
    return Ticket.objects.filter(pk__in=list(ticket_ids)).update(evaluated_at=None)
