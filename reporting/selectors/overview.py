"""The agreement-status panel of the agreement page: lifecycle stage, current compliance per
target and open breaches of one agreement, as the user may see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from agreements.models import Agreement, Review
from agreements.terms import MONITORED_STATES
from monitoring.models import Breach, PeriodResult
from reporting.selectors.targets import TargetPanel, _panel, target_order
from sla_portal.core.models import User


@dataclass
class AgreementOverview:
    """The lifecycle stage and current compliance of one agreement (the agreement page's panel)."""

    agreement: Agreement
    monitored: bool
    targets: list[TargetPanel]
    open_breaches: int
    latest_review: Review | None


def agreement_overview(
    agreement: Agreement, user: User, now: datetime | None = None
) -> AgreementOverview:
    """Stage, current compliance per target and open breaches of one agreement, as ``user``
    may see them (a customer of another organisation gets nothing)."""
    now = now or timezone.now()
    rows = PeriodResult.objects.visible_to(user).filter(
        agreement_id=agreement.pk, period_start__lte=now, period_end__gt=now
    )
    targets = sorted((_panel(row, [row]) for row in rows), key=target_order)
    open_breaches = (
        Breach.objects.visible_to(user)
        .filter(agreement_id=agreement.pk, closed_at__isnull=True, withdrawn_at__isnull=True)
        .count()
    )
    latest_review = (
        Review.objects.visible_to(user)
        .filter(agreement_id=agreement.pk)
        .order_by("-due_date")
        .first()
    )
    monitored = agreement.status in MONITORED_STATES and agreement.in_force_version_id is not None
    return AgreementOverview(
        agreement=agreement,
        monitored=monitored,
        targets=targets,
        open_breaches=open_breaches,
        latest_review=latest_review,
    )
