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
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import Lag
from django.utils import timezone

from agreements.clock import TimeAccount, time_account
from agreements.models import Agreement, Service
from agreements.terms import (
    MONITORED_STATES,
    MeasuredTarget,
    MeasuredTerms,
    measured_terms,
    terms_of_version,
)
from monitoring.compliance import MISSED_TARGET, TimerInput, TimerResult, ticket_timer
from monitoring.evaluation import alerts
from monitoring.evaluation.bulk import upsert_rows
from monitoring.evaluation.format import duration
from monitoring.experience.services import csat_invite_resolved
from monitoring.models import Breach, Level, Ticket, TicketPause, TicketStatusChange, TicketTimer

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
        alerts.deliver_all_new_alerts(now or timezone.now())
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
    resolved_gaps, first_resolved = _resolution_history(ids)
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
                bounds[key] = _term_bounds(terms, target.zone)
            begin, end = bounds[key]
            if ticket.opened_at < begin or (end is not None and ticket.opened_at >= end):
                continue
            spec = _timer_input(
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
    return _record_outcomes(outcomes, now, quiet_reason, withdrawn_reason or WITHDRAWN_REASON)


def _ticket_facts(ids: list[int]) -> list[TicketFacts]:
    return [
        TicketFacts(*row[:2], row[2] or "", *row[3:])
        for row in Ticket.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
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


def _term_bounds(terms: MeasuredTerms, zone: str) -> tuple[datetime, datetime | None]:
    """From when and until when (exclusive) tickets are measured: the version's effective
    dates read as local dates in the target calendar's zone, like the measurement periods (a
    ticket opened on 1 January at 00:30 in Berlin is in a term that starts on 1 January)."""
    tz = ZoneInfo(zone)
    begin = datetime.combine(terms.effective_from, time(0), tzinfo=tz)
    end = None
    if terms.effective_to is not None:
        end = datetime.combine(terms.effective_to + timedelta(days=1), time(0), tzinfo=tz)
    return begin, end


def _resolution_history(ticket_ids: list[int]) -> tuple[dict[int, list], dict[int, datetime]]:
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


def _timer_input(
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


# --- Why a timer used less than the time that passed -------------------------------------------


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
    resolved_gaps, first_resolved = _resolution_history([ticket.pk])
    found = {}
    for timer in timers:
        target = targets.get(timer.target_key)
        if target is None:
            continue
        spec = _timer_input(
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


def _value_text(target: MeasuredTarget, result: TimerResult) -> str:
    return (
        f"{duration(result.used_seconds)} of business time used; target "
        f"{duration(target.seconds(target.target_value))}, threshold "
        f"{duration(target.seconds(target.threshold_value))}"
    )


# What an evaluation writes of a ticket's breach; the root-cause note is the reviewers' (an
# upsert never changes it; a new breach starts with none).
BREACH_COLUMNS = (
    "ticket_id",
    "target_key",
    "agreement_id",
    "customer_id",
    "target_label",
    "level",
    "opened_at",
    "closed_at",
    "value_text",
    "root_cause",
    "withdrawn_at",
    "withdrawn_reason",
)
# A target missed again after a withdrawal is a breach again: the upsert clears the withdrawal.
BREACH_UPDATE = (
    "agreement_id",
    "customer_id",
    "target_label",
    "level",
    "opened_at",
    "closed_at",
    "value_text",
    "withdrawn_at",
    "withdrawn_reason",
)
WITHDRAWN_REASON = "Found met on re-evaluation (data corrected or received late)."


def _record_outcomes(
    outcomes: list[tuple],
    now: datetime,
    quiet_reason: str | None = None,
    withdrawn_reason: str = WITHDRAWN_REASON,
) -> int:
    """Open or update the breaches of missed ticket targets, withdraw those found met, and
    raise the alerts they earned, in a few statements per batch however many tickets it
    holds; return how many alerts were new."""
    texts = _LazyTexts(outcomes)
    breaches = _upsert_breaches(outcomes, texts)
    breaches.update(_close_recovered_breaches(outcomes, texts))
    _withdraw_met_breaches(outcomes, now, withdrawn_reason)
    requests = []
    for ticket, agreement, target, result in outcomes:
        key = (ticket.pk, target.key)
        breach_id = breaches.get(key)
        levels = [
            (level, moment)
            for level, moment in result.reached
            # A warning about a ticket that is already answered or resolved helps nobody.
            if not (level == Level.WARNING and result.stopped_at is not None)
        ]
        closes = breach_id is not None and result.stopped_at is not None
        if not levels and not closes:
            continue
        text = texts[key]
        candidates = [
            alerts.Candidate(level, moment, _due_for(level, result), text)
            for level, moment in levels
        ]
        if closes:
            candidates.append(alerts.Candidate(Level.CLOSED, result.stopped_at, None, text))
        if candidates:
            requests.append(
                alerts.AlertRequest(
                    agreement=agreement,
                    target_key=target.key,
                    target_label=target.label[:200],
                    candidates=candidates,
                    zone=target.zone,
                    ticket_id=ticket.pk,
                    breach_id=breach_id,
                )
            )
    if not requests:
        return 0
    return alerts.raise_alerts_for(requests, now, quiet_reason=quiet_reason)


class _LazyTexts(dict):
    """The value text of each outcome, formatted only when a breach or an alert needs it
    (most timers of a large batch are met and never show one)."""

    def __init__(self, outcomes: list[tuple]) -> None:
        super().__init__()
        self._of = {(o[0].pk, o[2].key): (o[2], o[3]) for o in outcomes}

    def __missing__(self, key: tuple) -> str:
        target, result = self._of[key]
        text = self[key] = _value_text(target, result)
        return text


def _upsert_breaches(outcomes: list[tuple], texts: dict) -> dict[tuple, int]:
    """One breach per missed ticket target, inserted or brought up to date in one upsert;
    returns the breach id per (ticket, target key)."""
    rows = [
        (
            ticket.pk,
            target.key,
            agreement.pk,
            agreement.customer_id,
            target.label[:200],
            result.state,
            # When the target was missed: the due time, or the next opening when the due
            # time is a closing time (the clock had not moved past it before).
            result.decided_at,
            result.stopped_at,
            texts[(ticket.pk, target.key)][:300],
            "",
            None,
            "",
        )
        for ticket, agreement, target, result in outcomes
        if result.state in (MISSED_TARGET, Level.BREACHED)
    ]
    if not rows:
        return {}
    upsert_rows(
        Breach,
        BREACH_COLUMNS,
        rows,
        conflict=("ticket_id", "target_key"),
        update=BREACH_UPDATE,
    )
    wanted = {(row[0], row[1]) for row in rows}
    return {
        (ticket_id, key): pk
        for ticket_id, key, pk in Breach.objects.filter(
            ticket_id__in={ticket_id for ticket_id, _key in wanted}
        ).values_list("ticket_id", "target_key", "pk")
        if (ticket_id, key) in wanted
    }


def _close_recovered_breaches(outcomes: list[tuple], texts: dict) -> dict[tuple, int]:
    """Data that arrived late (a response sent before the deadline but ingested after the
    breach was opened) can turn a miss into a met target: close that breach rather than leave
    it open for ever; its people hear that it is over."""
    stopped = {
        (ticket.pk, target.key): result.stopped_at
        for ticket, _agreement, target, result in outcomes
        if result.state not in (MISSED_TARGET, Level.BREACHED) and result.stopped_at is not None
    }
    if not stopped:
        return {}
    closed = {}
    candidates = Breach.objects.filter(
        ticket_id__in={ticket_id for ticket_id, _key in stopped}, closed_at__isnull=True
    ).only("id", "ticket_id", "target_key", "closed_at", "value_text")
    for breach in candidates:
        key = (breach.ticket_id, breach.target_key)
        if key in stopped:
            breach.closed_at = stopped[key]
            breach.value_text = texts[key][:300]
            closed[key] = breach
    if closed:
        Breach.objects.bulk_update(list(closed.values()), ["closed_at", "value_text"])
    return {key: breach.pk for key, breach in closed.items()}


def _withdraw_met_breaches(outcomes: list[tuple], now: datetime, reason: str) -> int:
    """Withdraw the breaches of targets this evaluation finds met: the verdict changed (a
    holiday learned late moved the deadline, corrected data). A breach that closes because
    its ticket was resolved late keeps its missed verdict and is not touched here. The row
    stays (it was announced); reports and dashboards leave it out. Returns how many."""
    met = {
        (ticket.pk, target.key)
        for ticket, _agreement, target, result in outcomes
        if result.state not in (MISSED_TARGET, Level.BREACHED)
    }
    if not met:
        return 0
    ids = [
        pk
        for pk, ticket_id, key in Breach.objects.filter(
            ticket_id__in={ticket_id for ticket_id, _key in met}, withdrawn_at__isnull=True
        ).values_list("pk", "ticket_id", "target_key")
        if (ticket_id, key) in met
    ]
    if not ids:
        return 0
    return Breach.objects.filter(pk__in=ids).update(withdrawn_at=now, withdrawn_reason=reason[:200])


def _due_for(level: str, result: TimerResult) -> datetime | None:
    return {
        Level.WARNING: result.due_at,
        Level.MISSED_TARGET: result.due_at,
        Level.BREACHED: result.threshold_due_at,
    }.get(level)


def mark_for_evaluation(ticket_ids: Iterable[int]) -> int:
    """Mark tickets for evaluation again (the deadline loop and re-evaluation requests)."""
    return Ticket.objects.filter(pk__in=list(ticket_ids)).update(evaluated_at=None)
