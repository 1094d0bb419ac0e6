"""Where monitoring data comes from: one row per feed of a customer."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import models
from django.db.models import Q

from sla_portal.core import crypto
from sla_portal.core.scoping import ScopedManager

# How many characters of a secret its masked hint shows (of 43): enough to tell two apart.
HINT_CHARS = 4


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def encrypted_new_secret() -> str:
    """A new signing secret, encrypted for its column (the model's default)."""
    return crypto.encrypt(new_secret())


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
    # The webhook credential. An HMAC needs the raw secret, so it is encrypted at rest (keys
    # from the environment, ``sla_portal.core.crypto``) rather than hashed; read and set it
    # through the ``signing_secret`` property.
    signing_secret_encrypted = models.TextField(default=encrypted_new_secret, editable=False)
    # After a rotation the previous secret still verifies until ``previous_secret_until``, so
    # the sender can be switched over without losing deliveries.
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Data belongs to its source's customer and counts only for that customer's agreements
    # (monitoring.models.ownership). A shared source is a provider-owned measurement (the built-in
    # probe, the provider's own monitor) counted for every agreement covering its services;
    # only provider managers set it, and each change is in the customer's account trail.
    shared = models.BooleanField(
        default=False,
        editable=False,
        help_text=(
            "Provider-owned measurement: its data counts for every customer's agreements that "
            "cover the service, not only this customer's."
        ),
    )
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
    # Staleness (monitoring.staleness). The last evidence is the time the newest data speaks
    # of (an imported history that ends in August: 31 August), or the moment of receipt for
    # live senders (a re-sent alert says "still down now"). Both columns are stamped by the
    # ingest with one conditional UPDATE per batch, and ``stale_at`` (evidence + expected
    # interval) is indexed so the stale-source sweep never scans the data tables.
    last_data_at = models.DateTimeField(null=True, blank=True, editable=False)
    stale_at = models.DateTimeField(null=True, blank=True, editable=False)
    expected_interval_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="Expected data interval (minutes)",
        help_text=(
            "After this long without data the source is stale: dashboards say "
            "“no data since” and you are told once. Empty: the default for its kind; "
            "0: never stale."
        ),
    )
    silence_counts_as_down = models.BooleanField(
        default=False,
        help_text=(
            "Count the time this source is stale as downtime of its services. Off: that time "
            "is “no data” and is left out of the measured time."
        ),
    )
    # The ``stale_at`` of the stale episode the provider was told about; cleared when data
    # comes again and the "arriving again" notice is out.
    stale_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["customer", "name"]
        indexes = [
            models.Index(
                fields=["stale_at"], condition=Q(disabled_at__isnull=True), name="source_stale_due"
            ),
            models.Index(
                fields=["stale_alerted_at"],
                condition=Q(stale_alerted_at__isnull=False),
                name="source_stale_alerted",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="source_unique_name"),
            # One probe source per service: the probe runs once per service and interval.
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(service__isnull=False),
                name="source_one_probe_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    @property
    def signing_secret(self) -> str:
        return crypto.decrypt(self.signing_secret_encrypted)

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.signing_secret_encrypted = crypto.encrypt(value)

    @property
    def signing_secret_hint(self) -> str:
        """The secret masked but for its last characters, to recognise it, never to use it."""
        return "…" + self.signing_secret[-HINT_CHARS:]

    def verifying_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery may be signed with at ``now``: the current one and, during
        the overlap after a rotation, the previous one."""
        found = [self.signing_secret]
        if (
            self.previous_secret_encrypted
            and self.previous_secret_until is not None
            and now < self.previous_secret_until
        ):
            found.append(crypto.decrypt(self.previous_secret_encrypted))
        return found

    @property
    def receives_webhooks(self) -> bool:
        """Whether this kind is set up by pointing a sender at a webhook URL with the secret."""
        return self.kind in WEBHOOK_KINDS

    @property
    def may_be_shared(self) -> bool:
        """Whether its data may count for every covering agreement: only the built-in probe's.

        The probe is the one measurement the portal makes itself. Every other kind is sent
        or exported by whoever holds its credentials or files, often the customer's own
        monitor, and nothing tells a provider-run sender from a customer's: sharing one
        would let that customer change other customers' figures."""
        return self.kind == Source.Kind.PROBE


WEBHOOK_KINDS = frozenset({Source.Kind.WEBHOOK, Source.Kind.UPTIME_KUMA, Source.Kind.ALERTMANAGER})


class SignedDelivery(models.Model):
    """A signed webhook request already accepted, remembered while its timestamp is fresh.

    The signature covers the timestamp and body, so it identifies the delivery: the same
    signature again within the tolerance window is a replay and refused. Kept in PostgreSQL,
    written in the transaction that applies the delivery's data, so a delivery is remembered
    exactly when its data was written (a refused or failed one may be retried) and webhooks
    need no other service than the database. Rows older than the window are deleted as new
    deliveries of the source arrive."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=80)
    signed_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "signature"], name="signeddelivery_once_per_source"
            ),
        ]
        indexes = [models.Index(fields=["source", "received_at"], name="signeddelivery_age")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.signature[:15]}… at {self.received_at}"


class TicketEventStamp(models.Model):
    """The signed time of the newest webhook event applied to a ticket of a source.

    A webhook ticket row is a snapshot of the ticket; an event signed before the snapshot
    already applied (delayed, retried out of order) would roll the ticket back, so it is
    skipped. Keyed by the sender's external id, because the stamp is taken in the same
    statement that decides, before the ticket row may exist."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=120)
    event_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="ticketeventstamp_unique_ticket"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}/{self.external_id} at {self.event_at}"
