"""The canonical snapshot of an agreement: what a version freezes and what its hash covers.

The snapshot is plain JSON (strings, lists, dicts, null), built in a fixed order with every
decimal normalised, so the same content always gives the same SHA-256, on any database.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from agreements.calendars import chosen_calendars, target_calendar
from agreements.models import Agreement, Calendar
from agreements.sections import SECTIONS, section_for_metric

SCHEMA = 1
RELATED_FIELDS = {
    "signatories": ("side", "name", "role", "organisation_name", "email", "username", "user_id"),
    "support_channels": ("kind", "contact", "hours"),
    "priority_definitions": ("priority", "name", "meaning"),
    "credit_bands": ("metric", "achieved_below", "credit_percent"),
}
TARGET_FIELDS = (
    "metric",
    "priority",
    "error_category",
    "name",
    "target_value",
    "threshold_value",
    "unit",
    "direction",
    "period",
    "compliance_target",
    "compliance_threshold",
    "warning_percent",
    "data_source",
)


def _text(value: Any) -> str | None:
    """Every value as a string in one canonical spelling (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        normal = format(value.normalize(), "f")
        return "0" if normal in {"-0", ""} else normal
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _calendar(calendar: Calendar) -> dict:
    return {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "is_24x7": _text(calendar.is_24x7),
        "holiday_country": calendar.holiday_country,
        "holiday_subdivision": calendar.holiday_subdivision,
        "hours": sorted(
            [str(h.weekday), h.start.strftime("%H:%M"), h.end.strftime("%H:%M")]
            for h in calendar.hours.all()
        ),
        "closures": sorted([c.date.isoformat(), c.reason] for c in calendar.closures.all()),
    }


def build_snapshot(agreement: Agreement) -> dict:
    """Everything the parties agree on: terms, the ten sections, targets and calendars."""
    sections = {}
    for section in SECTIONS:
        fields = {}
        for name in section.fields:
            value = getattr(agreement, name)
            if name == "service_calendars":
                fields[name] = sorted(c.name for c in value.all())
            elif name == "support_calendar":
                fields[name] = value.name if value else None
            else:
                fields[name] = _text(value)
        related = {}
        for name in section.related:
            rows = []
            for item in getattr(agreement, name).all():
                row = {}
                for field in RELATED_FIELDS[name]:
                    if field == "username":
                        row[field] = item.user.username if item.user_id else None
                    elif field == "user_id":
                        row[field] = str(item.user_id) if item.user_id else None
                    else:
                        row[field] = _text(getattr(item, field))
                rows.append(row)
            related[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
        sections[section.key] = {"fields": fields, "related": related}

    # Each target is recorded with the calendar it is measured in: its own, or the one it
    # inherits from section 2 or 4 (docs/agreements.md), so monitoring, which reads the
    # signed snapshot, runs every clock in the calendar the parties saw.
    chosen = chosen_calendars(agreement)
    effective = {}
    targets = []
    for target in agreement.targets.all():
        effective[target.pk] = target_calendar(target, chosen).calendar
        row = {field: _text(getattr(target, field)) or "" for field in TARGET_FIELDS}
        for optional in ("compliance_target", "compliance_threshold"):
            row[optional] = _text(getattr(target, optional))
        # Only experience targets have one: other rows keep the snapshot they always had.
        if target.min_responses is not None:
            row["min_responses"] = _text(target.min_responses)
        # Likewise only targets with their own burn-rate rules (docs/burn-rates.md).
        if target.burn_rules:
            row["burn_rules"] = target.burn_rules
        calendar = effective[target.pk]
        row["calendar"] = calendar.name if calendar is not None else "24x7"
        # Whether the target named that calendar itself or took its section's: a customer
        # reading the proposal sees "Berlin office hours (section 4)" as the manager does.
        row["calendar_own"] = _text(target.calendar_id is not None)
        row["service"] = target.service.name if target.service_id else ""
        row["key"] = "|".join((target.metric, target.priority, target.error_category, target.name))
        row["section"] = section_for_metric(target.metric).key
        row["label"] = target.label
        targets.append(row)
    targets.sort(key=lambda r: (r["section"], r["key"]))

    calendars = {c.pk: c for c in agreement.service_calendars.all()}
    if agreement.support_calendar_id:
        calendars[agreement.support_calendar_id] = agreement.support_calendar
    for calendar in effective.values():
        if calendar is not None:
            calendars[calendar.pk] = calendar

    return {
        "schema": SCHEMA,
        "terms": {
            "title": agreement.title,
            "reference": agreement.reference,
            "customer": agreement.customer.name,
            "tier": agreement.tier.name if agreement.tier_id else None,
            "effective_from": _text(agreement.effective_from),
            "effective_to": _text(agreement.effective_to),
            "review_interval_months": _text(agreement.review_interval_months),
            "services": sorted(s.name for s in agreement.services.all()),
        },
        "sections": sections,
        "targets": targets,
        "calendars": sorted((_calendar(c) for c in calendars.values()), key=lambda c: c["name"]),
    }


def canonical_json(snapshot: dict) -> str:
    """One spelling of a snapshot: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(snapshot: dict) -> str:
    """SHA-256 of the canonical serialisation, as 64 hex digits."""
    return hashlib.sha256(canonical_json(snapshot).encode("utf-8")).hexdigest()
