"""Set-based ingest of service desk tickets with their status history."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from agreements.models import Agreement
from monitoring.evaluation.trigger import queue_evaluation
from monitoring.ingest import (
    MAX_BATCH,
    IngestError,
    IngestResult,
    RowError,
    mark_received,
    newest_time,
    notify_changed,
    receipt_sql,
    source_accepts,
)
from monitoring.ingest.bulk import bulk_update_rows
from monitoring.ingest.copy import uses_copy
from monitoring.ingest.digest import ticket_digest
from monitoring.ingest.fields import (
    FieldError,
    boolean,
    integer,
    is_blank,
    optional_timestamp,
    required_timestamp,
    source_zone,
    text,
    timestamp,
)
from monitoring.ingest.history import StatusEntry, pauses_from_history
from monitoring.ingest.upsert import INLINE_UP_TO, tickets_upsert
from monitoring.models import Source, Ticket, TicketPause, TicketStatusChange

__all__ = ["tickets_ingest"]

PRIORITIES = frozenset({"", "P1", "P2", "P3", "P4"})
# Written by bulk_update_rows for a changed ticket; changed_at is set by hand because that
# does not run auto_now.
UPDATE_FIELDS = [
    "agreement",
    "service",
    "priority",
    "category",
    "title",
    "assignee",
    "state",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "csat",
    "changed_at",
    "evaluated_at",
    "ingest_digest",
]
BATCH_SIZE = 2000
# Lookups by external id are chunked: SQLite allows 32,766 parameters per statement.
LOOKUP_CHUNK = 10_000


@dataclass(slots=True)
class _CleanTicket:
    """A validated row: the ticket's values and, when sent, its status history."""

    external_id: str
    values: dict[str, Any]
    history: list[StatusEntry] | None


@dataclass(frozen=True, slots=True)
class _Agreement:
    pk: int
    reference: str
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True, slots=True)
class _Service:
    pk: int
    name: str


@functools.cache
def _agreements_sql() -> str:
    """The customer's agreements with the services each covers (none: one row of NULLs)."""
    agreement = Agreement._meta.db_table
    links = Agreement.services.through._meta.db_table
    service = Agreement.services.field.related_model._meta.db_table
    return (
        f"SELECT a.id, a.reference, a.effective_from, a.effective_to, s.id, s.name"
        f" FROM {agreement} a LEFT JOIN {links} l ON l.agreement_id = a.id"
        f" LEFT JOIN {service} s ON s.id = l.service_id WHERE a.customer_id = %s"
    )


class _Agreements:
    """The source customer's agreements, loaded once per batch (one query), to resolve rows
    against."""

    def __init__(self, source: Source) -> None:
        self.by_reference: dict[str, _Agreement] = {}
        self.by_service: dict[str, list[tuple[_Agreement, _Service]]] = {}
        with connection.cursor() as cursor:
            # Written out: compiling the queryset cost more than running it, on a request
            # that writes one ticket.
            cursor.execute(_agreements_sql(), [source.customer_id])
            found = cursor.fetchall()
        for pk, reference, start, end, service_id, name in found:
            agreement = self.by_reference.setdefault(
                reference, _Agreement(pk, reference, start, end)
            )
            if service_id is not None:
                self.by_service.setdefault(name, []).append((agreement, _Service(service_id, name)))

    def resolve(self, reference: str, service_name: str, opened: date | None) -> dict[str, Any]:
        """``agreement_id`` and ``service_id`` for a row; raises FieldError (with the field
        name as first argument) when the reference or service does not resolve."""
        if reference:
            agreement = self.by_reference.get(reference)
            if agreement is None:
                # Same words whether the reference is unknown or another customer's: the
                # answer must not reveal that another customer's agreement exists.
                raise FieldError("agreement", "no agreement with this reference for the customer")
            if not service_name:
                return {"agreement_id": agreement.pk, "service_id": None}
            for covering, service in self.by_service.get(service_name, []):
                if covering.pk == agreement.pk:
                    return {"agreement_id": agreement.pk, "service_id": service.pk}
            raise FieldError("service", f"agreement {reference} does not cover this service")
        if not service_name:
            return {"agreement_id": None, "service_id": None}
        candidates = self.by_service.get(service_name, [])
        if len(candidates) > 1 and opened is not None:
            # Renewals leave old agreements covering the same service; the one in effect when
            # the ticket was opened is meant.
            candidates = [
                (a, s)
                for a, s in candidates
                if a.effective_from <= opened
                and (a.effective_to is None or opened <= a.effective_to)
            ]
        if not candidates:
            raise FieldError("service", "no agreement of the customer covers this service")
        if len(candidates) > 1:
            references = ", ".join(sorted(a.reference for a, _ in candidates))
            raise FieldError(
                "service", f"ambiguous: covered by {references}; send the agreement reference"
            )
        agreement, service = candidates[0]
        return {"agreement_id": agreement.pk, "service_id": service.pk}


def _history(value: Any, zone: Any) -> list[StatusEntry]:
    if not isinstance(value, list):
        raise FieldError("expected a list of {at, status, pauses_clock, resolves}")
    entries: list[StatusEntry] = []
    seen: set[tuple[datetime, str]] = set()
    for position, item in enumerate(value):
        # dict first: the ABC check is slow, and JSON gives dicts.
        if not isinstance(item, dict | Mapping):
            raise FieldError(f"entry {position}: expected an object")
        try:
            raw = item.get("at")
            if is_blank(raw):
                raise FieldError("at: required")
            at = timestamp(raw, zone)
            status = text(item, "status", 60, required=True)
            # JSON gives real booleans; anything else goes through the strict parser.
            pauses = item.get("pauses_clock", False)
            if pauses is not True and pauses is not False:
                pauses = boolean(pauses)
            resolves = item.get("resolves", False)
            if resolves is not True and resolves is not False:
                resolves = boolean(resolves)
        except FieldError as exc:
            raise FieldError(f"entry {position}: {exc}") from None
        key = (at, status)
        if key in seen:
            raise FieldError(f"entry {position}: repeats status {status!r} at the same time")
        seen.add(key)
        entries.append(StatusEntry(at, status, pauses, resolves))
    return sorted(entries, key=lambda e: e.at)


def _clean(row: Mapping, zone: Any, agreements: _Agreements) -> _CleanTicket:
    """Validate one row; raises FieldError(field, reason)."""

    def check(key: str, parse):
        try:
            return parse()
        except FieldError as exc:
            raise FieldError(key, str(exc)) from None

    if not isinstance(row, dict | Mapping):
        raise FieldError("", "expected an object")
    external_id = check("external_id", lambda: text(row, "external_id", 120, required=True))
    opened_at = check("opened_at", lambda: required_timestamp(row, "opened_at", zone))
    values: dict[str, Any] = {"opened_at": opened_at}
    for key in ("first_response_at", "resolved_at", "closed_at"):
        values[key] = check(key, lambda key=key: optional_timestamp(row, key, zone))
        if values[key] is not None and values[key] < opened_at:
            what = key.removesuffix("_at").replace("_", " ")
            raise FieldError(key, f"{what} is before the ticket was opened")
    priority = check("priority", lambda: text(row, "priority", 2))
    if priority.upper() not in PRIORITIES:
        raise FieldError("priority", "expected P1, P2, P3, P4 or empty")
    values["priority"] = priority.upper()
    values["category"] = check("category", lambda: text(row, "category", 120))
    values["title"] = check("title", lambda: text(row, "title", 300))
    values["assignee"] = check("assignee", lambda: text(row, "assignee", 200))
    reopen = row.get("reopen_count")
    values["reopen_count"] = (
        0 if is_blank(reopen) else check("reopen_count", lambda: integer(reopen))
    )
    if values["reopen_count"] < 0:
        raise FieldError("reopen_count", "must not be negative")
    csat = row.get("csat")
    values["csat"] = None if is_blank(csat) else check("csat", lambda: integer(csat))
    if values["csat"] is not None and not 1 <= values["csat"] <= 5:
        raise FieldError("csat", "must be between 1 and 5")
    reference = check("agreement", lambda: text(row, "agreement", 40))
    service_name = check("service", lambda: text(row, "service", 200))
    try:
        values |= agreements.resolve(reference, service_name, opened_at.date())
    except FieldError as exc:
        raise FieldError(*exc.args) from None
    history = None
    if "status_history" in row and row["status_history"] is not None:
        history = check("status_history", lambda: _history(row["status_history"], zone))
    # The state follows from the timestamps, so it cannot contradict them.
    if values["closed_at"] is not None:
        values["state"] = Ticket.State.CLOSED.value
    elif values["resolved_at"] is not None:
        values["state"] = Ticket.State.RESOLVED.value
    else:
        values["state"] = Ticket.State.OPEN.value
    return _CleanTicket(external_id, values, history)


def _validate(source: Source, rows: Sequence[Mapping]) -> list[_CleanTicket]:
    if len(rows) > MAX_BATCH:
        raise IngestError(
            [RowError(-1, "", f"{len(rows)} rows; send at most {MAX_BATCH} per batch")]
        )
    zone = source_zone(source.timezone)
    agreements = _Agreements(source)
    errors: list[RowError] = []
    cleaned: list[_CleanTicket] = []
    first_index: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            ticket = _clean(row, zone, agreements)
        except FieldError as exc:
            errors.append(RowError(index, exc.args[0], exc.args[1]))
            continue
        if ticket.external_id in first_index:
            errors.append(
                RowError(
                    index,
                    "external_id",
                    f"duplicate of row {first_index[ticket.external_id]} in this batch",
                )
            )
            continue
        first_index[ticket.external_id] = index
        cleaned.append(ticket)
    if errors:
        raise IngestError(errors)
    return cleaned


def tickets_ingest(source: Source, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert a batch of tickets of ``source``, keyed by ``external_id``.

    Row keys: ``external_id`` and ``opened_at`` (required); ``agreement`` (reference) and/or
    ``service`` (name) of one of the source customer's agreements; ``priority`` (P1-P4 or
    empty), ``category``, ``first_response_at``, ``resolved_at``, ``closed_at``,
    ``reopen_count``, ``csat`` (1-5) and ``status_history`` (a list of ``{at, status,
    pauses_clock, resolves}``; when given it replaces the stored history and the pauses derived
    from it, when absent the stored history stays).

    Raises :class:`IngestError` listing every invalid row; then nothing is written. Otherwise
    writes in one transaction (on PostgreSQL: COPY into staging tables and set-based SQL,
    ``monitoring.ingest.upsert``; elsewhere bulk ORM statements), marks created and changed
    tickets for evaluation and calls :func:`notify_changed` after commit."""
    source_accepts(source)
    cleaned = _validate(source, rows)
    data_until = newest_time(ticket.values for ticket in cleaned)
    if 0 < len(cleaned) <= INLINE_UP_TO and uses_copy() and connection.get_autocommit():
        return _ingest_in_one_transaction(source, cleaned, data_until)
    with transaction.atomic():
        mark_received(source, data_until=data_until)
        now = timezone.now()
        if uses_copy():
            created, updated, _ = tickets_upsert(
                source.pk,
                source.customer_id,
                [(t.external_id, t.values, t.history) for t in cleaned],
                now,
            )
        else:
            created, updated = _write_rows(source, cleaned, now)
        changed = [*created, *updated]
        if changed:
            transaction.on_commit(lambda: notify_changed("tickets", changed))
    return IngestResult(
        created=len(created),
        updated=len(updated),
        unchanged=len(cleaned) - len(created) - len(updated),
    )


def _ingest_in_one_transaction(
    source: Source, cleaned: list[_CleanTicket], data_until: datetime | None
) -> IngestResult:
    """A small batch (up to ``INLINE_UP_TO`` tickets) with its receipt stamp and its
    evaluation nudge in one simple query, which PostgreSQL runs as a transaction of its own
    when no caller's transaction is open (the API, in autocommit): one round trip, one
    commit, no BEGIN. Larger batches, and any batch in a caller's transaction (a webhook
    writing checks and tickets together, an import), stamp and nudge after their commit:
    their commit checks the deferred foreign keys of thousands of rows, and the source and
    nudge rows must not stay locked for that long."""
    now = timezone.now()
    created, updated, queue = tickets_upsert(
        source.pk,
        source.customer_id,
        [(t.external_id, t.values, t.history) for t in cleaned],
        now,
        after=[receipt_sql(source, data_until, now)],
        nudge=True,
    )
    if queue:
        queue_evaluation()
    return IngestResult(
        created=len(created),
        updated=len(updated),
        unchanged=len(cleaned) - len(created) - len(updated),
    )


def _write_rows(
    source: Source, cleaned: list[_CleanTicket], now: datetime
) -> tuple[list[int], list[int]]:
    """The ORM path (SQLite in development): compare digests in Python, then bulk
    statements. Returns the ids of the tickets created and of those updated."""
    existing: dict[str, tuple[int, str]] = {}
    ids = [ticket.external_id for ticket in cleaned]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        existing.update(
            (external_id, (pk, digest))
            # order_by(): the model's default ordering would sort every chunk for nothing.
            for external_id, pk, digest in Ticket.objects.filter(
                source=source, external_id__in=ids[start : start + LOOKUP_CHUNK]
            )
            .order_by()
            .values_list("external_id", "pk", "ingest_digest")
        )
    to_create: list[Ticket] = []
    to_update: list[Ticket] = []
    for ticket in cleaned:
        digest = ticket_digest(ticket.values, ticket.history)
        stored = existing.get(ticket.external_id)
        if stored is not None and stored[1] == digest:
            continue
        row = Ticket(
            source=source,
            customer_id=source.customer_id,
            external_id=ticket.external_id,
            changed_at=now,
            evaluated_at=None,
            ingest_digest=digest,
            **ticket.values,
        )
        if stored is None:
            to_create.append(row)
        else:
            row.pk = stored[0]
            to_update.append(row)
    Ticket.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    if any(row.pk is None for row in to_create):
        # Backends that cannot return ids from a bulk insert: read them back.
        _read_back_ids(source, to_create)
    bulk_update_rows(Ticket, to_update, UPDATE_FIELDS)
    by_external = {row.external_id: row.pk for row in (*to_create, *to_update)}
    _replace_history(
        {
            by_external[t.external_id]: t.history
            for t in cleaned
            if t.history is not None and t.external_id in by_external
        },
        had_history={row.pk for row in to_update},
    )
    return [row.pk for row in to_create], [row.pk for row in to_update]


def _read_back_ids(source: Source, created: list[Ticket]) -> None:
    ids = [row.external_id for row in created]
    found: dict[str, int] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        found.update(
            Ticket.objects.filter(source=source, external_id__in=ids[start : start + LOOKUP_CHUNK])
            .order_by()
            .values_list("external_id", "pk")
        )
    for row in created:
        row.pk = found[row.external_id]


def _replace_history(histories: dict[int, list[StatusEntry]], had_history: set[int]) -> None:
    """Replace status changes and pauses of the given tickets with bulk statements."""
    stale = [pk for pk in histories if pk in had_history]
    for start in range(0, len(stale), LOOKUP_CHUNK):
        chunk = stale[start : start + LOOKUP_CHUNK]
        TicketStatusChange.objects.filter(ticket_id__in=chunk).delete()
        TicketPause.objects.filter(ticket_id__in=chunk).delete()
    changes = [
        TicketStatusChange(
            ticket_id=pk,
            at=entry.at,
            status=entry.status,
            pauses_clock=entry.pauses_clock,
            resolves=entry.resolves,
        )
        for pk, history in histories.items()
        for entry in history
    ]
    pauses = [
        TicketPause(ticket_id=pk, start=pause.start, end=pause.end, reason=pause.reason[:60])
        for pk, history in histories.items()
        for pause in pauses_from_history(history)
    ]
    TicketStatusChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
    TicketPause.objects.bulk_create(pauses, batch_size=BATCH_SIZE)
