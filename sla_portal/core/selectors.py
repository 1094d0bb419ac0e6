"""Reads of organisations and users, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Organisation, User


def organisations_visible_to(user: User) -> QuerySet[Organisation]:
    """Organisations the user may see: all for the provider, its own for a customer."""
    return (
        Organisation.objects.visible_to(user).annotate(member_count=Count("users")).order_by("name")
    )


def users_visible_to(user: User) -> QuerySet[User]:
    """Users the acting user may see, with their organisation."""
    return User.objects.visible_to(user).select_related("organisation").filter(is_active=True)
