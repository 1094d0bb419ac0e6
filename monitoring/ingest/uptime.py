"""Set-based ingest of uptime checks (with the outages derived from them) and maintenance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from agreements.models import Service
from monitoring.ingest import (
    MAX_BATCH,
    IngestError,
    IngestResult,
    RowError,
    mark_received,
    notify_changed,
    source_accepts,
)
from monitoring.ingest.bulk import bulk_update_rows
from monitoring.ingest.copy import uses_copy
from monitoring.ingest.fields import (
    FieldError,
    integer,
    is_blank,
    optional_timestamp,
    required_timestamp,
    source_zone,
    text,
)
from monitoring.ingest.upsert import checks_upsert, outages_recompute
from monitoring.models import MaintenanceWindow, Outage, Source, UptimeCheck
from monitoring.models.ownership import accepted_services
from monitoring.outages import outages_from_checks

__all__ = ["checks_ingest", "maintenance_ingest"]

BATCH_SIZE = 2000
LOOKUP_CHUNK = 10_000
CHECK_STATUSES = frozenset(UptimeCheck.Status.values)


def _limit(rows: Sequence[Mapping]) -> None:
    if len(rows) > MAX_BATCH:
        raise IngestError(
            [RowError(-1, "", f"{len(rows)} rows; send at most {MAX_BATCH} per batch")]
        )


def _field(key: str, parse):
    try:
        return parse()
    except FieldError as exc:
        raise FieldError(key, str(exc)) from None


def _covered(source: Source, service: Service) -> bool:
    """Data of a service is accepted from a source only if the source's customer has an
    agreement covering it (any agreement, for a provider-shared source): the rest is refused,
    never stored to count nowhere (``monitoring.models.ownership.accepted_services``)."""
    return accepted_services(source).filter(pk=service.pk).exists()


# --- Checks and outages --------------------------------------------------------------------


def _clean_check(row: Mapping, zone: Any) -> tuple[datetime, str, int | None]:
    # The shape almost every sender uses (a JSON object, a UTC timestamp, a status as
    # stored, a count or null), recognised by exact types: for it the general parsers below
    # return exactly these values. Everything else, including every error, goes through
    # them. The general path was two thirds of the Python time of a 50,000-check batch.
    if type(row) is dict:
        raw, status, ms = row.get("checked_at"), row.get("status"), row.get("response_ms")
        if (
            type(raw) is str
            and type(status) is str
            and status in CHECK_STATUSES
            and (ms is None or (type(ms) is int and ms >= 0))
        ):
            try:
                checked_at = datetime.fromisoformat(raw)
            except ValueError:
                checked_at = None
            if checked_at is not None and checked_at.tzinfo is UTC:
                return checked_at, status, ms
    return _clean_check_general(row, zone)


def _clean_check_general(row: Mapping, zone: Any) -> tuple[datetime, str, int | None]:
    if not isinstance(row, Mapping):
        raise FieldError("", "expected an object")
    checked_at = _field("checked_at", lambda: required_timestamp(row, "checked_at", zone))
    status = _field("status", lambda: text(row, "status", 12, required=True)).lower()
    if status not in CHECK_STATUSES:
        raise FieldError("status", "expected up, down or maintenance")
    raw = row.get("response_ms")
    response_ms = None if is_blank(raw) else _field("response_ms", lambda: integer(raw))
    if response_ms is not None and response_ms < 0:
        raise FieldError("response_ms", "must not be negative")
    return checked_at, status, response_ms


def checks_ingest(source: Source, service: Service, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert uptime checks of ``service`` from ``source`` (keyed by
    ``checked_at``), then recompute the outages of that source's view of the service around
    the checks sent. Other sources' checks of the service are neither read nor touched.

    Row keys: ``checked_at`` (required), ``status`` (``up``, ``down`` or ``maintenance``),
    ``response_ms``. Raises :class:`IngestError` listing every invalid row (nothing written)."""
    source_accepts(source)
    _limit(rows)
    if not _covered(source, service):
        raise IngestError(
            [RowError(-1, "service", "no agreement of the source's customer covers this service")]
        )
    zone = source_zone(source.timezone)
    errors: list[RowError] = []
    cleaned: dict[datetime, tuple[str, int | None]] = {}
    first_index: dict[datetime, int] = {}
    for index, row in enumerate(rows):
        try:
            checked_at, status, response_ms = _clean_check(row, zone)
        except FieldError as exc:
            errors.append(RowError(index, exc.args[0], exc.args[1]))
            continue
        if checked_at in first_index:
            reason = f"duplicate of row {first_index[checked_at]} in this batch"
            errors.append(RowError(index, "checked_at", reason))
            continue
        first_index[checked_at] = index
        cleaned[checked_at] = (status, response_ms)
    if errors:
        raise IngestError(errors)
    if not cleaned:
        return IngestResult()

    low, high = min(cleaned), max(cleaned)
    with transaction.atomic():
        mark_received(source, data_until=high)
        if uses_copy():
            created, updated = checks_upsert(
                source.pk,
                service.pk,
                [(at, status, ms) for at, (status, ms) in cleaned.items()],
            )
        else:
            created, updated = _write_checks(source, service, cleaned, low, high)
        if created or updated:
            _recompute_outages(source, service, low, high)
            transaction.on_commit(lambda: notify_changed("checks", [service.pk]))
    return IngestResult(
        created=created, updated=updated, unchanged=len(cleaned) - created - updated
    )


def _write_checks(
    source: Source,
    service: Service,
    cleaned: dict[datetime, tuple[str, int | None]],
    low: datetime,
    high: datetime,
) -> tuple[int, int]:
    """The ORM path (SQLite in development); returns how many checks were created and
    updated."""
    # One range query: a batch is a stretch of the source's timeline of one service.
    existing = {
        checked_at: (pk, status, response_ms, source_id)
        for pk, checked_at, status, response_ms, source_id in UptimeCheck.objects.filter(
            service=service, source=source, checked_at__gte=low, checked_at__lte=high
        ).values_list("pk", "checked_at", "status", "response_ms", "source_id")
    }
    to_create: list[UptimeCheck] = []
    to_update: list[UptimeCheck] = []
    for checked_at, (status, response_ms) in cleaned.items():
        stored = existing.get(checked_at)
        if stored is not None and stored[1:] == (status, response_ms, source.pk):
            continue
        check = UptimeCheck(
            service=service,
            source=source,
            checked_at=checked_at,
            status=status,
            response_ms=response_ms,
        )
        if stored is None:
            to_create.append(check)
        else:
            check.pk = stored[0]
            to_update.append(check)
    UptimeCheck.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    bulk_update_rows(UptimeCheck, to_update, ["status", "response_ms", "source"])
    return len(to_create), len(to_update)


def _recompute_outages(source: Source, service: Service, low: datetime, high: datetime) -> None:
    """Replace the outages ``source`` recorded for ``service`` around ``[low, high]`` with
    those its checks give: each source's outages come from its own checks only.

    The span is widened to the last ``up`` check before it and the first ``up`` check after
    it: only an ``up`` ends an outage, so outages outside those anchors cannot depend on the
    changed checks, and an outage running into or out of the batch is recomputed whole."""
    checks = UptimeCheck.objects.filter(service=service, source=source)
    up = checks.filter(status=UptimeCheck.Status.UP)
    before = (
        up.filter(checked_at__lt=low).order_by("-checked_at").values_list("checked_at", flat=True)
    ).first()
    after = (
        up.filter(checked_at__gt=high).order_by("checked_at").values_list("checked_at", flat=True)
    ).first()
    window = checks
    overlapping = Outage.objects.filter(service=service, source=source)
    if before is not None:
        window = window.filter(checked_at__gte=before)
        overlapping = overlapping.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=before))
    if after is not None:
        window = window.filter(checked_at__lte=after)
        overlapping = overlapping.filter(started_at__lt=after)
    if uses_copy():
        outages_recompute(source.pk, service.pk, before, after)
        return
    derived = outages_from_checks(window.order_by("checked_at").values_list("checked_at", "status"))
    overlapping.delete()
    Outage.objects.bulk_create(
        [
            Outage(service=service, source=source, started_at=start, ended_at=end)
            for start, end in derived
        ],
        batch_size=BATCH_SIZE,
    )


# --- Maintenance windows -------------------------------------------------------------------

MAINTENANCE_FIELDS = ("title", "starts_at", "ends_at", "announced_at")


def _clean_maintenance(
    row: Mapping, zone: Any, services: dict[str, int]
) -> tuple[tuple[int, str], dict[str, Any]]:
    if not isinstance(row, Mapping):
        raise FieldError("", "expected an object")
    external_id = _field("external_id", lambda: text(row, "external_id", 120, required=True))
    name = _field("service", lambda: text(row, "service", 200, required=True))
    if name not in services:
        raise FieldError("service", "no agreement of the source's customer covers this service")
    values = {
        "title": _field("title", lambda: text(row, "title", 300)),
        "starts_at": _field("starts_at", lambda: required_timestamp(row, "starts_at", zone)),
        "ends_at": _field("ends_at", lambda: required_timestamp(row, "ends_at", zone)),
        "announced_at": _field(
            "announced_at", lambda: optional_timestamp(row, "announced_at", zone)
        ),
    }
    if values["ends_at"] <= values["starts_at"]:
        raise FieldError("ends_at", "maintenance must end after it starts")
    return (services[name], external_id), values


def maintenance_ingest(source: Source, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert planned maintenance windows of ``source``, keyed by service and
    ``external_id``.

    Row keys: ``external_id``, ``service`` (name of a service of the customer's agreements),
    ``starts_at``, ``ends_at`` (after the start), ``title`` and ``announced_at``. Raises
    :class:`IngestError` listing every invalid row (nothing written)."""
    source_accepts(source)
    _limit(rows)
    zone = source_zone(source.timezone)
    services = dict(accepted_services(source).values_list("name", "pk"))
    errors: list[RowError] = []
    cleaned: dict[tuple[int, str], dict[str, Any]] = {}
    first_index: dict[tuple[int, str], int] = {}
    for index, row in enumerate(rows):
        try:
            key, values = _clean_maintenance(row, zone, services)
        except FieldError as exc:
            errors.append(RowError(index, exc.args[0], exc.args[1]))
            continue
        if key in first_index:
            reason = f"duplicate of row {first_index[key]} in this batch"
            errors.append(RowError(index, "external_id", reason))
            continue
        first_index[key] = index
        cleaned[key] = values
    if errors:
        raise IngestError(errors)

    with transaction.atomic():
        # Announced maintenance says nothing about whether data still flows.
        mark_received(source, evidence=False)
        external_ids = sorted({external_id for _, external_id in cleaned})
        existing: dict[tuple[int, str], tuple[int, tuple]] = {}
        for start in range(0, len(external_ids), LOOKUP_CHUNK):
            for pk, service_id, external_id, *values in MaintenanceWindow.objects.filter(
                source=source, external_id__in=external_ids[start : start + LOOKUP_CHUNK]
            ).values_list("pk", "service_id", "external_id", *MAINTENANCE_FIELDS):
                existing[(service_id, external_id)] = (pk, tuple(values))
        to_create: list[MaintenanceWindow] = []
        to_update: list[MaintenanceWindow] = []
        for (service_id, external_id), values in cleaned.items():
            stored = existing.get((service_id, external_id))
            if stored is not None and stored[1] == tuple(values[f] for f in MAINTENANCE_FIELDS):
                continue
            window = MaintenanceWindow(
                source=source, service_id=service_id, external_id=external_id, **values
            )
            if stored is None:
                to_create.append(window)
            else:
                window.pk = stored[0]
                to_update.append(window)
        MaintenanceWindow.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        bulk_update_rows(MaintenanceWindow, to_update, MAINTENANCE_FIELDS)
        changed = [window.pk for window in (*to_create, *to_update) if window.pk is not None]
        if changed:
            transaction.on_commit(lambda: notify_changed("maintenance", changed))
    return IngestResult(
        created=len(to_create),
        updated=len(to_update),
        unchanged=len(cleaned) - len(to_create) - len(to_update),
    )
