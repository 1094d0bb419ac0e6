"""Set-based ingest of error events, measurements and continuity incidents.

The three share one shape: rows name a service (by name, among the services the source's
customer's agreements cover), are validated as a whole batch, and are upserted by a natural
key in one transaction with bulk statements. Rows already stored exactly so are not touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models, transaction

from monitoring.ingest import (
    MAX_BATCH,
    IngestError,
    IngestResult,
    RowError,
    mark_received,
    newest_time,
    notify_changed,
    source_accepts,
)
from monitoring.ingest.bulk import bulk_update_rows
from monitoring.ingest.fields import (
    FieldError,
    is_blank,
    optional_timestamp,
    required_timestamp,
    source_zone,
    text,
)
from monitoring.models import ContinuityIncident, ErrorEvent, Measurement, Source
from monitoring.models.ownership import accepted_services

__all__ = ["errors_ingest", "incidents_ingest", "measurements_ingest"]

BATCH_SIZE = 2000
LOOKUP_CHUNK = 10_000
NOT_COVERED = "no agreement of the source's customer covers this service"
# The model's column is unbounded; a description longer than this is a broken export, not prose.
DESCRIPTION_MAX = 10_000

Key = tuple[Any, ...]
Values = dict[str, Any]
Cleaner = Callable[[Mapping, Any, dict[str, int]], tuple[Key, Values]]


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one kind of row is keyed, compared and stored.

    ``key_fields`` and ``value_fields`` are model attribute names (``service_id``, not
    ``service``) in the order the cleaner returns them; ``lookup`` narrows the stored rows to
    those that may match a chunk of keys (it may return more: matching is exact in Python)."""

    model: type[models.Model]
    notify: str
    duplicate_field: str
    key_fields: tuple[str, ...]
    value_fields: tuple[str, ...]
    clean: Cleaner
    lookup: Callable[[Source, list[Key]], models.QuerySet]


# --- Shared steps ----------------------------------------------------------------------------


def _field(key: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except FieldError as exc:
        raise FieldError(key, str(exc)) from None


def _object(row: Any) -> Mapping:
    if not isinstance(row, Mapping):
        raise FieldError("", "expected an object")
    return row


def _service(row: Mapping, services: dict[str, int]) -> int:
    name = _field("service", lambda: text(row, "service", 200, required=True))
    # Another customer's service gets the same answer as an unknown one, so a feed learns
    # nothing about the catalogue beyond its own agreements.
    if name not in services:
        raise FieldError("service", NOT_COVERED)
    return services[name]


def _customer_services(source: Source) -> dict[str, int]:
    """Names and ids of the services the source may send data for (its customer's
    agreements', or any agreement's for a shared source: ``monitoring.models.ownership``)."""
    return dict(accepted_services(source).values_list("name", "pk"))


def _ingest(kind: _Kind, source: Source, rows: Sequence[Mapping]) -> IngestResult:
    source_accepts(source)
    if len(rows) > MAX_BATCH:
        raise IngestError(
            [RowError(-1, "", f"{len(rows)} rows; send at most {MAX_BATCH} per batch")]
        )
    zone = source_zone(source.timezone)
    services = _customer_services(source)
    errors: list[RowError] = []
    cleaned: dict[Key, Values] = {}
    first_index: dict[Key, int] = {}
    for index, row in enumerate(rows):
        try:
            key, values = kind.clean(_object(row), zone, services)
        except FieldError as exc:
            errors.append(RowError(index, exc.args[0], exc.args[1]))
            continue
        if key in first_index:
            reason = f"duplicate of row {first_index[key]} in this batch"
            errors.append(RowError(index, kind.duplicate_field, reason))
            continue
        first_index[key] = index
        cleaned[key] = values | {"source_id": source.pk}
    if errors:
        raise IngestError(errors)
    if not cleaned:
        return IngestResult()
    return _write(kind, source, cleaned)


def _write(kind: _Kind, source: Source, cleaned: dict[Key, Values]) -> IngestResult:
    width = len(kind.key_fields)
    with transaction.atomic():
        mark_received(source, data_until=newest_time(cleaned.values()))
        keys = list(cleaned)
        existing: dict[Key, tuple[int, tuple]] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            stored_rows = kind.lookup(source, keys[start : start + LOOKUP_CHUNK]).values_list(
                "pk", *kind.key_fields, *kind.value_fields
            )
            for pk, *rest in stored_rows:
                key = tuple(rest[:width])
                if key in cleaned:
                    existing[key] = (pk, tuple(rest[width:]))
        to_create: list[models.Model] = []
        to_update: list[models.Model] = []
        for key, values in cleaned.items():
            stored = existing.get(key)
            if stored is not None and stored[1] == tuple(values[f] for f in kind.value_fields):
                continue
            instance = kind.model(**dict(zip(kind.key_fields, key, strict=True)), **values)
            if stored is None:
                to_create.append(instance)
            else:
                instance.pk = stored[0]
                to_update.append(instance)
        kind.model.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        bulk_update_rows(kind.model, to_update, kind.value_fields)
        changed = [row.pk for row in (*to_create, *to_update) if row.pk is not None]
        if changed:
            transaction.on_commit(lambda: notify_changed(kind.notify, changed))
    return IngestResult(
        created=len(to_create),
        updated=len(to_update),
        unchanged=len(cleaned) - len(to_create) - len(to_update),
    )


def _by_external_id(model: type[models.Model]) -> Callable[[Source, list[Key]], models.QuerySet]:
    def lookup(source: Source, keys: list[Key]) -> models.QuerySet:
        return model.objects.filter(source=source, external_id__in=[k[0] for k in keys])

    return lookup


# --- Error events ----------------------------------------------------------------------------


def _clean_error(row: Mapping, zone: Any, services: dict[str, int]) -> tuple[Key, Values]:
    external_id = _field("external_id", lambda: text(row, "external_id", 120, required=True))
    values = {
        "service_id": _service(row, services),
        "category": _field("category", lambda: text(row, "category", 80, required=True)),
        "occurred_at": _field("occurred_at", lambda: required_timestamp(row, "occurred_at", zone)),
    }
    return (external_id,), values


ERRORS = _Kind(
    model=ErrorEvent,
    notify="errors",
    duplicate_field="external_id",
    key_fields=("external_id",),
    value_fields=("service_id", "category", "occurred_at", "source_id"),
    clean=_clean_error,
    lookup=_by_external_id(ErrorEvent),
)


def errors_ingest(source: Source, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert error events of ``source``, keyed by ``external_id``.

    Row keys: ``external_id``, ``service`` (name of a service of the customer's agreements),
    ``category`` and ``occurred_at`` (all required). Raises :class:`IngestError` listing every
    invalid row (nothing written)."""
    return _ingest(ERRORS, source, rows)


# --- Measurements ----------------------------------------------------------------------------


def _number(value: Any) -> float:
    # bool is an int in Python, but True is no measurement.
    if isinstance(value, bool):
        raise FieldError("expected a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise FieldError(f"expected a number, got {value!r}") from None
    else:
        raise FieldError(f"expected a number, got {type(value).__name__}")
    # JSON parsers accept NaN and Infinity, float() accepts "nan" and "inf"; neither is a value
    # a target can be checked against.
    if not math.isfinite(number):
        raise FieldError("must be a finite number")
    return number


def _clean_measurement(row: Mapping, zone: Any, services: dict[str, int]) -> tuple[Key, Values]:
    service_id = _service(row, services)
    name = _field("name", lambda: text(row, "name", 160, required=True))
    measured_at = _field("measured_at", lambda: required_timestamp(row, "measured_at", zone))
    raw = row.get("value")
    if is_blank(raw):
        raise FieldError("value", "required")
    value = _field("value", lambda: _number(raw))
    return (service_id, name, measured_at), {"value": value}


def _measurement_lookup(source: Source, keys: list[Key]) -> models.QuerySet:
    # Keyed by service, name and time within the source: another customer's feed measuring
    # the same service keeps its own values (monitoring.models.ownership).
    return Measurement.objects.filter(
        source=source,
        service_id__in={k[0] for k in keys},
        name__in={k[1] for k in keys},
        measured_at__in={k[2] for k in keys},
    )


MEASUREMENTS = _Kind(
    model=Measurement,
    notify="measurements",
    duplicate_field="measured_at",
    key_fields=("service_id", "name", "measured_at"),
    value_fields=("value", "source_id"),
    clean=_clean_measurement,
    lookup=_measurement_lookup,
)


def measurements_ingest(source: Source, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert measured values, keyed by service, ``name`` and ``measured_at``.

    Row keys: ``service`` (name of a service of the customer's agreements), ``name``,
    ``measured_at`` and ``value`` (a finite number; all required). Raises
    :class:`IngestError` listing every invalid row (nothing written)."""
    return _ingest(MEASUREMENTS, source, rows)


# --- Continuity incidents --------------------------------------------------------------------


def _clean_incident(row: Mapping, zone: Any, services: dict[str, int]) -> tuple[Key, Values]:
    external_id = _field("external_id", lambda: text(row, "external_id", 120, required=True))
    values: Values = {
        "service_id": _service(row, services),
        "started_at": _field("started_at", lambda: required_timestamp(row, "started_at", zone)),
        "recovered_at": _field(
            "recovered_at", lambda: optional_timestamp(row, "recovered_at", zone)
        ),
        "description": _field("description", lambda: text(row, "description", DESCRIPTION_MAX)),
    }
    recovered_at: datetime | None = values["recovered_at"]
    if recovered_at is not None and recovered_at < values["started_at"]:
        raise FieldError("recovered_at", "an incident cannot be recovered before it started")
    return (external_id,), values


INCIDENTS = _Kind(
    model=ContinuityIncident,
    notify="incidents",
    duplicate_field="external_id",
    key_fields=("external_id",),
    value_fields=("service_id", "started_at", "recovered_at", "description", "source_id"),
    clean=_clean_incident,
    lookup=_by_external_id(ContinuityIncident),
)


def incidents_ingest(source: Source, rows: Sequence[Mapping]) -> IngestResult:
    """Validate and upsert continuity incidents of ``source``, keyed by ``external_id``.

    Row keys: ``external_id``, ``service`` (name of a service of the customer's agreements),
    ``started_at`` (required), ``recovered_at`` (optional, not before the start) and
    ``description``. Raises :class:`IngestError` listing every invalid row (nothing
    written)."""
    return _ingest(INCIDENTS, source, rows)
