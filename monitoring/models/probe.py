"""State of the built-in HTTP probe: when each probed service is due and how it last went."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from monitoring.status_codes import parse_expected


def validate_expected_status(value: str) -> None:
    """Accept specs like ``200-299,301``; refuse anything ``parse_expected`` cannot read."""
    try:
        parse_expected(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class ProbeState(models.Model):
    """The probe's schedule and recent result for one service with a ``probe_url``.

    Created lazily by the probe loop for every service that has a probe URL. The results
    themselves are ``UptimeCheck`` rows; this row holds only what the loop needs between runs
    (the next deadline, the run of failures so far) and what an admin wants to see at a glance.
    """

    service = models.OneToOneField(
        "agreements.Service", on_delete=models.CASCADE, related_name="probe_state"
    )
    enabled = models.BooleanField(default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    expected_status = models.CharField(
        max_length=200,
        default="200-299",
        validators=[validate_expected_status],
        help_text="Status codes that count as up: codes and ranges, e.g. 200-299,301.",
    )
    retries_before_down = models.PositiveSmallIntegerField(
        default=2,
        help_text="Consecutive failed attempts before the service is reported down.",
    )
    # The deadline the loop claims (house style point 8); set when the row is created, so a
    # new probe runs at the next tick.
    next_probe_at = models.DateTimeField(default=timezone.now)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The first failed attempt of the current run of failures: a down reported at the
    # threshold is dated back to it, so the outage starts when the service really failed.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    # Provider-only: customers see the checks, not the probe's machinery.
    scope_paths: tuple[str, ...] = ()

    class Meta:
        ordering = ["next_probe_at"]
        indexes = [
            # Only enabled rows are ever claimed, so only they need to be in the index.
            models.Index(fields=["next_probe_at"], condition=Q(enabled=True), name="probestate_due")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1), name="probestate_timeout_min"
            ),
            models.CheckConstraint(
                condition=Q(retries_before_down__gte=1), name="probestate_retries_min"
            ),
        ]

    def __str__(self) -> str:
        return f"Probe of {self.service}"
