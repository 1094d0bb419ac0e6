"""Webhooks: what monitors and alert managers push to a source, checked and ingested.

``generic_receive`` takes the bulk API's row shapes, ``uptime_kuma_receive`` and
``alertmanager_receive`` those tools' own notifications; the HTTP endpoints
(``monitoring.api.webhooks``) authenticate the request and hand over the parsed payload.
Writes go through the same ingest core as the REST API, so the rules (all or nothing,
idempotent, coverage by the source customer's agreements) are the same. A signed delivery is
remembered with its data, so a replay is refused. See ``docs/ingest.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agreements.models import Service
from monitoring import signing
from monitoring.adapters import (
    AdapterError,
    alertmanager_rows,
    match_services,
    uptime_kuma_rows,
)
from monitoring.ingest import IngestError, IngestResult, RowError
from monitoring.ingest.fields import source_zone
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import SignedDelivery, Source, TicketEventStamp
from monitoring.models.ownership import accepted_services

# Same cap as the bulk API: a sender fixing a broken feed needs the first problems.
MAX_REPORTED_ERRORS = 1000
# Accepted signatures are kept this much longer than the timestamp tolerance (clock steps).
REPLAY_MARGIN_SECONDS = 60


class Refused(Exception):
    """Ends a webhook delivery early: the answer's HTTP status and its JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(body)


def error(status: int, message: str) -> Refused:
    return Refused(status, {"error": message})


def rows_error(errors: list[RowError], batch: str = "") -> Refused:
    listed = [
        error.as_dict() | ({"batch": batch} if batch else {})
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    return Refused(400, {"errors": listed, "error_count": len(errors)})


def result_counts(result: IngestResult) -> dict[str, int]:
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}


@dataclass(frozen=True, slots=True)
class Signed:
    """A request proven by its HMAC signature: the signature and the moment it was signed."""

    signature: str
    at: datetime


def remember(source: Source, signed: Signed) -> None:
    """Record an accepted signed delivery; refuse one already accepted (a replay).

    Called inside the transaction that writes the delivery's data: the delivery is
    remembered exactly when its data is written. A concurrent copy waits on the unique
    index until the first commits, then is refused."""
    now = timezone.now()
    window = timedelta(seconds=signing.TOLERANCE_SECONDS + REPLAY_MARGIN_SECONDS)
    # Older rows can no longer be replayed (their timestamp is refused): drop them here, so
    # the table stays as small as one window of deliveries without a periodic job.
    SignedDelivery.objects.filter(source=source, signed_at__lt=now - window).delete()
    try:
        with transaction.atomic():
            SignedDelivery.objects.create(
                source=source, signature=signed.signature, signed_at=signed.at, received_at=now
            )
    except IntegrityError:
        raise error(
            409,
            "this signed request was already accepted (a replay); sign each delivery anew",
        ) from None


def match(source: Source, names: set[str]) -> tuple[dict[str, Service], dict[str, str]]:
    """The sent names resolved to services covered by the source customer's agreements
    (through the source's label mapping, ignoring case and spacing), and the names refused
    with the reason. An uncovered name and an unknown one are refused alike, so a feed
    cannot probe another customer's catalogue."""
    covered = {service.name: service for service in accepted_services(source).only("pk", "name")}
    matched = match_services(names, set(covered), source.service_map)
    return {name: covered[found] for name, found in matched.found.items()}, matched.refused


def covered_services(source: Source, names: set[str]) -> dict[str, Service]:
    """Like :func:`match`, for endpoints where one refused name refuses the request."""
    found, refused = match(source, names)
    if refused:
        raise rows_error(
            [RowError(-1, "service", f"{name}: {refused[name]}") for name in sorted(refused)]
        )
    return found


def ingest_checks(
    source: Source,
    rows: list[tuple[str, dict[str, Any]]],
    services: dict[str, Service] | None = None,
) -> dict[str, Any]:
    """Ingest adapter rows of possibly several services as one all-or-nothing batch;
    ``services`` resolves their names (looked up, all or nothing, when not given)."""
    if services is None:
        services = covered_services(source, {name for name, _ in rows})
    # Grouped by the service resolved, not the name sent: "toy api" and "Toy API" in one
    # notification are one service, whose checks are one batch (down wins at one instant).
    by_service: dict[int, tuple[Service, dict[datetime, dict[str, Any]]]] = {}
    for name, row in rows:
        service = services[name]
        _, checks = by_service.setdefault(service.pk, (service, {}))
        seen = checks.get(row["checked_at"])
        if seen is None or seen["status"] != "down":
            checks[row["checked_at"]] = row
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # One transaction round the services: a notification is one event, so a failure in one
    # service must not leave the others half written for Alertmanager's retry to meet.
    with transaction.atomic():
        for service, checks in by_service.values():
            try:
                result = checks_ingest(source, service, list(checks.values()))
            except IngestError as exc:
                raise rows_error(exc.errors, batch=service.name) from None
            for key, value in result_counts(result).items():
                counts[key] += value
    return counts


# --- The three kinds of delivery ----------------------------------------------------------


def generic_receive(
    source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """``{"service": name, "checks": [...]}`` and/or ``{"tickets": [...]}``, rows as in the
    bulk API; both parts are written in one transaction or not at all. A ticket row signed
    before the newest change already applied to that ticket is skipped and listed as
    ``stale`` (see :func:`fresh_tickets`)."""
    checks, tickets = payload.get("checks"), payload.get("tickets")
    if checks is None and tickets is None:
        raise error(400, 'expected "checks" (with "service") and/or "tickets"')
    for key, value in (("checks", checks), ("tickets", tickets)):
        if value is not None and not isinstance(value, list):
            raise rows_error([RowError(-1, key, "expected a list of row objects")])
    service = None
    if checks is not None:
        name = payload.get("service")
        if not isinstance(name, str) or not name.strip():
            raise rows_error([RowError(-1, "service", "required with checks")])
        service = covered_services(source, {name.strip()})[name.strip()]
    answer: dict[str, Any] = {}
    with transaction.atomic():
        if service is not None:
            try:
                answer["checks"] = result_counts(checks_ingest(source, service, checks))
            except IngestError as exc:
                raise rows_error(exc.errors, batch="checks") from None
        if tickets is not None:
            positions = list(range(len(tickets)))
            if signed is not None:
                positions, stale = fresh_tickets(source, tickets, signed.at)
                if stale:
                    answer["stale"] = stale
            try:
                result = tickets_ingest(source, [tickets[i] for i in positions])
            except IngestError as exc:
                # Errors name the rows' positions in the request, not in the fresh subset.
                errors = [
                    RowError(positions[e.index] if e.index >= 0 else -1, e.field, e.reason)
                    for e in exc.errors
                ]
                raise rows_error(errors, batch="tickets") from None
            answer["tickets"] = result_counts(result)
    return answer


def fresh_tickets(
    source: Source, rows: Sequence[Any], signed_at: datetime
) -> tuple[list[int], list[dict[str, Any]]]:
    """Positions of the rows to apply, and the stale rows skipped.

    A ticket row is a snapshot of the ticket (its fields and whole status history), so an
    older snapshot applied after a newer one would roll the ticket back (a resolved ticket
    reopened by a delayed "open" event). Each ticket keeps the signed time of the newest event
    applied to it; one upsert raises it where this event is as new or newer and returns those
    ids, holding their rows locked until commit, so concurrent events are ordered too. Rows
    without a usable ``external_id`` are left to the ingest's validation."""
    ids = {
        row["external_id"].strip()
        for row in rows
        if isinstance(row, Mapping)
        and isinstance(row.get("external_id"), str)
        and row["external_id"].strip()
    }
    if not ids:
        return list(range(len(rows))), []
    table = TicketEventStamp._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(ids))
    params: list[Any] = []
    for external_id in sorted(ids):
        params += [source.pk, external_id[:120], signed_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source_id, external_id, event_at) VALUES {values} "
            "ON CONFLICT (source_id, external_id) DO UPDATE SET event_at = EXCLUDED.event_at "
            f"WHERE {table}.event_at <= EXCLUDED.event_at RETURNING external_id",
            params,
        )
        fresh_ids = {row[0] for row in cursor.fetchall()}
    positions: list[int] = []
    stale: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        external_id = row.get("external_id") if isinstance(row, Mapping) else None
        key = external_id.strip()[:120] if isinstance(external_id, str) else ""
        if key and key not in fresh_ids:
            stale.append(
                {
                    "index": index,
                    "external_id": key,
                    "reason": "signed before the newest change already applied to this ticket",
                }
            )
        else:
            positions.append(index)
    return positions, stale


def uptime_kuma_receive(source: Source, payload: Mapping[str, Any], service: str) -> dict[str, Any]:
    """An Uptime Kuma webhook notification: one check of the monitor's service (``service``,
    when not empty, names it instead)."""
    # Uptime Kuma writes its server's local time without a zone; the source says which.
    zone = source_zone(source.timezone) or UTC
    try:
        rows = uptime_kuma_rows(payload, zone)
    except AdapterError as exc:
        raise rows_error([RowError(-1, exc.field, exc.reason)]) from None
    if not rows:
        note = {"reason": "no heartbeat: a test message"}
        return {"checks": result_counts(IngestResult()), "ignored": [note]}
    if service:
        rows = [(service, row) for _, row in rows]
    return {"checks": ingest_checks(source, rows)}


def alertmanager_receive(
    source: Source, payload: Mapping[str, Any], service: str
) -> dict[str, Any]:
    """A Prometheus Alertmanager notification: firing alerts are down checks at their start,
    resolved ones add the up check at their end (``service``, when not empty, names the
    service of every alert)."""
    try:
        converted = alertmanager_rows(payload, service or None, source.for_seconds)
    except AdapterError as exc:
        raise rows_error([RowError(-1, exc.field, exc.reason)]) from None
    # Alerts of services the source may not report on are listed, not fatal: Alertmanager
    # re-sends a refused group every group_interval, so a 400 would lose the valid outages
    # of the group for good.
    services, refused_names = match(source, set(converted.alerts))
    rows = [(name, row) for name, row in converted.rows if name in services]
    answer: dict[str, Any] = {"checks": ingest_checks(source, rows, services)}
    if converted.ignored:
        answer["ignored"] = converted.ignored
    refused = sorted(
        (
            {"index": index, "service": name, "alertname": alertname, "reason": reason}
            for name, reason in refused_names.items()
            for index, alertname in converted.alerts[name]
        ),
        key=lambda item: item["index"],
    )
    if refused:
        answer["refused"] = refused
    return answer
