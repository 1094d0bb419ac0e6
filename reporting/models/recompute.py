"""Recompute runs and the period corrections they propose."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from reporting.models.reports import Report
from sla_portal.core.scoping import ScopedManager


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
