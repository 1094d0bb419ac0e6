"""Negotiation, sign-off and review: versions, acceptances, signatures, comments, reviews.

Versions, acceptances and signatures are facts: rows written once and never changed. A
version's snapshot and content hash are guarded by the database itself (see migrations
``0003_lifecycle_guards`` and ``0004_stricter_guards``), so a finalized agreement cannot be
altered by the UI, the API or the ORM.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from agreements.sections import SECTIONS_BY_KEY
from sla_portal.core.scoping import ScopedManager


class FrozenVersionError(ValidationError):
    pass


class AgreementVersion(models.Model):
    """Version N of an agreement: an immutable snapshot sent as a proposal."""

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical snapshot.")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    proposed_at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="What this version changes, for the other side.")
    finalized_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last signature made this version binding."
    )

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["agreement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        # The model's own guard; the database triggers guard the same for raw updates.
        if self.pk is not None:
            stored = (
                type(self)
                .objects.filter(pk=self.pk)
                .values(
                    "snapshot",
                    "content_hash",
                    "number",
                    "agreement_id",
                    "finalized_at",
                    "note",
                    "proposed_by_id",
                    "proposed_at",
                )
                .first()
            )
            if stored is not None and (
                stored["snapshot"] != self.snapshot
                or stored["content_hash"] != self.content_hash
                or stored["note"] != self.note
                or stored["proposed_by_id"] != self.proposed_by_id
                or stored["proposed_at"] != self.proposed_at
                or stored["number"] != self.number
                or stored["agreement_id"] != self.agreement_id
                or (
                    stored["finalized_at"] is not None
                    and stored["finalized_at"] != self.finalized_at
                )
            ):
                raise FrozenVersionError(
                    f"Version {self.number} of {self.agreement.reference} is immutable."
                )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenVersionError("Agreement versions are never deleted.")

    @property
    def is_final(self) -> bool:
        return self.finalized_at is not None

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


class Acceptance(models.Model):
    """One side accepted one version."""

    class Side(models.TextChoices):
        PROVIDER = "provider", "Provider"
        CUSTOMER = "customer", "Customer"

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="acceptances"
    )
    side = models.CharField(max_length=8, choices=Side.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField()

    class Meta:
        ordering = ["accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "side"], name="acceptance_once_per_side")
        ]

    def __str__(self) -> str:
        return f"{self.version} accepted by {self.side}"


class Signature(models.Model):
    """A named signatory signed a version: name, role and time as they were at signing."""

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="signatures"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=8, choices=Acceptance.Side.choices)
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=120)
    organisation_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    content_hash = models.CharField(max_length=64, help_text="The hash the signatory saw.")

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="signature_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name} signed {self.version}"


class Comment(models.Model):
    """A remark by either side on one section of a version under negotiation.

    Comments form threads one level deep: a remark (``parent`` empty) and its replies. A thread
    is resolved or reopened as a whole, on its first comment; who did it and when is kept
    there and, each time, in the audit trail. What was said is append-only: only the
    resolution may change (the database guards the rest, see ``0006_comment_threads``)."""

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="comments"
    )
    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="comments", null=True, blank=True
    )
    section = models.CharField(max_length=20, help_text="Section key, or 'general'.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    requests_change = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replies",
        help_text="The remark this replies to (threads are one level deep).",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    # The only columns that may change after a comment is written.
    RESOLUTION_FIELDS = frozenset({"resolved_at", "resolved_by"})

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["agreement", "section"], name="comment_agreement_section")]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | Q(resolved_at__isnull=False, resolved_by__isnull=False),
                name="comment_resolution_complete",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | Q(resolved_at__isnull=True),
                name="comment_reply_not_resolved",
            ),
        ]

    def __str__(self) -> str:
        # People read this in the history: the section by number and title, not its key.
        section = SECTIONS_BY_KEY.get(self.section)
        where = f"{section.number}. {section.title}" if section else "the whole agreement"
        return f"{self.author.display_name} on {where}"

    def save(self, *args, **kwargs) -> None:
        # What was said never changes; only the thread's resolution may, named explicitly.
        changing = set(kwargs.get("update_fields") or ())
        if self.pk is not None and not (changing and changing <= self.RESOLUTION_FIELDS):
            raise ValueError("Comments are part of the negotiation record: append-only.")
        super().save(*args, **kwargs)

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class SupportingAgreement(models.Model):
    """An OLA or underpinning contract the agreement relies on."""

    class Kind(models.TextChoices):
        OLA = "ola", "Operational level agreement"
        UNDERPINNING = "uc", "Underpinning contract"

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="supporting_agreements"
    )
    kind = models.CharField(max_length=4, choices=Kind.choices)
    reference = models.CharField(max_length=80)
    party = models.CharField(max_length=200, help_text="Internal team or supplier.")
    description = models.CharField(max_length=300, blank=True)

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["kind", "reference"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Review(models.Model):
    """A scheduled review of an agreement in force: findings, causes, lessons, decision."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        DECIDED = "decided", "Decided"

    class Decision(models.TextChoices):
        CONTINUE = "continue", "Continue"
        RENEGOTIATE = "renegotiate", "Renegotiate"
        TERMINATE = "terminate", "Terminate"

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="reviews"
    )
    due_date = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    findings = models.TextField(blank=True)
    root_causes = models.TextField(blank=True, help_text="Root causes of missed targets.")
    lessons = models.TextField(blank=True)
    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["agreement", "due_date"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "due_date"], name="review_unique_due"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="review_period_ordered"
            ),
            models.CheckConstraint(
                condition=Q(status="decided", decision__in=["continue", "renegotiate", "terminate"])
                | ~Q(status="decided"),
                name="review_decided_has_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.agreement.reference} due {self.due_date}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and (
            type(self).objects.filter(pk=self.pk, status=self.Status.DECIDED).exists()
        ):
            raise ValueError("A decided review is part of the record and cannot change.")
        super().save(*args, **kwargs)


class ReviewAction(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.description
