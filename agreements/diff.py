"""What changed between two versions of an agreement, for the side-by-side diff page.

Pure functions over the JSON snapshots stored with each immutable version (no Django import,
house style point 2): the view loads two snapshots, calls :func:`diff_snapshots` and renders
the returned dataclasses. A snapshot has this shape (schema 1; every leaf is a string or null)::

    {"schema": 1,
     "terms": {"title": ..., "services": [...], ...},
     "sections": {"<key>": {"fields": {...}, "related": {"<list>": [{...}, ...]}}, ...},
     "targets": [{"key": ..., "section": ..., "label": ..., <target fields>}, ...],
     "calendars": [{"name": ..., "hours": [[day, start, end], ...],
                    "closures": [[date, reason], ...], <calendar fields>}, ...]}

Changes come back grouped by section ("terms", then the agreement's sections); targets land in
their own section and calendars in "hours", so a reader sees a changed response time next to
the support text that explains it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agreements.word_diff import WordChunk, word_diff

SUPPORTED_SCHEMAS = frozenset({1})

TERMS = "terms"
# Calendars are edited in (and explain) the service-hours section.
CALENDAR_SECTION = "hours"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Identity of the items of each related list: an edit to a signatory's role is a change to that
# signatory, not one removed and another added. A list not named here is matched on every
# field, so any edit shows as a removal plus an addition (never silently as nothing).
RELATED_KEYS: dict[str, tuple[str, ...]] = {
    "signatories": ("side", "name"),
    "support_channels": ("kind", "contact"),
    "priority_definitions": ("priority",),
    "credit_bands": ("metric", "achieved_below"),
}

# Parts of a target that identify or name it rather than set it.
TARGET_IDENTITY = frozenset({"key", "section", "label"})
CALENDAR_IDENTITY = frozenset({"name", "hours", "closures"})

# Field names whose underscores alone would read badly.
LABELS = {
    "is_24x7": "24x7",
    "rto_minutes": "RTO minutes",
    "rpo_minutes": "RPO minutes",
    "dr_plan_reference": "DR plan reference",
    "timezone": "time zone",
}

SEPARATOR = " · "
# Intervals read as on the agreement itself: weekday, start, en dash, end (no spaces).
EN_DASH = "\u2013"

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One difference, labelled for a reader.

    ``old``/``new`` are the values as text (``None`` where the thing did not exist). ``words``
    is set for narrative fields only: a word-level diff whose ``equal`` and ``delete`` chunks
    spell the old text and whose ``equal`` and ``insert`` chunks spell the new one.
    """

    kind: ChangeKind
    path: str
    old: str | None
    new: str | None
    words: list[WordChunk] | None = None

    @property
    def old_words(self) -> list[WordChunk]:
        """The chunks of the old side (deleted words marked), for the left column."""
        return [chunk for chunk in self.words or () if chunk.op != "insert"]

    @property
    def new_words(self) -> list[WordChunk]:
        """The chunks of the new side (inserted words marked), for the right column."""
        return [chunk for chunk in self.words or () if chunk.op != "delete"]


@dataclass(frozen=True)
class SectionDiff:
    """The changes of one section ("terms" or a section key), in reading order."""

    key: str
    changes: list[Change] = field(default_factory=list)


def field_label(name: str) -> str:
    """A field name as a reader says it: ``fee_amount`` → ``fee amount``."""
    return LABELS.get(name, name.replace("_", " "))


def diff_snapshots(old: dict, new: dict, narrative_fields: frozenset[str]) -> list[SectionDiff]:
    """Every difference from ``old`` to ``new``, grouped by section; unchanged sections omitted.

    ``narrative_fields`` names the free-text (Markdown) fields that get a word-level diff; the
    caller passes ``agreements.sections.MARKDOWN_FIELDS`` so this module stays free of Django.
    """
    for snapshot in (old, new):
        if snapshot.get("schema") not in SUPPORTED_SCHEMAS:
            # A new snapshot shape must be taught here deliberately, not half-compared.
            raise ValueError(f"Unsupported snapshot schema: {snapshot.get('schema')!r}")

    old_sections = old.get("sections") or {}
    new_sections = new.get("sections") or {}
    grouped: dict[str, list[Change]] = {TERMS: []}
    for key in _union_keys(new_sections, old_sections):
        grouped[key] = []

    grouped[TERMS] += _diff_mapping(
        "", old.get("terms") or {}, new.get("terms") or {}, narrative_fields
    )
    for key in _union_keys(new_sections, old_sections):
        old_section = old_sections.get(key) or {}
        new_section = new_sections.get(key) or {}
        grouped[key] += _diff_mapping(
            "", old_section.get("fields") or {}, new_section.get("fields") or {}, narrative_fields
        )
        grouped[key] += _diff_related(
            old_section.get("related") or {}, new_section.get("related") or {}, narrative_fields
        )
    for section, changes in _diff_targets(
        old.get("targets") or [], new.get("targets") or [], narrative_fields
    ):
        grouped.setdefault(section, []).extend(changes)
    grouped.setdefault(CALENDAR_SECTION, []).extend(
        _diff_calendars(old.get("calendars") or [], new.get("calendars") or [], narrative_fields)
    )
    return [SectionDiff(key, changes) for key, changes in grouped.items() if changes]


def has_changes(old: dict, new: dict) -> bool:
    """Whether the two snapshots differ in anything a reader would see in the diff."""
    return bool(diff_snapshots(old, new, frozenset()))


# --- internals ---------------------------------------------------------------------------------


_MISSING: Any = object()


def _union_keys(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """Keys of ``first`` in its order, then those only in ``second``."""
    keys = list(dict.fromkeys(first))
    keys += [key for key in dict.fromkeys(second) if key not in keys]
    return keys


def _join(*parts: str) -> str:
    return SEPARATOR.join(part for part in parts if part)


def _text(value: Any) -> str | None:
    """A leaf as display text; snapshots hold strings, anything else is shown faithfully."""
    if value is None or value is _MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        item is None or isinstance(item, str | int | float) for item in value
    )


def _scalar_change(
    path: str, name: str, old: Any, new: Any, narrative: frozenset[str]
) -> list[Change]:
    old_text, new_text = _text(old), _text(new)
    if old_text == new_text:
        return []
    if old_text is None:
        return [Change("added", path, None, new_text)]
    if new_text is None:
        return [Change("removed", path, old_text, None)]
    words = word_diff(old_text, new_text) if name in narrative else None
    return [Change("changed", path, old_text, new_text, words)]


def _set_changes(path: str, old_items: Iterable[str], new_items: Iterable[str]) -> list[Change]:
    """Members removed and added, each its own change, in the order they were listed."""
    old_list = list(dict.fromkeys(old_items))
    new_list = list(dict.fromkeys(new_items))
    new_set, old_set = set(new_list), set(old_list)
    return [Change("removed", path, item, None) for item in old_list if item not in new_set] + [
        Change("added", path, None, item) for item in new_list if item not in old_set
    ]


def _texts(value: Any) -> list[str]:
    if value is None or value is _MISSING:
        return []
    return [_text(item) or "" for item in value]


def _diff_value(
    path: str, name: str, old: Any, new: Any, narrative: frozenset[str]
) -> list[Change]:
    if old == new:
        return []
    # Lists of plain values (the agreement's services) are sets to a reader: report members.
    if (isinstance(old, list) or isinstance(new, list)) and all(
        value is None or value is _MISSING or _is_scalar_list(value) for value in (old, new)
    ):
        return _set_changes(path, _texts(old), _texts(new))
    return _scalar_change(path, name, old, new, narrative)


def _diff_mapping(
    prefix: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    narrative: frozenset[str],
    skip: frozenset[str] = frozenset(),
) -> list[Change]:
    changes: list[Change] = []
    for name in _union_keys(new, old):
        if name in skip:
            continue
        changes += _diff_value(
            _join(prefix, field_label(name)),
            name,
            old.get(name, _MISSING),
            new.get(name, _MISSING),
            narrative,
        )
    return changes


def _summary(item: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    skipped = set(skip)
    return "; ".join(
        f"{field_label(name)}: {_text(value)}"
        for name, value in item.items()
        if name not in skipped and value not in (None, "", [])
    )


def _match(
    old: list[Mapping[str, Any]],
    new: list[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], Any],
) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Pairs (old item, new item) by identity, in new order then removed ones.

    A repeated identity (two identical channels) is told apart by its occurrence, so nothing
    is lost when a key is not unique.
    """

    def keyed(items: list[Mapping[str, Any]]) -> dict[tuple[Any, int], Mapping[str, Any]]:
        seen: dict[Any, int] = {}
        result = {}
        for item in items:
            identity = key(item)
            seen[identity] = seen.get(identity, 0) + 1
            result[(identity, seen[identity])] = item
        return result

    old_keyed, new_keyed = keyed(old), keyed(new)
    return [(old_keyed.get(k), new_keyed.get(k)) for k in _union_keys(new_keyed, old_keyed)]


def _related_identity(
    fields: tuple[str, ...] | None,
) -> Callable[[Mapping[str, Any]], Any]:
    def identity(item: Mapping[str, Any]) -> Any:
        if fields is None:
            return json.dumps(item, sort_keys=True)
        return tuple(_text(item.get(name)) for name in fields)

    return identity


def _related_label(name: str, item: Mapping[str, Any]) -> str:
    if name == "signatories":
        return _get(item, "name")
    if name == "support_channels":
        return f"{_get(item, 'kind')} {_get(item, 'contact')}".strip()
    if name == "priority_definitions":
        return _get(item, "priority")
    if name == "credit_bands":
        return f"{_get(item, 'metric')} below {_get(item, 'achieved_below')}"
    return _summary(item)


def _diff_related(
    old: Mapping[str, list], new: Mapping[str, list], narrative: frozenset[str]
) -> list[Change]:
    changes: list[Change] = []
    for name in _union_keys(new, old):
        identity_fields = RELATED_KEYS.get(name)
        list_label = field_label(name).capitalize()
        skip = frozenset(identity_fields or ())
        pairs = _match(old.get(name) or [], new.get(name) or [], _related_identity(identity_fields))
        for old_item, new_item in pairs:
            item_path = _join(list_label, _related_label(name, new_item or old_item))
            if old_item is None:
                changes.append(Change("added", item_path, None, _summary(new_item)))
            elif new_item is None:
                changes.append(Change("removed", item_path, _summary(old_item), None))
            else:
                changes += _diff_mapping(item_path, old_item, new_item, narrative, skip)
    return changes


def _get(item: Mapping[str, Any], name: str) -> str:
    return _text(item.get(name)) or ""


def _target_summary(target: Mapping[str, Any]) -> str:
    """A target as one line: "15 minutes, threshold 30 minutes; 95% (threshold 90%) per month"."""
    unit = _get(target, "unit")
    value = f"{_get(target, 'target_value')} {unit}".strip()
    if _get(target, "threshold_value"):
        value += f", threshold {_get(target, 'threshold_value')} {unit}".rstrip()
    compliance = []
    if _get(target, "compliance_target"):
        compliance.append(f"{_get(target, 'compliance_target')}%")
    if _get(target, "compliance_threshold"):
        compliance.append(f"(threshold {_get(target, 'compliance_threshold')}%)")
    if _get(target, "period"):
        compliance.append(f"per {_get(target, 'period')}")
    parts = [
        value,
        " ".join(compliance),
        f"calendar {_get(target, 'calendar')}" if _get(target, "calendar") else "",
        f"service {_get(target, 'service')}" if _get(target, "service") else "",
        f"from {_get(target, 'data_source')}" if _get(target, "data_source") else "",
    ]
    return "; ".join(part for part in parts if part)


def _diff_targets(
    old: list[Mapping[str, Any]], new: list[Mapping[str, Any]], narrative: frozenset[str]
) -> list[tuple[str, list[Change]]]:
    """(section key, changes) per target that changed, in the new version's order."""
    result: list[tuple[str, list[Change]]] = []
    for old_target, new_target in _match(old, new, lambda target: target.get("key")):
        target = new_target or old_target
        label = target.get("label") or target.get("key") or ""
        if old_target is None:
            changes = [Change("added", label, None, _target_summary(new_target))]
        elif new_target is None:
            changes = [Change("removed", label, _target_summary(old_target), None)]
        else:
            changes = _diff_mapping(label, old_target, new_target, narrative, TARGET_IDENTITY)
        if changes:
            result.append((target.get("section") or "", changes))
    return result


def _interval(hours: list) -> str:
    day, start, end = [*hours, "", "", ""][:3]
    try:
        day_name = WEEKDAYS[int(day)]
    except (ValueError, IndexError):
        day_name = str(day)
    return f"{day_name} {start}{EN_DASH}{end}"


def _interval_order(hours: list) -> tuple:
    try:
        return (int(hours[0]), *hours[1:])
    except (ValueError, IndexError):
        return (99, *hours)


def _closure(closure: list) -> str:
    day, reason = [*closure, "", ""][:2]
    return f"{day} ({reason})" if reason else str(day)


def _calendar_summary(calendar: Mapping[str, Any]) -> str:
    def get(name: str) -> str:
        return _get(calendar, name)

    if get("is_24x7") == "true":
        schedule = "24x7"
    else:
        schedule = ", ".join(
            _interval(h) for h in sorted(calendar.get("hours") or [], key=_interval_order)
        )
    region = "-".join(part for part in (get("holiday_country"), get("holiday_subdivision")) if part)
    parts = [
        get("timezone"),
        schedule,
        f"public holidays {region}" if region else "",
        "closed " + ", ".join(_closure(c) for c in calendar.get("closures") or [])
        if calendar.get("closures")
        else "",
    ]
    return "; ".join(part for part in parts if part)


def _diff_calendars(
    old: list[Mapping[str, Any]], new: list[Mapping[str, Any]], narrative: frozenset[str]
) -> list[Change]:
    changes: list[Change] = []
    for old_calendar, new_calendar in _match(old, new, lambda calendar: calendar.get("name")):
        name = _text((new_calendar or old_calendar).get("name")) or ""
        if old_calendar is None:
            changes.append(Change("added", name, None, _calendar_summary(new_calendar)))
            continue
        if new_calendar is None:
            changes.append(Change("removed", name, _calendar_summary(old_calendar), None))
            continue
        changes += _diff_mapping(name, old_calendar, new_calendar, narrative, CALENDAR_IDENTITY)
        # Hours and closures are sets: moving Monday's opening to 07:00 reads as the old
        # interval removed and the new one added, which is exactly what changed.
        changes += _set_changes(
            _join(name, "hours"),
            (_interval(h) for h in sorted(old_calendar.get("hours") or [], key=_interval_order)),
            (_interval(h) for h in sorted(new_calendar.get("hours") or [], key=_interval_order)),
        )
        changes += _set_changes(
            _join(name, "closures"),
            (_closure(c) for c in sorted(old_calendar.get("closures") or [])),
            (_closure(c) for c in sorted(new_calendar.get("closures") or [])),
        )
    return changes
