"""Reads of monitoring data, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Now

from agreements.models import Service
from agreements.selectors import seen_through_proposed_agreements
from monitoring.importers.event_log import STATES_KEY
from monitoring.models import (
    ImportJob,
    MaintenanceWindow,
    Outage,
    Source,
    Ticket,
    TicketPause,
    UptimeCheck,
)
from monitoring.models.imports import ColumnMapping
from sla_portal.core.models import User

# The kinds of saved column mapping: ticket CSVs, and event logs (one row per state change),
# whose mappings hold the state roles under ``event_log.STATES_KEY``.
TICKETS, EVENT_LOG = "tickets", "event_log"


def sources_visible_to(user: User) -> QuerySet[Source]:
    """Sources of the customers the user may see (all for the provider)."""
    return Source.objects.visible_to(user).select_related("customer")


def sources_accepting_data(user: User) -> QuerySet[Source]:
    """Sources the user may see that are not disabled: the choices of the upload forms."""
    return sources_visible_to(user).filter(disabled_at__isnull=True)


def source_rows(user: User) -> QuerySet[Source]:
    """Sources for the Sources page: enabled first, then by customer and name, with the
    probed service loaded (one query for the whole page)."""
    return (
        sources_visible_to(user)
        .select_related("service")
        .order_by(F("disabled_at").asc(nulls_first=True), "customer__name", "name")
    )


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """Tickets of the customers the user may see, newest first."""
    return (
        Ticket.objects.visible_to(user)
        .select_related("source", "customer", "agreement", "service")
        .order_by("-opened_at", "-id")
    )


def ticket_with_history(user: User) -> QuerySet[Ticket]:
    """Tickets as :func:`tickets_visible_to`, with pauses and status history loaded."""
    return tickets_visible_to(user).prefetch_related("pauses", "status_changes")


def tickets_with_paused_time(user: User) -> QuerySet[Ticket]:
    """Tickets as :func:`tickets_visible_to`, each annotated with ``paused_time``: the sum of
    its pauses (an open pause counts up to now), ``None`` when it was never paused.

    One subquery instead of prefetching pauses keeps the list at a fixed number of queries."""
    paused = (
        TicketPause.objects.filter(ticket=OuterRef("pk"))
        .order_by()
        .values("ticket")
        .annotate(
            total=Sum(
                ExpressionWrapper(
                    Coalesce(F("end"), Now()) - F("start"), output_field=DurationField()
                )
            )
        )
        .values("total")
    )
    return tickets_visible_to(user).annotate(
        paused_time=Subquery(paused, output_field=DurationField())
    )


def ticket_timeline(user: User) -> QuerySet[Ticket]:
    """Tickets as :func:`ticket_with_history`, with the agreement's support calendar (hours and
    closures) loaded for the business-time clock."""
    return (
        ticket_with_history(user)
        .select_related("agreement__support_calendar")
        .prefetch_related(
            "agreement__support_calendar__hours", "agreement__support_calendar__closures"
        )
    )


def services_with_checks_visible_to(user: User) -> QuerySet[Service]:
    """Services whose monitoring data the user may see: for a customer, the services its
    agreements cover once proposed to it; for the provider, all."""
    return seen_through_proposed_agreements(Service.objects.visible_to(user), user, "agreements")


def uptime_checks_visible_to(user: User) -> QuerySet[UptimeCheck]:
    """Check results of the services the user may see, newest first."""
    return UptimeCheck.objects.visible_to(user).order_by("-checked_at", "-id")


def uptime_summary(checks: QuerySet[UptimeCheck]) -> dict[str, int]:
    """How many of the given checks there are and how many were up, down or in maintenance."""
    return checks.aggregate(
        total=Count("id"),
        up=Count("id", filter=Q(status=UptimeCheck.Status.UP)),
        down=Count("id", filter=Q(status=UptimeCheck.Status.DOWN)),
        maintenance=Count("id", filter=Q(status=UptimeCheck.Status.MAINTENANCE)),
    )


def outages_visible_to(user: User) -> QuerySet[Outage]:
    """Outages of the services the user may see, newest first."""
    return Outage.objects.visible_to(user).order_by("-started_at", "-id")


def maintenance_visible_to(user: User) -> QuerySet[MaintenanceWindow]:
    """Maintenance windows of the services the user may see, newest first."""
    return MaintenanceWindow.objects.visible_to(user).order_by("-starts_at", "-id")


def import_jobs_visible_to(user: User) -> QuerySet[ImportJob]:
    """Import jobs of the sources the user may see, newest first."""
    return ImportJob.objects.visible_to(user).select_related("source__customer", "created_by")


def mappings_visible_to(user: User, kind: str | None = None) -> QuerySet[ColumnMapping]:
    """Saved column mappings of the sources the user may see, optionally of one kind.

    Event-log mappings are the ones holding state roles (``event_log.STATES_KEY``).
    """
    mappings = ColumnMapping.objects.visible_to(user).select_related("source")
    if kind == EVENT_LOG:
        return mappings.filter(mapping__has_key=STATES_KEY)
    if kind == TICKETS:
        return mappings.exclude(mapping__has_key=STATES_KEY)
    return mappings
