"""The audit trail: every change to agreements, their parts and calendars, and every
transition, recorded append-only with who, when, what, before and after.

Changes are caught with model signals, so the editor, the API, the admin and scripts are all
recorded the same way; transitions are recorded by the lifecycle services with a message.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from agreements.models import (
    Agreement,
    AuditEvent,
    Calendar,
    CalendarHours,
    ClosureDate,
    CreditBand,
    PriorityDefinition,
    Signatory,
    SupportChannel,
    SupportingAgreement,
    Target,
)
from agreements.snapshot import _text
from sla_portal.core.actor import current_actor

IGNORED_FIELDS = {"created_at", "updated_at", "id"}


def record(
    *,
    action: str,
    obj: models.Model | None = None,
    agreement: Agreement | int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
    actor: Any = None,
) -> AuditEvent:
    """Append one event to the trail."""
    actor = actor if actor is not None else current_actor()
    agreement_id = agreement.pk if isinstance(agreement, Agreement) else agreement
    return AuditEvent.objects.create(
        agreement_id=agreement_id,
        actor=actor,
        actor_name=(actor.display_name if actor is not None else "system")[:150],
        action=action,
        object_type=obj._meta.model_name if obj is not None else "agreement",
        object_id=str(obj.pk) if obj is not None else str(agreement_id or ""),
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        message=message[:300],
    )


def record_created(rows: list[models.Model]) -> None:
    """Audit rows written with bulk_create (which sends no signals), in one insert."""
    actor = current_actor()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            agreement_id=_agreement_of(row),
            actor=actor,
            actor_name=(actor.display_name if actor is not None else "system")[:150],
            action="created",
            object_type=row._meta.model_name,
            object_id=str(row.pk),
            object_repr=str(row)[:200],
            after=field_values(row),
        )
        for row in rows
    )


def field_values(obj: models.Model) -> dict[str, str | None]:
    """The concrete field values of a row, as canonical strings."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        values[field.name] = _text(getattr(obj, field.attname))
    return values


def _agreement_of(obj: models.Model) -> int | None:
    if isinstance(obj, Agreement):
        return obj.pk
    return getattr(obj, "agreement_id", None)


def _before_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = field_values(old) if old is not None else None


def _after_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    after = field_values(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        record(action="created", obj=instance, agreement=_agreement_of(instance), after=after)
        return
    changed = {k for k in after if after[k] != before.get(k)}
    if not changed:
        return
    record(
        action="changed",
        obj=instance,
        agreement=_agreement_of(instance),
        before={k: before.get(k) for k in sorted(changed)},
        after={k: after[k] for k in sorted(changed)},
    )


def _after_delete(sender, instance, **kwargs) -> None:
    record(
        action="deleted",
        obj=instance,
        agreement=_agreement_of(instance),
        before=field_values(instance),
    )


def _m2m_changed(sender, instance, action, pk_set, model, **kwargs) -> None:
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(
        instance, Agreement
    ):
        return
    names = sorted(str(o) for o in model._base_manager.filter(pk__in=pk_set or ()))
    relation = "services" if model._meta.model_name == "service" else "service calendars"
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    record(
        action="changed",
        obj=instance,
        agreement=instance,
        before={relation: names} if verb != "added" else None,
        after={relation: names} if verb == "added" else None,
        message=f"{relation} {verb}: {', '.join(names) or 'all'}",
    )


TRACKED = (
    Agreement,
    Target,
    CreditBand,
    Signatory,
    SupportChannel,
    PriorityDefinition,
    SupportingAgreement,
    Calendar,
    CalendarHours,
    ClosureDate,
)


def connect() -> None:
    """Called once from AppConfig.ready()."""
    for model in TRACKED:
        uid = f"audit-{model._meta.label_lower}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}-post")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}-delete")
    m2m_changed.connect(_m2m_changed, sender=Agreement.services.through, dispatch_uid="audit-m2m-s")
    m2m_changed.connect(
        _m2m_changed, sender=Agreement.service_calendars.through, dispatch_uid="audit-m2m-c"
    )
