"""OpenSLO in and out of an agreement: plan an import (what it would create or change, the
rule-based changes, the errors), import it in one transaction, and export the targets.

Reading and writing the YAML is :mod:`agreements.openslo` (pure); this module matches what a
file names (services, calendars, existing targets) to the agreement and writes the rows. The
target rows are audited one by one by the audit trail's signals, and the import as a whole by
one ``openslo_import`` event naming what it did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from agreements.models import Agreement, Calendar, Service, Target
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.openslo import (
    ExportedTarget,
    ImportedTarget,
    Note,
    Problem,
    read_targets,
    write_openslo,
)
from agreements.openslo.exporting import EXPORTED_METRICS, slug
from agreements.openslo.results import ObjectSummary
from agreements.selectors import agreements_visible_to, calendars_visible_to, targets_visible_to
from agreements.services.audit import record
from agreements.services.drafting import AgreementError, next_target_position
from sla_portal.core.models import User

# Fields of a spec that, left empty by the file, keep the existing target's value.
KEEP_WHEN_EMPTY = ("warning_percent", "compliance_target", "compliance_threshold")
SPEC_FIELDS = tuple(f for f in TARGET_SPEC_FIELDS if f != "calendar")
DEFAULT_WARNING = Target._meta.get_field("warning_percent").default


class OpenSLOImportRefused(AgreementError):
    """The file cannot be imported: ``plan.problems`` says where and why. Nothing was written."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__(f"{len(plan.problems)} problem(s) in the file: nothing was imported.")
        self.plan = plan


class AgreementNotEditable(AgreementError):
    """The agreement is agreed or in force: its targets change only through a new version."""


@dataclass
class PlannedTarget:
    """One target of the file and what importing it does to the agreement."""

    imported: ImportedTarget
    action: str  # "create", "update" or "unchanged"
    values: dict[str, Any]
    existing: Target | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def target_text(self) -> str:
        return _number(self.imported.spec.target_value)

    @property
    def threshold_text(self) -> str:
        return _number(self.imported.spec.threshold_value)

    @property
    def label(self) -> str:
        spec = self.imported.spec
        return spec.name or ("Availability" if spec.metric == "availability" else spec.metric)


@dataclass
class ImportPlan:
    objects: list[ObjectSummary]
    targets: list[PlannedTarget]
    notes: list[Note]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0}
        for target in self.targets:
            counts[target.action] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "documents": [
                {"document": o.index, "api_version": o.api_version, "kind": o.kind, "name": o.name}
                for o in self.objects
            ],
            "targets": [_target_dict(t) for t in self.targets],
            "changes": [n.as_dict() for n in self.notes],
            "errors": [p.as_dict() for p in self.problems],
            "counts": self.counts(),
        }


def _number(value: Any) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (Service, Calendar)):
        return value.name
    return str(value)


def _target_dict(target: PlannedTarget) -> dict:
    values = target.values
    return {
        "action": target.action,
        "target_id": target.existing.pk if target.existing is not None else None,
        "document": target.imported.index,
        "source": target.imported.source,
        **{name: _text(values.get(name)) for name in SPEC_FIELDS},
        "service": _text(values.get("service")),
        "calendar": _text(values.get("calendar")),
        "changed_fields": {
            name: {"before": _text(before), "after": _text(after)}
            for name, (before, after) in target.changes.items()
        },
    }


def openslo_plan(*, user: User, agreement: Agreement, text: str | bytes) -> ImportPlan:
    """What importing ``text`` into ``agreement`` would do, without writing anything."""
    reading = read_targets(text)
    plan = ImportPlan(reading.objects, [], list(reading.notes), list(reading.problems))
    if not reading.ok:
        return plan
    services = list(agreement.services.all())
    calendars = {c.name: c for c in calendars_visible_to(user)}
    # A target is the same target when its scope and its service are the same: an agreement
    # may have one unnamed availability target per service.
    existing = {
        (*t.scope_key, t.service_id): t
        for t in agreement.targets.select_related("service", "calendar")
    }
    planned_keys: set[tuple] = set()
    for imported in reading.targets:
        values = {name: getattr(imported.spec, name) for name in SPEC_FIELDS}
        values["service"] = _service_for(imported, services, plan)
        if imported.calendar:
            values["calendar"] = calendars.get(imported.calendar)
            if values["calendar"] is None:
                plan.notes.append(
                    Note(
                        imported.index,
                        _object_name(plan, imported),
                        'metadata.annotations["sla-portal/calendar"]',
                        "calendar-not-found",
                        f"No calendar named {imported.calendar!r}: the target takes its "
                        "section's calendar.",
                    )
                )
        service = values["service"]
        key = (
            imported.spec.metric,
            imported.spec.priority,
            imported.spec.error_category,
            imported.spec.name,
            service.pk if service is not None else None,
        )
        if key in planned_keys:
            # Two services of the file that are none of the agreement's become one scope.
            plan.problems.append(
                Problem(
                    imported.index,
                    "",
                    _object_name(plan, imported),
                    imported.source.split(", ", 1)[1],
                    f"a second {imported.spec.metric} target named {imported.spec.name!r} for "
                    f"{service.name if service is not None else 'all services'}: give the "
                    "objectives different displayName values or name the agreement's services",
                )
            )
            continue
        planned_keys.add(key)
        current = existing.get(key)
        if current is None:
            if values["warning_percent"] is None:
                # Said and shown, not left to the model's default where nobody sees it.
                values["warning_percent"] = DEFAULT_WARNING
                plan.notes.append(
                    Note(
                        imported.index,
                        _object_name(plan, imported),
                        'metadata.annotations["sla-portal/warning-percent"]',
                        "warning-default",
                        f"No warning level: the portal warns when {_number(DEFAULT_WARNING)} % "
                        "of the allowed time is used (its default); edit it in the draft.",
                    )
                )
            plan.targets.append(PlannedTarget(imported, "create", values))
            continue
        changes = {}
        for name, value in values.items():
            if value is None and name in KEEP_WHEN_EMPTY:
                continue
            before = getattr(current, name)
            if before != value:
                changes[name] = (before, value)
        action = "update" if changes else "unchanged"
        plan.targets.append(PlannedTarget(imported, action, values, current, changes))
    # The model's own validation (field sizes, decimal places, constraints) on each target as
    # it would be saved, so the preview never offers an import that would then be refused.
    for planned in plan.targets:
        if planned.action == "unchanged":
            continue
        try:
            _row(planned, agreement, position=0).full_clean(exclude=["agreement"])
        except ValidationError as exc:
            plan.problems.extend(_located(planned, exc))
    plan.notes = list(dict.fromkeys(plan.notes))
    return plan


def _row(planned: PlannedTarget, agreement: Agreement, position: int) -> Target:
    """The target row importing ``planned`` saves: a new one, or the existing one changed
    (a copy when only planning, so nothing is changed in memory either)."""
    if planned.action == "create":
        target = Target(agreement=agreement, position=position)
        values = dict(planned.values)
    else:
        target = copy.copy(planned.existing)
        values = {name: after for name, (_, after) in planned.changes.items()}
    for name, value in values.items():
        if value is None and name in KEEP_WHEN_EMPTY:
            continue
        setattr(target, name, value)
    return target


def _object_name(plan: ImportPlan, imported: ImportedTarget) -> str:
    """The name of the object a target came from (notes are about objects, so one rule for
    two objectives of one object is said once)."""
    return next((o.name for o in plan.objects if o.index == imported.index), "")


def _service_for(
    imported: ImportedTarget, services: list[Service], plan: ImportPlan
) -> Service | None:
    named = imported.service
    if not named:
        return None
    if imported.service_is_portal_name:
        found = next((s for s in services if s.name == named), None)
    else:
        found = next(
            (s for s in services if s.name.lower() == named.lower() or slug(s.name) == slug(named)),
            None,
        )
    if found is None:
        listed = ", ".join(s.name for s in services) or "none yet"
        plan.notes.append(
            Note(
                imported.index,
                _object_name(plan, imported),
                "service" if imported.source.startswith("Sloth ") else "spec.service",
                "service-not-matched",
                f"The service {named!r} is none of this agreement's services ({listed}): the "
                "target applies to all of them.",
            )
        )
    return found


@transaction.atomic
def openslo_import(
    *, user: User, agreement: Agreement, text: str | bytes, filename: str = ""
) -> ImportPlan:
    """Import ``text`` into the draft ``agreement``: all targets or none. Raises
    :class:`AgreementNotEditable` for an agreed agreement and :class:`OpenSLOImportRefused`
    (with the plan and its problems) for a file with any error."""
    locked = (
        agreements_visible_to(user)
        .select_related(None)
        .select_for_update()
        .only("id", "status", "reference")
        .get(pk=agreement.pk)
    )
    if not locked.is_editable:
        raise AgreementNotEditable(locked.not_editable_reason)
    plan = openslo_plan(user=user, agreement=agreement, text=text)
    if not plan.ok:
        raise OpenSLOImportRefused(plan)
    position = next_target_position(agreement)
    for planned in plan.targets:
        if planned.action == "unchanged":
            continue
        target = _row(planned, agreement, position)
        if planned.action == "create":
            position += 1
        try:
            target.full_clean(exclude=["agreement"])
        except ValidationError as exc:
            plan.problems.extend(_located(planned, exc))
            continue
        target.save()
    if plan.problems:
        transaction.set_rollback(True)
        raise OpenSLOImportRefused(plan)
    counts = plan.counts()
    record(
        action="openslo_import",
        agreement=agreement,
        # The rule-based changes stay with the import, so the history says them too.
        after={
            "file": filename,
            **counts,
            "rules": [
                f"document #{n.index + 1 if n.index is not None else '-'}"
                f"{f' {n.path}' if n.path else ''}: {n.message}"
                for n in plan.notes
            ],
        },
        message=(
            f"OpenSLO import{f' of {filename}' if filename else ''}: {counts['create']} "
            f"target(s) added, {counts['update']} changed, {counts['unchanged']} unchanged; "
            f"{len(plan.notes)} rule-based change(s)."
        ),
        actor=user,
    )
    return plan


def _located(planned: PlannedTarget, exc: ValidationError) -> list[Problem]:
    imported = planned.imported
    path = imported.source.split(", ", 1)[1]
    messages = exc.message_dict.items() if hasattr(exc, "error_dict") else [("", exc.messages)]
    return [
        Problem(imported.index, "", imported.spec.name, path, f"{name}: {m}" if name else m)
        for name, ms in messages
        for m in ms
    ]


def openslo_export(*, user: User, agreement: Agreement) -> str:
    """The agreement's availability and performance targets as OpenSLO v1 YAML (those the
    user may see: a customer sees the targets of agreed agreements only)."""
    targets = (
        targets_visible_to(user)
        .filter(agreement=agreement, metric__in=EXPORTED_METRICS)
        .order_by("position", "metric", "id")
    )
    return write_openslo(
        [
            ExportedTarget(
                spec=t.spec(),
                service=t.service.name if t.service_id else "",
                calendar=t.calendar.name if t.calendar_id else "",
            )
            for t in targets
        ],
        reference=agreement.reference,
        title=agreement.title,
        year=agreement.effective_from.year if agreement.effective_from else 2000,
    )
