"""Statuspage scheduled maintenances → maintenance rows for ``maintenance_ingest``.

One row per (maintenance, component): a window that lists several components excuses each of
them. ``external_id`` is ``"<maintenance id>:<component>"`` so a re-import upserts the same
rows. ``scheduled_for``/``scheduled_until`` are the window and ``created_at`` (when the
maintenance was published) is ``announced_at``, which notice-period rules compare against.
A maintenance that lists no component cannot be attached to a service: it is reported, unless
``default_service`` names the service such windows belong to.
"""

from __future__ import annotations

from monitoring.importers.common import (
    CHANGED,
    FILLED,
    ParseResult,
    Source,
    blank,
    csv_records,
    parse_iso_aware,
    rule,
)

DEFAULT_COMPONENT = rule(
    "SP-R1", FILLED, "maintenance without a component: attached to the default component"
)
SEVERAL_COMPONENTS = rule(
    "SP-R2",
    CHANGED,
    "maintenance listing several components: imported as one window per component",
)
REQUIRED_COLUMNS = ("id", "name", "components", "created_at", "scheduled_for", "scheduled_until")


def parse_maintenances(
    source: Source, *, separator: str = ",", default_service: str | None = None
) -> ParseResult:
    """Expand each scheduled maintenance into one row per listed component."""
    result = ParseResult()
    for line, record in csv_records(source, REQUIRED_COLUMNS):
        result.records += 1
        if blank(record["id"]):
            result.error(line, "id", "missing maintenance id")
            continue
        times = {}
        for column in ("scheduled_for", "scheduled_until", "created_at"):
            try:
                times[column] = parse_iso_aware(record[column])
            except ValueError as exc:
                result.error(line, column, "missing" if blank(record[column]) else str(exc))
        if len(times) < 3:
            continue
        if times["scheduled_until"] <= times["scheduled_for"]:
            result.error(line, "scheduled_until", "window ends before it starts")
            continue
        components = [c.strip() for c in record["components"].split(separator) if c.strip()]
        if not components:
            if default_service is None:
                result.error(line, "components", "no component listed; pass default_service")
                continue
            components = [default_service]
            result.apply(DEFAULT_COMPONENT)
        if len(components) > 1:
            result.apply(SEVERAL_COMPONENTS)
        result.used += 1
        for component in components:
            result.rows.append(
                {
                    "external_id": f"{record['id'].strip()}:{component}",
                    "service": component,
                    "title": record["name"].strip(),
                    "starts_at": times["scheduled_for"],
                    "ends_at": times["scheduled_until"],
                    "announced_at": times["created_at"],
                }
            )
    return result
