"""Writes of sources (feeds, webhooks, probes) as the Sources pages make them.

A source's signing secret is returned by :func:`source_create` and :func:`source_rotate_secret`
so the page or the API answer can show it once; nothing else ever returns it. After a rotation
the previous secret still verifies for ``SOURCE_SECRET_OVERLAP_HOURS`` (24 by default), so the
sender can be switched over without losing deliveries; rotating again within that window ends
the older secret at once (only the current and the one before verify).

A probe source owns the probe settings of one service: the URL and interval live on the
catalogue's ``Service`` (the probe loop reads them there, ``monitoring.probe``) and the
expected status, timeout and retries on its ``ProbeState``. Disabling the source pauses that
probe; every source, once disabled, refuses new data (``monitoring.ingest.source_accepts``)
and keeps what it already sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agreements.models import Service
from monitoring.ingest import notify_changed
from monitoring.models import ProbeState, Source
from monitoring.models.ownership import accepted_services
from monitoring.models.sources import new_secret
from sla_portal.core.models import AccountEvent, Organisation, User

__all__ = [
    "SHARING_REFUSED",
    "ProbeSettings",
    "SharingRefused",
    "source_alerts_update",
    "source_create",
    "source_disable",
    "source_enable",
    "source_rotate_secret",
    "source_set_shared",
    "source_update",
]


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """What the built-in probe needs to check one service."""

    url: str
    interval_seconds: int
    expected_status: str
    timeout_seconds: int
    retries_before_down: int


def _apply_probe(service: Service, probe: ProbeSettings, enabled: bool = True) -> None:
    Service.objects.filter(pk=service.pk).update(
        probe_url=probe.url, probe_interval_seconds=probe.interval_seconds
    )
    ProbeState.objects.update_or_create(
        service=service,
        defaults={
            "expected_status": probe.expected_status,
            "timeout_seconds": probe.timeout_seconds,
            "retries_before_down": probe.retries_before_down,
            "enabled": enabled,
            # Probe the new settings at the next tick rather than after the old interval.
            "next_probe_at": timezone.now(),
        },
    )


@transaction.atomic
def source_create(
    *,
    customer: Organisation,
    name: str,
    kind: str,
    description: str = "",
    timezone_name: str = "",
    service: Service | None = None,
    probe: ProbeSettings | None = None,
) -> tuple[Source, str]:
    """Create a source and return it with its signing secret, to be shown once.

    A probe source (``kind`` probe) needs ``service`` and ``probe``; it takes over the probe
    settings of that service. The caller has validated the choices (the form does)."""
    is_probe = kind == Source.Kind.PROBE
    if is_probe and (service is None or probe is None):
        raise ValueError("a probe source needs the service it checks and its settings")
    source = Source.objects.create(
        customer=customer,
        name=name,
        kind=kind,
        description=description,
        timezone=timezone_name,
        service=service if is_probe else None,
    )
    if is_probe:
        _apply_probe(service, probe)
    return source, source.signing_secret


@transaction.atomic
def source_update(
    source: Source,
    *,
    name: str,
    description: str,
    timezone_name: str,
    probe: ProbeSettings | None = None,
) -> Source:
    """Change what may change after creation: the name, description, time zone and, for a
    probe, its settings. Customer, kind and probed service stay (data was sent under them)."""
    source.name = name
    source.description = description
    source.timezone = timezone_name
    source.save(update_fields=["name", "description", "timezone"])
    if source.kind == Source.Kind.PROBE and source.service_id and probe is not None:
        _apply_probe(source.service, probe, enabled=source.enabled)
    return source


@transaction.atomic
def source_disable(source: Source) -> Source:
    """Refuse new data from the source from now on (and pause its probe); keep its data."""
    if source.disabled_at is None:
        source.disabled_at = timezone.now()
        source.save(update_fields=["disabled_at"])
    if source.service_id:
        ProbeState.objects.filter(service_id=source.service_id).update(enabled=False)
    return source


@transaction.atomic
def source_enable(source: Source) -> Source:
    """Accept data from the source again (and resume its probe at the next tick)."""
    source.disabled_at = None
    source.save(update_fields=["disabled_at"])
    if source.service_id:
        ProbeState.objects.filter(service_id=source.service_id).update(
            enabled=True, next_probe_at=timezone.now()
        )
    return source


def source_alerts_update(
    source: Source, *, service_map: dict[str, str], for_seconds: int | None = None
) -> Source:
    """Set how an alert sender's service labels map to services and, for Alertmanager, the
    rule's ``for:`` subtracted from alert starts. The caller validated the mapping
    (``monitoring.adapters.service_map_errors``)."""
    source.service_map = service_map
    fields = ["service_map"]
    if for_seconds is not None:
        source.for_seconds = for_seconds
        fields.append("for_seconds")
    source.save(update_fields=fields)
    return source


SHARING_REFUSED = (
    "Only a built-in probe's source can be shared: the data of any other source is sent by "
    "whoever holds its credentials, often the customer's own monitor, and sharing it would let "
    "that sender change other customers' figures."
)


class SharingRefused(ValueError):
    """Sharing asked for a source that is not the provider's own measurement."""


@transaction.atomic
def source_set_shared(source: Source, *, shared: bool, by: User) -> Source:
    """Share the source's data with every agreement covering its services, or stop sharing.

    Data belongs to its source's customer and counts only for that customer's agreements
    (``monitoring.models.ownership``); sharing is the provider's deliberate exception for its own
    measurement, the built-in probe (:attr:`Source.may_be_shared`). The change is recorded in the
    customer's account trail, and the open periods of the services the source may feed are
    evaluated again, since what counts for them has changed. Setting the current value
    again changes and records nothing. Only a source that :attr:`Source.may_be_shared` can
    be shared (:class:`SharingRefused` otherwise)."""
    source = Source.objects.select_for_update().get(pk=source.pk)
    if source.shared == shared:
        return source
    if shared and not source.may_be_shared:
        # Stopping is always allowed: a source shared before this rule can be put right.
        raise SharingRefused(SHARING_REFUSED)
    affected = list(accepted_services(source).values_list("pk", flat=True))
    source.shared = shared
    source.save(update_fields=["shared"])
    if shared:
        affected = list(accepted_services(source).values_list("pk", flat=True))
    AccountEvent.objects.create(
        organisation_id=source.customer_id,
        actor=by,
        actor_name=by.display_name,
        action=AccountEvent.Action.SOURCE_SHARING,
        before="shared" if not shared else "own customer only",
        after="shared" if shared else "own customer only",
        message=(
            f"The data of the source “{source.name}” now counts for every agreement that "
            "covers its services."
            if shared
            else f"The data of the source “{source.name}” now counts only for "
            f"{source.customer.name}'s agreements."
        ),
    )
    if affected:
        transaction.on_commit(lambda: notify_changed("checks", affected))
    return source


def secret_overlap() -> timedelta:
    """How long a rotated-out secret still verifies."""
    return timedelta(hours=getattr(settings, "SOURCE_SECRET_OVERLAP_HOURS", 24))


@transaction.atomic
def source_rotate_secret(source: Source, *, by: User) -> str:
    """Give ``source`` a new signing secret and return it, to be shown once.

    The current secret becomes the previous one and verifies until the overlap ends. The
    rotation is recorded in the customer's account trail (who and when, never the secret)."""
    source = Source.objects.select_for_update().get(pk=source.pk)
    now = timezone.now()
    secret = new_secret()
    source.previous_secret_encrypted = source.signing_secret_encrypted
    source.previous_secret_until = now + secret_overlap()
    source.signing_secret = secret
    source.secret_rotated_at = now
    source.save(
        update_fields=[
            "signing_secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_until",
            "secret_rotated_at",
        ]
    )
    AccountEvent.objects.create(
        organisation_id=source.customer_id,
        at=now,
        actor=by,
        actor_name=by.display_name,
        action=AccountEvent.Action.SECRET_ROTATED,
        message=(
            f"Rotated the signing secret of the source “{source.name}”; the previous secret "
            f"verifies until {source.previous_secret_until:%Y-%m-%d %H:%M} UTC."
        ),
    )
    return secret
