"""The audit trail as people read it: actions in words, and changed values with names.

The trail stores values as they were (a foreign key is its id, so the record never changes
when the row it points at is renamed or deleted). Reading it, ids are shown with the name
the row has now: "Acme Corporation (#2)" rather than "2"; a deleted row stays "#2".
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from agreements import lifecycle as machine
from agreements.models import AuditEvent

# How the trail names the things it records (AuditEvent.object_type is the model name).
OBJECT_LABELS = {
    "agreement": "agreement",
    "agreementversion": "version",
    "calendarhours": "calendar hours",
    "closuredate": "closure date",
    "creditband": "credit band",
    "prioritydefinition": "priority definition",
    "supportchannel": "support channel",
    "supportingagreement": "supporting agreement",
}


@dataclass(frozen=True)
class HistoryRow:
    event: AuditEvent
    what: str
    changes: list[tuple[str, str, str]]


def action_label(name: str) -> str:
    """An audit action as a reader says it: ``changes_requested`` → ``Changes requested``."""
    if name == "openslo_import":
        return "Imported from OpenSLO"
    if name.startswith("review_") and name != "review_started":
        return f"Review decided: {name.removeprefix('review_')}"
    return name.replace("_", " ").capitalize()


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model("agreements", object_type)
    except LookupError:
        return None


def _foreign_keys(object_type: str) -> dict[str, type[models.Model]]:
    model = _model(object_type)
    if model is None:
        return {}
    return {
        field.name: field.related_model
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
    }


def _names(events: list[AuditEvent]) -> dict[tuple[type[models.Model], str], str]:
    """The current names of every row the events' foreign-key values point at, one query
    per related model."""
    wanted: dict[type[models.Model], set[str]] = defaultdict(set)
    for event in events:
        for name, related in _foreign_keys(event.object_type).items():
            for values in (event.before or {}, event.after or {}):
                if values.get(name) not in (None, ""):
                    wanted[related].add(str(values[name]))
    names = {}
    for related, ids in wanted.items():
        valid = [pk for pk in ids if pk.isdigit()]
        for row in related._base_manager.filter(pk__in=valid):
            names[(related, str(row.pk))] = f"{row} (#{row.pk})"
    return names


def _shown(value: Any, name: str, related: type[models.Model] | None, names: dict) -> str:
    if value is None or value == "":
        return "—"
    if related is not None:
        return names.get((related, str(value)), f"#{value}")
    if name == "status" and value in machine.STATE_LABELS:
        return machine.STATE_LABELS[value]
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def history_rows(events: list[AuditEvent]) -> list[HistoryRow]:
    """One row per event: what happened, and each changed field with before and after."""
    names = _names(events)
    rows = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        keys = _foreign_keys(event.object_type)
        label = OBJECT_LABELS.get(event.object_type, event.object_type)
        changes = []
        for key in dict.fromkeys([*after, *before]):
            related = keys.get(key)
            old = _shown(before.get(key), key, related, names)
            new = _shown(after.get(key), key, related, names)
            if old != new:  # a new row lists its empty fields too; they say nothing
                changes.append((key.replace("_", " "), old, new))
        rows.append(
            HistoryRow(
                event=event,
                what=f"{action_label(event.action)}: {label} {event.object_repr}".strip(),
                changes=changes,
            )
        )
    return rows
