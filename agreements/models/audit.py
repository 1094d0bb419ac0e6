"""The append-only audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sla_portal.core.scoping import ScopedManager


class AuditEvent(models.Model):
    """One change or transition. Rows are only ever inserted (a database trigger refuses
    updates and deletes; see migration ``0003_lifecycle_guards``)."""

    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # the trail outlives anything it describes
        null=True,
        blank=True,
        related_name="audit_events",
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(
        max_length=40, help_text="created, changed, deleted, or a transition."
    )
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["agreement", "-at"], name="audit_agreement_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")
