"""Reads of the surveys, scoped by the acting user (customers see their own only)."""

from __future__ import annotations

from django.db.models import QuerySet

from monitoring.models import Survey


def surveys_visible_to(user) -> QuerySet[Survey]:
    """Every survey the user may see, newest first, with its ticket and agreement."""
    return (
        Survey.objects.visible_to(user)
        .select_related("ticket", "agreement")
        .order_by("-created_at", "-pk")
    )
