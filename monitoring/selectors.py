"""Reads of monitoring data, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import QuerySet

from sla_portal.core.models import User

from .models import Source, Ticket


def sources_visible_to(user: User) -> QuerySet[Source]:
    """Sources of the customers the user may see (all for the provider)."""
    return Source.objects.visible_to(user).select_related("customer")


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
