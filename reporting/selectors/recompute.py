"""Reads of recompute runs, scoped by the acting user."""

from __future__ import annotations

from django.db.models import QuerySet

from reporting.models import RecomputeRun
from sla_portal.core.models import User


def recompute_runs_visible_to(user: User) -> QuerySet[RecomputeRun]:
    """Runs the user may see: provider staff only (customers get none, hence 404)."""
    return RecomputeRun.objects.visible_to(user).select_related(
        "agreement", "calendar", "source", "requested_by", "applied_by"
    )
