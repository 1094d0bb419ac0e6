"""Where monitoring data comes from: one row per feed of a customer."""

from __future__ import annotations

import secrets

from django.db import models

from sla_portal.core.scoping import ScopedManager


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Source(models.Model):
    """A feed of tickets, checks or events: a service desk export, an uptime monitor, a
    webhook sender or the portal's own probe. External ids are unique per source."""

    class Kind(models.TextChoices):
        API = "api", "REST API"
        CSV = "csv", "CSV upload"
        SERVICENOW = "servicenow", "ServiceNow export"
        JIRA = "jira", "Jira export"
        ZAMMAD = "zammad", "Zammad export"
        UPTIME_KUMA = "uptime_kuma", "Uptime Kuma"
        UPPTIME = "upptime", "Upptime"
        HEALTHCHECK = "healthcheck", "Health-check history"
        STATUSPAGE = "statuspage", "Status page"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        WEBHOOK = "webhook", "Generic webhook"
        PROBE = "probe", "Built-in HTTP probe"

    customer = models.ForeignKey(
        "core.Organisation",
        on_delete=models.PROTECT,
        related_name="sources",
        limit_choices_to={"kind": "customer"},
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.API)
    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="Zone of timestamps that carry none; empty: such timestamps are refused.",
    )
    description = models.CharField(
        max_length=300, blank=True, help_text="What sends this data, in a sentence."
    )
    # The built-in probe checks one service per probe source; empty for every other kind (and
    # for the per-customer "Built-in probe" the loop creates for catalogue probe URLs).
    service = models.ForeignKey(
        "agreements.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Probes only: the service whose URL is checked.",
    )
    signing_secret = models.CharField(max_length=64, default=new_secret)
    created_at = models.DateTimeField(auto_now_add=True)
    # Cached from the ingest (stamped after each accepted batch): deriving it from the data
    # would scan millions of tickets and checks per source on every list page.
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Disabled sources keep their data; new data sent to them is refused.
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Alert senders (Alertmanager, Uptime Kuma): label value -> portal service name, for
    # services a monitoring stack names its own way ("portal-https" -> "Customer Portal").
    service_map = models.JSONField(
        default=dict,
        blank=True,
        help_text="Service label values mapped to the portal's service names.",
    )
    # Prometheus's startsAt is the firing time, after the rule's ``for:``; this many seconds
    # are subtracted from it so an outage starts when the service went down.
    for_seconds = models.PositiveIntegerField(
        default=0,
        help_text="The alert rule's for: duration, subtracted from each alert's start.",
    )
    # Refused deliveries (wrong secret, bad body, ...), as counters on the row: a flood of
    # unauthenticated requests updates these fields and never adds rows. ``refusing_since``
    # starts a refusal episode (the provider is told once per episode) and is cleared by the
    # next accepted delivery.
    refused_count = models.PositiveIntegerField(default=0, editable=False)
    refused_last_at = models.DateTimeField(null=True, blank=True, editable=False)
    refused_last_reason = models.CharField(max_length=300, blank=True, editable=False)
    refusing_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Alerts of the latest delivery that refused any, for naming no usable service (capped list of
    # {index, service, alertname, reason}), shown on the source's page.
    refused_alerts = models.JSONField(default=list, blank=True, editable=False)
    refused_alerts_at = models.DateTimeField(null=True, blank=True, editable=False)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["customer", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="source_unique_name"),
            # One probe source per service: the probe runs once per service and interval.
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(service__isnull=False),
                name="source_one_probe_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    @property
    def receives_webhooks(self) -> bool:
        """Whether this kind is set up by pointing a sender at a webhook URL with the secret."""
        return self.kind in WEBHOOK_KINDS


WEBHOOK_KINDS = frozenset({Source.Kind.WEBHOOK, Source.Kind.UPTIME_KUMA, Source.Kind.ALERTMANAGER})
