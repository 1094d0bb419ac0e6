"""Service desk tickets with their status history and the periods their clock is paused."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from sla_portal.core.scoping import ScopedManager


class Ticket(models.Model):
    """One ticket as the service desk reported it, unique per source and external id."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    # Foreign keys whose lookups a composite index below already serves carry no index of
    # their own: at ten million rows each would cost write time and disk, and lure the
    # planner into scanning a whole source (docs/benchmarks.md).
    source = models.ForeignKey(
        "monitoring.Source", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    external_id = models.CharField(max_length=120)
    # Denormalised from the source so scoping and per-customer queries need no join.
    customer = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        db_index=False,
    )
    service = models.ForeignKey(
        "agreements.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    priority = models.CharField(max_length=2, blank=True)
    category = models.CharField(max_length=120, blank=True)
    # What the desk calls the ticket and who works on it, when the feed says (alert emails
    # name them so the person woken knows what it is about without opening the portal).
    title = models.CharField(max_length=300, blank=True)
    assignee = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    # Ingest marks changed tickets; evaluation clears the mark (a sweep finds what it missed).
    changed_at = models.DateTimeField(auto_now=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # Fingerprint of the last ingested row (fields and status history), so a re-sent batch is
    # recognised as unchanged without loading every ticket's history.
    ingest_digest = models.CharField(max_length=32, blank=True, editable=False)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="ticket_unique_external"
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="ticket_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True)
                | Q(first_response_at__gte=F("opened_at")),
                name="ticket_response_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5),
                name="ticket_csat_range",
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "opened_at"], name="ticket_agreement_opened"),
            models.Index(fields=["customer", "opened_at"], name="ticket_customer_opened"),
            models.Index(
                fields=["changed_at"],
                name="ticket_unevaluated",
                condition=Q(evaluated_at__isnull=True),
            ),
            # Open tickets per agreement (dashboards, the provider's overview).
            models.Index(
                fields=["agreement", "opened_at"],
                name="ticket_open_agreement",
                condition=Q(state="open"),
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class TicketStatusChange(models.Model):
    """One state change from the service desk's event log (the raw status as exported)."""

    # Served by the unique (ticket, at, status) index.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
    at = models.DateTimeField()
    status = models.CharField(max_length=60)
    pauses_clock = models.BooleanField(default=False)
    resolves = models.BooleanField(default=False)

    class Meta:
        ordering = ["ticket", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "at", "status"], name="statuschange_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket} {self.status} at {self.at:%Y-%m-%d %H:%M}"


class TicketPause(models.Model):
    """A period the SLA clock stood still (waiting on the customer or a vendor)."""

    # Served by the unique (ticket, start) index.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="pauses", db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True, help_text="Empty: still paused.")
    reason = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["ticket", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=F("start")), name="pause_ordered"
            ),
            models.UniqueConstraint(fields=["ticket", "start"], name="pause_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket} paused {self.start:%Y-%m-%d %H:%M}"
