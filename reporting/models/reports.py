"""Periodic reports: one per agreement and month, reviewed as a draft, immutable once issued.

A month's report starts as a *draft* that only provider staff see: its content is rebuilt
from the current facts (root causes recorded during the review) until a provider manager
issues it, or the review window (``REPORT_REVIEW_DAYS``) ends and the beat task issues it.
An issued report is a fact (house style point 6): its ``content`` is what was known when it
was issued, hashed, and a database trigger refuses any later UPDATE or DELETE of it. A
correction is a new row with the next revision number that points at the one it supersedes
and says what changed; the superseded revision stays readable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from sla_portal.core.scoping import ScopedManager


class Report(models.Model):
    """The monthly report of one agreement (one revision of it)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (provider review)"
        ISSUED = "issued", "Issued"

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="reports"
    )
    # Denormalised for scoping without joins, like the evaluation's rows.
    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    # The signed version whose terms (targets, credit schedule) the report applies.
    version = models.ForeignKey(
        "agreements.AgreementVersion", on_delete=models.PROTECT, related_name="+"
    )
    month = models.DateField(help_text="First day of the reported month.")
    zone = models.CharField(max_length=64, default="UTC")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    revision = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    drafted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the month closed and the draft was made."
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for reports issued automatically when the review window ended.",
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    change_note = models.TextField(blank=True)
    changes = models.JSONField(default=list, blank=True)
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    credit_percent = models.DecimalField(max_digits=5, decimal_places=2)
    credit_amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    emailed = models.BooleanField(default=True)
    quiet_reason = models.CharField(max_length=200, blank=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-month", "agreement", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "month", "revision"], name="report_unique_revision"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")), name="report_period_ordered"
            ),
            models.CheckConstraint(condition=Q(revision__gte=1), name="report_revision_positive"),
            models.CheckConstraint(
                condition=Q(revision=1, supersedes__isnull=True)
                | Q(revision__gt=1, supersedes__isnull=False),
                name="report_correction_supersedes",
            ),
            models.CheckConstraint(
                condition=Q(credit_percent__gte=0, credit_percent__lte=100),
                name="report_credit_range",
            ),
            models.CheckConstraint(
                condition=Q(credit_amount__gte=0), name="report_credit_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", issued_at__isnull=True, issued_by__isnull=True)
                | Q(status="issued", issued_at__isnull=False),
                name="report_issued_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-month"], name="report_customer_month"),
            models.Index(fields=["agreement", "-month"], name="report_agreement_month"),
            # The beat task looks for drafts whose review window has ended.
            models.Index(
                fields=["drafted_at"], name="report_draft_due", condition=Q(status="draft")
            ),
        ]

    def __str__(self) -> str:
        suffix = f" (revision {self.revision})" if self.revision > 1 else ""
        return f"{self.agreement.reference} report {self.month:%B %Y}{suffix}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The trigger refuses it too; this says why before the database has to.
        if not self._state.adding:
            raise ValueError(
                "Reports change only through reporting.services (a draft is refreshed or "
                "issued there); an issued report never changes: issue a correction instead."
            )
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("reporting:report-detail", args=[self.pk])

    @property
    def url(self) -> str:
        return self.get_absolute_url()

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_superseded(self) -> bool:
        try:
            return self.superseded_by is not None
        except Report.DoesNotExist:
            return False

    @property
    def filename(self) -> str:
        revision = f"-r{self.revision}" if self.revision > 1 else ""
        return f"{self.agreement.reference}-{self.month:%Y-%m}{revision}"
