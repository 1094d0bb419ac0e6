"""The public status page of a customer, its incidents and its email subscribers.

* ``StatusPage``: one public link of a customer (optionally limited to some of its services).
  The link carries a random token; only its SHA-256 is stored, so a copy of the database
  gives no working link. Rotating replaces the hash, disabling refuses the link.
* ``Incident`` and ``IncidentUpdate``: what the provider tells the customer about a
  disruption. Updates are events (house style point 6): never changed once posted; the
  incident row caches the latest status for lists.
* ``Subscriber``: an address that asked for notices on one page (double opt-in: only a
  confirmed, not unsubscribed, subscriber gets any).
* ``StatusNotice`` and ``SubscriberDelivery``: one notice per page and announced event (an
  incident update, an upcoming maintenance window), and one delivery per subscriber and
  notice. Both are unique in the database, so a notice is emailed to a subscriber exactly
  once however often it is announced (the email itself goes through ``core.notifications``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sla_portal.core.scoping import ScopedManager


class StatusPage(models.Model):
    """A customer's public status page: a link that needs no login."""

    customer = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="status_pages"
    )
    name = models.CharField(max_length=120)
    # Empty: every service of the customer's agreements in force.
    services = models.ManyToManyField("agreements.Service", blank=True, related_name="+")
    # SHA-256 (hex) of the token in the link; the token itself is shown once, when made.
    token_hash = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    rotated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["customer__name", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="status_page_token_unique"),
            models.UniqueConstraint(fields=["customer", "name"], name="status_page_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Incident(models.Model):
    """A disruption of some of a customer's services, as the provider announces it."""

    Status = IncidentStatus

    class Impact(models.TextChoices):
        DEGRADED = "degraded", "Degraded performance"
        OUTAGE = "outage", "Outage"

    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=10, choices=Impact.choices)
    services = models.ManyToManyField("agreements.Service", related_name="+")
    # The latest update's status, kept here for lists and the public page's query.
    status = models.CharField(max_length=16, choices=Status.choices)
    # Provider staff only: never on the public page, in an email or in a customer's view.
    internal_note = models.TextField(blank=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="incident_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["customer", "-started_at"],
                name="incident_active",
                condition=~Q(status="resolved"),
            ),
            models.Index(fields=["customer", "-updated_at"], name="incident_customer_updated"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status != IncidentStatus.RESOLVED


class IncidentUpdate(models.Model):
    """One public statement about an incident: a status and a message. Never changed."""

    Status = IncidentStatus

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="updates")
    status = models.CharField(max_length=16, choices=Status.choices)
    message = models.TextField()
    posted_at = models.DateTimeField()
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_paths = ("incident__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["incident", "-posted_at"], name="incident_update_time")]

    def __str__(self) -> str:
        return f"{self.incident}: {self.get_status_display()}"


class Subscriber(models.Model):
    """An address subscribed to one status page's notices (double opt-in)."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="subscribers")
    # Lowercased on the way in: one subscription per mailbox and page.
    email = models.EmailField()
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # The confirmation link signs this; confirming clears it, so the link works once.
    confirm_nonce = models.CharField(max_length=32, blank=True)
    # When the nonce's link was sent: a new request reuses it while the link is valid.
    confirm_sent_at = models.DateTimeField(null=True, blank=True)

    scope_paths = ("page__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["page", "email"]
        constraints = [
            models.UniqueConstraint(fields=["page", "email"], name="subscriber_once_per_page"),
        ]
        indexes = [
            models.Index(
                fields=["page"],
                name="subscriber_active",
                condition=Q(confirmed_at__isnull=False, unsubscribed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class StatusNotice(models.Model):
    """One announcement on one page: an incident update, or an upcoming maintenance window."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incident update"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    incident_update = models.ForeignKey(
        IncidentUpdate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    maintenance = models.ForeignKey(
        "monitoring.MaintenanceWindow",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The window's times this notice announced: a window moved later gets a new notice.
    maintenance_starts_at = models.DateTimeField(null=True, blank=True)
    maintenance_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    scope_paths = ("page__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind="incident", incident_update__isnull=False, maintenance__isnull=True
                )
                | Q(kind="maintenance", incident_update__isnull=True, maintenance__isnull=False),
                name="status_notice_one_subject",
            ),
            models.UniqueConstraint(
                fields=["page", "incident_update"],
                condition=Q(incident_update__isnull=False),
                name="status_notice_once_per_update",
            ),
            models.UniqueConstraint(
                fields=["page", "maintenance", "maintenance_starts_at", "maintenance_ends_at"],
                condition=Q(maintenance__isnull=False),
                name="status_notice_once_per_maintenance_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.page}"


class SubscriberDelivery(models.Model):
    """A notice as queued for one subscriber: at most one per (subscriber, notice)."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    notice = models.ForeignKey(StatusNotice, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.ForeignKey(
        "core.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    scope_paths = ("notice__page__customer",)
    objects = ScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "notice"], name="subscriber_delivery_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice} to {self.subscriber}"
