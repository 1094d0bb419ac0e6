"""Reads of agreements and the catalogue, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from sla_portal.core.models import User

from .models import Agreement, Calendar, Service, Target, Tier


def agreements_visible_to(user: User) -> QuerySet[Agreement]:
    """Agreements the user may see: all for the provider, its own organisation's for a customer."""
    return Agreement.objects.visible_to(user).select_related("customer", "tier")


def agreement_document(user: User, pk: int) -> Agreement:
    """One agreement with everything the document shows, loaded in a fixed number of queries.

    Raises ``Agreement.DoesNotExist`` when the user may not see it."""
    return (
        agreements_visible_to(user)
        .select_related(
            "support_calendar",
            "created_by",
            "tier__service_calendar",
            "tier__support_calendar",
            "in_force_version",
        )
        .defer("in_force_version__snapshot")
        .prefetch_related(
            "services",
            "service_calendars__hours",
            "support_calendar__hours",
            "signatories",
            "support_channels",
            "priority_definitions",
            "credit_bands",
            Prefetch("targets", queryset=Target.objects.select_related("calendar", "service")),
            "tier__targets",
            "tier__credit_bands",
        )
        .get(pk=pk)
    )


def targets_visible_to(user: User) -> QuerySet[Target]:
    """Targets of the agreements the user may see."""
    return Target.objects.visible_to(user).select_related("agreement", "calendar", "service")


def services_visible_to(user: User) -> QuerySet[Service]:
    return (
        Service.objects.visible_to(user)
        .select_related("owner")
        .annotate(agreement_count=Count("agreements", distinct=True))
        .order_by("name")
    )


def calendars_visible_to(user: User) -> QuerySet[Calendar]:
    return Calendar.objects.visible_to(user).prefetch_related("hours", "closures")


def tiers_visible_to(user: User) -> QuerySet[Tier]:
    """Tier templates carry pricing: provider users only."""
    return Tier.objects.visible_to(user).prefetch_related("targets", "credit_bands")
