"""Webhooks: monitors and alert managers push checks and tickets to a source.

``/hooks/<source_id>/generic/`` takes the bulk API's row shapes, ``…/uptime-kuma/`` and
``…/alertmanager/`` take those tools' own notifications. There is no user here: the source's
``signing_secret`` is the credential, proven by an HMAC signature (:mod:`monitoring.signing`)
or, for the two tools that cannot compute one, by ``Authorization: Bearer <secret>``. Writes go
through the same ingest core as the REST API, so the rules (all or nothing, idempotent,
coverage by the source customer's agreements) are the same. See ``docs/ingest.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from agreements.models import Service
from monitoring import signing
from monitoring.adapters import (
    AdapterError,
    alertmanager_rows,
    match_services,
    uptime_kuma_rows,
)
from monitoring.deliveries import delivery_accepted, delivery_refused
from monitoring.ingest import IngestError, IngestResult, RowError
from monitoring.ingest.fields import source_zone
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import SignedDelivery, Source, TicketEventStamp
from monitoring.models.ownership import accepted_services
from sla_portal.core import safejson

__all__ = ["alertmanager", "generic", "uptime_kuma"]

# Notifications are small; a megabyte is thousands of checks. Larger batches belong on the
# bulk API, which streams and allows 50 MB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Same cap as the bulk API: a sender fixing a broken feed needs the first problems.
MAX_REPORTED_ERRORS = 1000
# Accepted signatures are kept this much longer than the timestamp tolerance (clock steps).
REPLAY_MARGIN_SECONDS = 60
# What a request without credentials is told, per endpoint: every scheme it accepts.
SIGNED_ONLY = f"missing {signing.TIMESTAMP_HEADER} or {signing.SIGNATURE_HEADER} header"
SIGNED_OR_BEARER = (
    "missing credentials: send Authorization: Bearer <the source's signing secret>, or sign "
    f"the request with {signing.TIMESTAMP_HEADER} and {signing.SIGNATURE_HEADER}"
)


class Refused(Exception):
    """Ends a webhook request early with a JSON answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(body)


def _error(status: int, message: str) -> Refused:
    return Refused(status, {"error": message})


def _rows_error(errors: list[RowError], batch: str = "") -> Refused:
    listed = [
        error.as_dict() | ({"batch": batch} if batch else {})
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    return Refused(400, {"errors": listed, "error_count": len(errors)})


def _counts(result: IngestResult) -> dict[str, int]:
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}


# --- The common part: method, source, size, authentication, JSON ---------------------------


def _max_body_bytes() -> int:
    return getattr(settings, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


def _source(source_id: int) -> Source:
    # No acting user to scope by: the secret checked next is the credential, and the answer
    # is the same bare 404 for any id that is not a source.
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        raise _error(404, "not found")
    return source


def _body(request: HttpRequest) -> bytes:
    """The raw body (the signature covers its exact bytes), refused above the limit without
    reading it when the length is declared."""
    limit = _max_body_bytes()
    too_large = _error(413, f"the body is larger than {limit} bytes")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


@dataclass(frozen=True, slots=True)
class Signed:
    """A request proven by its HMAC signature: the signature and the moment it was signed."""

    signature: str
    at: datetime


def _authenticate(request: HttpRequest, source: Source, body: bytes, bearer: bool) -> Signed | None:
    """Check the credentials; return the signature of a signed request (None for a bearer
    token). During the overlap after a rotation both the current and the previous secret
    verify."""
    signature = request.headers.get(signing.SIGNATURE_HEADER)
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER)
    authorization = request.headers.get("Authorization")
    now = time.time()
    secrets = source.verifying_secrets(datetime.fromtimestamp(now, UTC))
    if bearer and signature is None and authorization is not None:
        if any(signing.bearer_matches(secret, authorization) for secret in secrets):
            return None
        if authorization.strip().partition(" ")[0].lower() != "bearer":
            raise _error(401, "the Authorization header must be: Bearer <signing secret>")
        raise _error(401, "bearer token does not match the source's signing secret")
    if signature is None and timestamp is None:
        # Name every scheme this endpoint accepts, and only those.
        if bearer:
            raise _error(401, SIGNED_OR_BEARER)
        if authorization is not None:
            raise _error(
                401, f"{SIGNED_ONLY}: this endpoint takes signed requests, not a bearer token"
            )
        raise _error(401, SIGNED_ONLY)
    # The reasons other than "does not match" (headers, clock) are the same for every secret.
    reasons = [signing.verify(secret, timestamp, signature, body, now=now) for secret in secrets]
    if None not in reasons:
        raise _error(401, reasons[0])
    return Signed(signature, datetime.fromtimestamp(int(timestamp), UTC))


def _remember(source: Source, signed: Signed) -> None:
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
        raise _error(
            409,
            "this signed request was already accepted (a replay); sign each delivery anew",
        ) from None


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = safejson.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _error(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _error(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _error(400, "expected a JSON object")
    return payload


def _webhook(
    handle: Callable[[HttpRequest, Source, Mapping[str, Any], Signed | None], dict[str, Any]],
    *,
    bearer: bool,
) -> Callable[..., HttpResponse]:
    """A view running the shared steps in the order that leaks least and works least for a
    refused request: method, source, size, authentication, then parsing."""

    @csrf_exempt
    def view(request: HttpRequest, source_id: int) -> HttpResponse:
        try:
            if request.method != "POST":
                response = JsonResponse({"error": "only POST is allowed"}, status=405)
                response["Allow"] = "POST"
                return response
            source = _source(source_id)
        except Refused as refused:
            return JsonResponse(refused.body, status=refused.status)
        try:
            body = _body(request)
            signed = _authenticate(request, source, body, bearer)
            if not source.enabled:
                # After authentication, so only the sender holding the secret learns it.
                raise _error(403, "this source is disabled; its data is kept, new data refused")
            payload = _json_object(body)
            with transaction.atomic():
                if signed is not None:
                    _remember(source, signed)
                answer = handle(request, source, payload, signed)
        except Refused as refused:
            # Counted on the source (its page and API show it) and announced once per
            # episode; a disabled source is refused on purpose, and a replay is most often a
            # sender's retry of a delivery already applied, so neither is announced.
            delivery_refused(
                source,
                refused.status,
                _reason(refused.body),
                announce=refused.status not in {403, 409},
            )
            return JsonResponse(refused.body, status=refused.status)
        delivery_accepted(source, answer.get("refused"))
        return JsonResponse(answer)

    view.__name__ = handle.__name__.lstrip("_")
    view.__doc__ = handle.__doc__
    return view


def _reason(body: dict[str, Any]) -> str:
    """One line saying why a request was refused, from the answer the sender got."""
    if "error" in body:
        return str(body["error"])
    errors = body.get("errors") or [{}]
    first = errors[0]
    where = first.get("field") or "body"
    more = body.get("error_count", 1) - 1
    return f"{where}: {first.get('reason', 'invalid')}" + (f" (and {more} more)" if more else "")


def _match(source: Source, names: set[str]) -> tuple[dict[str, Service], dict[str, str]]:
    """The sent names resolved to services covered by the source customer's agreements
    (through the source's label mapping, ignoring case and spacing), and the names refused
    with the reason. An uncovered name and an unknown one are refused alike, so a feed
    cannot probe another customer's catalogue."""
    covered = {service.name: service for service in accepted_services(source).only("pk", "name")}
    match = match_services(names, set(covered), source.service_map)
    return {name: covered[found] for name, found in match.found.items()}, match.refused


def _covered_services(source: Source, names: set[str]) -> dict[str, Service]:
    """Like :func:`_match`, for endpoints where one refused name refuses the request."""
    found, refused = _match(source, names)
    if refused:
        raise _rows_error(
            [RowError(-1, "service", f"{name}: {refused[name]}") for name in sorted(refused)]
        )
    return found


def _ingest_checks(
    source: Source,
    rows: list[tuple[str, dict[str, Any]]],
    services: dict[str, Service] | None = None,
) -> dict[str, Any]:
    """Ingest adapter rows of possibly several services as one all-or-nothing batch;
    ``services`` resolves their names (looked up, all or nothing, when not given)."""
    if services is None:
        services = _covered_services(source, {name for name, _ in rows})
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
                raise _rows_error(exc.errors, batch=service.name) from None
            for key, value in _counts(result).items():
                counts[key] += value
    return counts


# --- The three endpoints -------------------------------------------------------------------


def _generic(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """``{"service": name, "checks": [...]}`` and/or ``{"tickets": [...]}``, rows as in the
    bulk API; both parts are written in one transaction or not at all. A ticket row signed
    before the newest change already applied to that ticket is skipped and listed as
    ``stale`` (see :func:`_fresh_tickets`)."""
    checks, tickets = payload.get("checks"), payload.get("tickets")
    if checks is None and tickets is None:
        raise _error(400, 'expected "checks" (with "service") and/or "tickets"')
    for key, value in (("checks", checks), ("tickets", tickets)):
        if value is not None and not isinstance(value, list):
            raise _rows_error([RowError(-1, key, "expected a list of row objects")])
    service = None
    if checks is not None:
        name = payload.get("service")
        if not isinstance(name, str) or not name.strip():
            raise _rows_error([RowError(-1, "service", "required with checks")])
        service = _covered_services(source, {name.strip()})[name.strip()]
    answer: dict[str, Any] = {}
    with transaction.atomic():
        if service is not None:
            try:
                answer["checks"] = _counts(checks_ingest(source, service, checks))
            except IngestError as exc:
                raise _rows_error(exc.errors, batch="checks") from None
        if tickets is not None:
            positions = list(range(len(tickets)))
            if signed is not None:
                positions, stale = _fresh_tickets(source, tickets, signed.at)
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
                raise _rows_error(errors, batch="tickets") from None
            answer["tickets"] = _counts(result)
    return answer


def _fresh_tickets(
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


def _uptime_kuma(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """An Uptime Kuma webhook notification: one check of the monitor's service."""
    # Uptime Kuma writes its server's local time without a zone; the source says which.
    zone = source_zone(source.timezone) or UTC
    try:
        rows = uptime_kuma_rows(payload, zone)
    except AdapterError as exc:
        raise _rows_error([RowError(-1, exc.field, exc.reason)]) from None
    if not rows:
        note = {"reason": "no heartbeat: a test message"}
        return {"checks": _counts(IngestResult()), "ignored": [note]}
    override = request.GET.get("service", "").strip()
    if override:
        rows = [(override, row) for _, row in rows]
    return {"checks": _ingest_checks(source, rows)}


def _alertmanager(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """A Prometheus Alertmanager notification: firing alerts are down checks at their start,
    resolved ones add the up check at their end."""
    try:
        converted = alertmanager_rows(
            payload, request.GET.get("service", "").strip() or None, source.for_seconds
        )
    except AdapterError as exc:
        raise _rows_error([RowError(-1, exc.field, exc.reason)]) from None
    # Alerts of services the source may not report on are listed, not fatal: Alertmanager
    # re-sends a refused group every group_interval, so a 400 would lose the valid outages
    # of the group for good.
    services, refused_names = _match(source, set(converted.alerts))
    rows = [(name, row) for name, row in converted.rows if name in services]
    answer: dict[str, Any] = {"checks": _ingest_checks(source, rows, services)}
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


generic = _webhook(_generic, bearer=False)
uptime_kuma = _webhook(_uptime_kuma, bearer=True)
alertmanager = _webhook(_alertmanager, bearer=True)
