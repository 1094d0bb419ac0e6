"""Writes about webhook deliveries: refusal counters, the "source refused" email and the
alerts a delivery named without a covered service.

A refused delivery (wrong secret, stale signature, unparsable body, ...) is counted on the
source row with an atomic ``UPDATE``: a flood of unauthenticated requests costs one update
each and never adds rows. The first refusal after an accepted delivery starts a *refusal
episode* (``Source.refusing_since``, set by a conditional update so only one request wins)
and tells the provider's admins and service managers once, through the exactly-once
``notify()`` keyed by source and episode. The next accepted delivery ends the episode.
Reasons are the portal's own error texts: they never echo what the sender sent, so no
token or secret reaches a page or an email.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Source
from sla_portal.core.models import Organisation, Role, User
from sla_portal.core.notifications import notify

__all__ = [
    "MAX_LISTED_REFUSED_ALERTS",
    "delivery_accepted",
    "delivery_refused",
    "refusal_recipients",
]

MAX_REASON_LENGTH = 300
# The page shows the refused alerts of the latest delivery; a group of thousands is cut.
MAX_LISTED_REFUSED_ALERTS = 50
NOTIFICATION_KIND = "source.refused"


def refusal_recipients() -> list[User]:
    """Who hears that a source is being refused: the provider's admins and service managers."""
    return list(
        User.objects.filter(
            is_active=True,
            organisation__kind=Organisation.Kind.PROVIDER,
            role__in=[Role.PROVIDER_ADMIN, Role.SERVICE_MANAGER],
        ).order_by("pk")
    )


def delivery_refused(source: Source, status: int, reason: str, *, announce: bool = True) -> None:
    """Count a refused delivery to ``source``; when ``announce`` is set and it starts a
    refusal episode, tell the provider once. Refusals not to announce (data sent to a source
    the provider disabled on purpose) are counted without touching the episode."""
    now = timezone.now()
    reason = f"{status}: {reason}"[:MAX_REASON_LENGTH]
    with transaction.atomic():
        Source.objects.filter(pk=source.pk).update(
            refused_count=F("refused_count") + 1, refused_last_at=now, refused_last_reason=reason
        )
        if not announce:
            return
        # Only the request that flips the episode on announces it.
        started = Source.objects.filter(pk=source.pk, refusing_since__isnull=True).update(
            refusing_since=now
        )
        if started:
            _announce(source, now, reason)


def delivery_accepted(source: Source, refused_alerts: list[dict[str, Any]] | None = None) -> None:
    """End any refusal episode of ``source``, and keep the alerts this delivery refused.

    The refused alerts replace those kept from an earlier delivery; a delivery without any
    keeps them: with Alertmanager's recommended ``group_by: [service]`` each service comes in
    its own notification, and the next healthy group must not hide the refused one (the page
    shows when they were received)."""
    Source.objects.filter(pk=source.pk, refusing_since__isnull=False).update(refusing_since=None)
    if refused_alerts:
        Source.objects.filter(pk=source.pk).update(
            refused_alerts=refused_alerts[:MAX_LISTED_REFUSED_ALERTS],
            refused_alerts_at=timezone.now(),
        )


def _announce(source: Source, now: datetime, reason: str) -> None:
    notify(
        NOTIFICATION_KIND,
        f"source:{source.pk}:{now.isoformat()}",
        refusal_recipients(),
        "emails/source_refused",
        {
            "source": source,
            "customer": source.customer.name,
            "reason": reason,
            "since": now,
            "url": settings.SITE_URL + reverse("monitoring:source-detail", args=[source.pk]),
        },
    )
