"""Reads of organisations and users, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from sla_portal.core.models import AccountEvent, Organisation, User


def organisations_visible_to(user: User) -> QuerySet[Organisation]:
    """Organisations the user may see: all for the provider, its own for a customer, with
    how many active people each has."""
    return (
        Organisation.objects.visible_to(user)
        .annotate(member_count=Count("users", filter=Q(users__is_active=True)))
        .order_by("name")
    )


def users_visible_to(user: User) -> QuerySet[User]:
    """Active users the acting user may see, with their organisation."""
    return User.objects.visible_to(user).select_related("organisation").filter(is_active=True)


def people_visible_to(user: User) -> QuerySet[User]:
    """Every account the acting user may see, deactivated ones included (the people pages)."""
    return User.objects.visible_to(user).select_related("organisation")


def members_of(user: User, organisation: Organisation) -> QuerySet[User]:
    """The people of ``organisation`` as ``user`` may see them: active first, by name."""
    return (
        people_visible_to(user)
        .filter(organisation=organisation)
        .order_by("-is_active", "first_name", "last_name", "username")
    )


def account_events_of(
    user: User, organisation: Organisation, limit: int = 20
) -> list[AccountEvent]:
    """The latest changes to the organisation's accounts, newest first."""
    return list(AccountEvent.objects.visible_to(user).filter(organisation=organisation)[:limit])
