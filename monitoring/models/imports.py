"""Browser uploads of export files, imported by a background job that reports its progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sla_portal.core.scoping import ScopedManager


class ImportJob(models.Model):
    """One uploaded export file and the state of its import.

    The row is the job's whole memory: the task re-reads it, claims it with a conditional
    update (queued → running) and writes progress and the outcome back, so a redelivered task
    or a page reload never depends on the broker.
    """

    class Format(models.TextChoices):
        SERVICENOW = "servicenow", "ServiceNow incident event log"
        UPTIME_KUMA = "uptime_kuma", "Uptime Kuma heartbeats"
        HEALTHCHECK = "healthcheck", "Health-check log"
        UPPTIME = "upptime", "Upptime status history"
        STATUSPAGE = "statuspage", "Status page maintenances"
        GENERIC_CSV = "generic_csv", "CSV tickets (column mapping)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.REFUSED, Status.FAILED)

    source = models.ForeignKey("monitoring.Source", on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=16, choices=Format.choices)
    file = models.FileField(upload_to="imports/")
    monitors_file = models.FileField(
        upload_to="imports/", blank=True, help_text="Uptime Kuma only: its monitor.csv."
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Parser and import options: timezone, dayfirst, states, agreement, map.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=200, blank=True)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Unreadable rows left out.")
    problems = models.JSONField(
        default=list, blank=True, help_text="Row-level problems (refused) or skipped rows."
    )
    error = models.TextField(blank=True, help_text="Why a failed job failed.")
    summary = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "What became of the file's rows (read = used + merged + left out + refused) and "
            "every rule that reinterpreted, filled, merged or left out rows, with its count."
        ),
    )
    progress = models.PositiveSmallIntegerField(
        default=0,
        help_text="Percent done over all phases (read, fold, validate, ingest); never decreases.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the uploaded files were deleted (see monitoring.retention).",
    )
    # A refused or failed job corrected and run again is a new job pointing back at it: each
    # attempt keeps its own options and what it said, so the history of a file stays readable.
    retry_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="retries",
        help_text="The earlier attempt this job corrects.",
    )

    scope_paths = ("source__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="importjob_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__isnull=True) | models.Q(processed__lte=models.F("total")),
                name="importjob_processed_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.kind_label}, {self.get_status_display()})"

    @property
    def kind_label(self) -> str:
        """What was imported, as the lists show it: event logs share the column-mapping
        format but are one row per state change, not one per ticket."""
        if self.format == self.Format.GENERIC_CSV and self.options.get("layout") == "event_log":
            return "CSV event log (column mapping)"
        return self.get_format_display()

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        """Progress for the bar; a finished job is full whatever its outcome.

        ``progress`` is written through every phase by ``monitoring.jobs`` and only grows,
        so the bar never goes back (it used to restart at 0 % for the ingest)."""
        if self.finished:
            return 100
        return min(100, self.progress)

    @property
    def rule_lines(self) -> list[str]:
        """One line per rule applied, as stored in ``summary``."""
        return [entry["line"] for entry in self.summary.get("rules", [])]

    @property
    def rows_summary(self) -> dict[str, int]:
        return self.summary.get("rows", {})


class ColumnMapping(models.Model):
    """A saved answer to "which CSV column holds which ticket field" for one source's exports.

    ``mapping`` is ``{ticket field: column name}`` as ``monitoring.importers.generic_csv``
    reads it; the date format and time zone travel with it because they belong to the same
    exporting system.
    """

    class DateFormat(models.TextChoices):
        AUTO = "auto", "Detect from the values"
        DAYFIRST = "dayfirst", "Day first (31/12/2024)"
        MONTHFIRST = "monthfirst", "Month first (12/31/2024)"
        ISO = "iso", "ISO 8601 (2024-12-31 14:30)"

    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.CASCADE, related_name="column_mappings"
    )
    name = models.CharField(max_length=80)
    mapping = models.JSONField(default=dict, help_text="{ticket field: CSV column}.")
    date_format = models.CharField(
        max_length=10, choices=DateFormat.choices, default=DateFormat.AUTO
    )
    timezone = models.CharField(
        max_length=64, blank=True, help_text="Zone of timestamps written without an offset."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("source__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["source", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "name"], name="columnmapping_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.source.name})"
