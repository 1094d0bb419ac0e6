"""Error events, measured values and continuity incidents of services."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from monitoring.models.uptime import SourceOwned
from sla_portal.core.scoping import ScopedManager


class ErrorEvent(SourceOwned, models.Model):
    """One error of a category, counted against functionality targets."""

    service = models.ForeignKey("agreements.Service", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey("monitoring.Source", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=120)
    category = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="error_unique_external")
        ]
        indexes = [
            models.Index(fields=["service", "category", "occurred_at"], name="error_service_cat_at")
        ]

    def __str__(self) -> str:
        return f"{self.category} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Measurement(SourceOwned, models.Model):
    """A measured value of a service, e.g. the hourly p95 page load time in ms."""

    service = models.ForeignKey("agreements.Service", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey("monitoring.Source", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=160)
    measured_at = models.DateTimeField()
    value = models.FloatField()

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "name", "-measured_at"]
        constraints = [
            # Per source: two customers' feeds measuring one service keep their own values.
            models.UniqueConstraint(
                fields=["service", "name", "measured_at", "source"],
                name="measurement_unique_time",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} = {self.value} at {self.measured_at:%Y-%m-%d %H:%M}"


class ContinuityIncident(SourceOwned, models.Model):
    """A continuity event (a disaster-recovery case): when it began and when service was
    recovered, measured against recovery-time targets."""

    service = models.ForeignKey("agreements.Service", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey("monitoring.Source", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="continuity_unique_external"
            ),
            models.CheckConstraint(
                condition=Q(recovered_at__isnull=True) | Q(recovered_at__gte=F("started_at")),
                name="continuity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} incident {self.started_at:%Y-%m-%d %H:%M}"
