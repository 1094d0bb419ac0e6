"""Reads of periodic reports, scoped by the acting user."""

from __future__ import annotations

from django.db.models import QuerySet

from reporting.models import Report
from sla_portal.core.models import User


def reports_visible_to(user: User) -> QuerySet[Report]:
    """Reports the user may see: provider staff every report, drafts under review included;
    a customer only its own organisation's *issued* reports (a draft is the provider's work
    in progress and answers 404 like a report that does not exist)."""
    reports = Report.objects.visible_to(user)
    if not user.is_provider:
        reports = reports.filter(status=Report.Status.ISSUED)
    return reports
