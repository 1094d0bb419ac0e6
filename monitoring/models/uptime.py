"""Uptime: check results, the outages derived from them, and planned maintenance."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from monitoring.models.ownership import visible_to_organisation
from sla_portal.core.scoping import ScopedManager


class SourceOwned:
    """Monitoring data belongs to the source that sent it (``monitoring.models.ownership``): a
    customer sees its own sources' rows, and a provider-shared source's rows of the services
    its proposed agreements cover. Services are shared catalogue rows, so the service alone
    never decides (a Globex feed about "Customer Portal" is not Acme's data)."""

    scope_paths: tuple[str, ...] = ("source__customer",)

    @classmethod
    def scope_condition(cls, organisation_id: int) -> Q:
        return visible_to_organisation(organisation_id)


class UptimeCheck(SourceOwned, models.Model):
    """One check of a service at one time: up, down, or in maintenance."""

    class Status(models.TextChoices):
        UP = "up", "Up"
        DOWN = "down", "Down"
        MAINTENANCE = "maintenance", "Maintenance"

    # Served by the unique (service, checked_at, source) index; a second one at 100M rows is
    # waste.
    service = models.ForeignKey(
        "agreements.Service", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.PROTECT, related_name="+", null=True
    )
    checked_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices)
    response_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "-checked_at"]
        constraints = [
            # One check per source and instant: two customers' monitors checking one service
            # at the same second each keep their own row (the source is last, so the index
            # still serves every (service, time range) read). NULLS NOT DISTINCT keeps rows
            # that name no source unique per instant, as before.
            models.UniqueConstraint(
                fields=["service", "checked_at", "source"],
                name="check_unique_time",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.status} at {self.checked_at:%Y-%m-%d %H:%M}"


class Outage(SourceOwned, models.Model):
    """A period a service was down: from the first failed check to the first success after it
    (open while no success has come yet)."""

    # Served by the unique (service, started_at, source) index.
    service = models.ForeignKey(
        "agreements.Service", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.PROTECT, related_name="+", null=True
    )
    cause = models.CharField(max_length=200, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "-started_at"]
        constraints = [
            # Outages are derived per source from that source's checks.
            models.UniqueConstraint(
                fields=["service", "started_at", "source"],
                name="outage_unique_start",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="outage_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} down from {self.started_at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(SourceOwned, models.Model):
    """Planned maintenance of a service, with when it was announced."""

    service = models.ForeignKey("agreements.Service", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.PROTECT, related_name="+", null=True
    )
    external_id = models.CharField(max_length=120)
    title = models.CharField(max_length=300, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    announced_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["service", "-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "service", "external_id"], name="maintenance_unique_external"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="maintenance_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} maintenance {self.starts_at:%Y-%m-%d %H:%M}"
