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


class RecomputeRun(models.Model):
    """A recompute asked for by a provider manager after a correction (public holidays that
    changed, data re-sent): the tickets and periods of its agreements are measured again in
    the background, in bounded steps that survive a worker restart (``reporting.recompute``).

    Open periods and timers change in place; closed periods never do: what they would say now
    is a ``PeriodCorrection`` proposal, applied through the report correction flow."""

    class Scope(models.TextChoices):
        AGREEMENT = "agreement", "One agreement"
        CALENDAR = "calendar", "Agreements measured in a calendar"
        SOURCE = "source", "Tickets of a data source"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Stage(models.TextChoices):
        TICKETS = "tickets", "Ticket timers"
        PERIODS = "periods", "Periods"
        DONE = "done", "Done"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    scope = models.CharField(max_length=10, choices=Scope.choices)
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    calendar = models.ForeignKey(
        "agreements.Calendar", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Every agreement the run measures again: one run at a time per agreement.
    agreements = models.ManyToManyField("agreements.Agreement", related_name="recompute_runs")
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.TICKETS)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Progress, and where to resume: the last ticket id done, the agreements whose periods
    # are done.
    tickets_total = models.PositiveIntegerField(default=0)
    tickets_done = models.PositiveIntegerField(default=0)
    ticket_cursor = models.BigIntegerField(default=0)
    periods_total = models.PositiveIntegerField(default=0)
    periods_done = models.PositiveIntegerField(default=0)
    agreements_done = models.JSONField(default=list, blank=True)
    # What changed.
    timers_changed = models.PositiveIntegerField(default=0)
    missed_to_met = models.PositiveIntegerField(default=0)
    met_to_missed = models.PositiveIntegerField(default=0)
    alerts_recorded = models.PositiveIntegerField(default=0)
    open_periods_changed = models.PositiveIntegerField(default=0)
    timer_changes = models.JSONField(
        default=list, blank=True, help_text="The first changed timers, for people to check."
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # Provider staff only: a customer never sees a run (its corrections reach it through
    # the corrected report).
    scope_paths = ()
    objects = ScopedManager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="agreement", agreement__isnull=False)
                | Q(scope="calendar", calendar__isnull=False)
                | Q(scope="source", source__isnull=False),
                name="recompute_scope_named",
            ),
            models.CheckConstraint(
                condition=Q(tickets_done__lte=models.F("tickets_total"))
                & Q(periods_done__lte=models.F("periods_total")),
                name="recompute_progress_bounded",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status"],
                name="recompute_active",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Recompute #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("reporting:recompute-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def finished(self) -> bool:
        return not self.is_active

    @staticmethod
    def _percent(done: int, total: int, finished: bool) -> int:
        if total == 0:
            return 100 if finished else 0
        return min(100, done * 100 // total)

    @property
    def tickets_percent(self) -> int:
        return self._percent(self.tickets_done, self.tickets_total, self.stage != "tickets")

    @property
    def periods_percent(self) -> int:
        return self._percent(self.periods_done, self.periods_total, self.stage == "done")

    @property
    def percent(self) -> int:
        """Overall: tickets and periods counted alike, each one unit of work."""
        total = self.tickets_total + self.periods_total
        return self._percent(self.tickets_done + self.periods_done, total, self.stage == "done")

    @property
    def scope_text(self) -> str:
        if self.scope == self.Scope.AGREEMENT:
            return f"Agreement {self.agreement.reference}"
        if self.scope == self.Scope.CALENDAR:
            return f"Agreements measured in “{self.calendar.name}”"
        return f"Tickets from “{self.source.name}”"


class PeriodCorrection(models.Model):
    """What a closed period would say now, as a recompute found it: the old and the new
    figure side by side. The frozen ``PeriodResult`` never changes; once a provider manager
    applies the correction, reports take the new figure and an issued report of that month
    gets a correction revision that lists the change."""

    run = models.ForeignKey(RecomputeRun, on_delete=models.PROTECT, related_name="corrections")
    period_result = models.ForeignKey(
        "monitoring.PeriodResult", on_delete=models.PROTECT, related_name="corrections"
    )
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    target_label = models.CharField(max_length=200)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    value_unit = models.CharField(max_length=16)
    old_value = models.FloatField(null=True, blank=True)
    old_status = models.CharField(max_length=16)
    new_value = models.FloatField(null=True, blank=True)
    new_status = models.CharField(max_length=16)
    new_final = models.BooleanField(default=True)
    new_details = models.JSONField(default=dict)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The report revision the change went into (none when the month had no issued report).
    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, null=True, blank=True, related_name="period_corrections"
    )

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["agreement", "period_start", "target_label"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "period_result"], name="period_correction_once_per_run"
            ),
        ]
        indexes = [
            models.Index(
                fields=["period_result", "-applied_at"],
                name="period_correction_applied",
                condition=Q(applied_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.target_label} {self.period_start:%Y-%m}: {self.old_status} → {self.new_status}"
        )
