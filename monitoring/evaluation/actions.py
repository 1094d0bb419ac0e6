"""What people do with the engine's conclusions: acknowledge alerts, explain breaches."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from monitoring.models import Alert, Breach
from sla_portal.core.models import User


def alert_acknowledge(alert: Alert, user: User) -> Alert:
    """Record that a provider team member has seen the alert and is on it (once: the first
    acknowledgement stands)."""
    if not user.is_provider:
        raise PermissionDenied("Only the provider's team acknowledges alerts.")
    # Conditional, so two people clicking at once leave the first acknowledgement standing.
    Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_by=user, acknowledged_at=timezone.now()
    )
    alert.refresh_from_db()
    return alert


def breach_root_cause_set(breach: Breach, user: User, text: str) -> Breach:
    """Write the root-cause note of a breach, for the review (provider side only)."""
    if not user.is_provider:
        raise PermissionDenied("Only the provider writes root-cause notes.")
    text = text.strip()
    if not text:
        raise ValidationError({"root_cause": "Say what caused the breach."})
    Breach.objects.filter(pk=breach.pk).update(
        root_cause=text, root_cause_by=user, root_cause_at=timezone.now()
    )
    breach.refresh_from_db()
    return breach
