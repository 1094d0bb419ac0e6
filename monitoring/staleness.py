"""Sources whose data stopped arriving: the database side of ``monitoring.silence``.

One place computes staleness for the whole portal:

* the ingest stamps each source's last evidence and the moment it goes stale
  (:func:`stamp_evidence`, one conditional UPDATE per accepted batch, never per row);
* period evaluation asks which feeds of a target's services are silent
  (:func:`services_silence`, :func:`stale_moments`) and leaves the silence out of the
  measured time, or counts it as down where the source says so;
* dashboards read the result from the period results (``details["no_data_since"]``);
* the sweep :func:`check_stale_sources` (a beat task, every minute) tells the provider once
  per stale episode that data stopped arriving, and once that it arrives again.

The episode is named by its ``stale_at`` moment: it changes only when newer data comes, so
the notification key ``source-<id>-<stale_at>`` is unique per source and episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from agreements.models import Service
from monitoring.format import duration
from monitoring.models import Outage, Source, UptimeCheck
from monitoring.models.ownership import counted_for
from monitoring.models.sources import WEBHOOK_KINDS
from monitoring.silence import Feed, Silence, expected_interval, service_silence
from sla_portal.core.models import Role, User
from sla_portal.core.notifications import notify

__all__ = [
    "ServiceSilence",
    "check_stale_sources",
    "evidence_time",
    "reschedule",
    "services_silence",
    "source_interval",
    "source_set_expectations",
    "stale_moments",
    "stamp_evidence",
]

# Live senders push as things happen: receiving a batch is itself evidence about "now" (a
# re-sent firing alert still carries its old startsAt). Imports speak of their data's time.
LIVE_KINDS = frozenset(WEBHOOK_KINDS | {Source.Kind.PROBE})

STALE_KIND = "source_stale"
RESUMED_KIND = "source_resumed"


def source_interval(source: Source) -> timedelta | None:
    """The expected data interval of ``source`` (None: it is never stale)."""
    probe_seconds = None
    if source.kind == Source.Kind.PROBE and source.service_id is not None:
        probe_seconds = source.service.probe_interval_seconds
    return expected_interval(
        source.kind,
        source.expected_interval_minutes,
        settings.SLA_STALE_AFTER_MINUTES,
        probe_seconds,
    )


def evidence_time(source: Source, data_until: datetime | None, received: datetime) -> datetime:
    """What a batch received at ``received`` proves about time: up to its newest data
    (``data_until``) for imports, up to the receipt for live senders. Never the future."""
    if data_until is None or source.kind in LIVE_KINDS:
        return received
    return min(data_until, received)


def stamp_evidence(source: Source, evidence: datetime) -> None:
    """Move the source's last evidence forward to ``evidence`` (never back: re-importing old
    history says nothing about the present) and its stale moment with it. One UPDATE."""
    interval = source_interval(source)
    Source.objects.filter(pk=source.pk).filter(
        Q(last_data_at__isnull=True) | Q(last_data_at__lt=evidence)
    ).update(last_data_at=evidence, stale_at=evidence + interval if interval else None)


def reschedule(source: Source) -> None:
    """Recompute ``stale_at`` after the source's interval (or kind) changed."""
    interval = source_interval(source)
    stale_at = source.last_data_at + interval if source.last_data_at and interval else None
    Source.objects.filter(pk=source.pk).update(stale_at=stale_at)
    source.stale_at = stale_at


def source_set_expectations(
    source: Source, *, expected_interval_minutes: int | None, silence_counts_as_down: bool
) -> Source:
    """Set how long ``source`` may stay silent (None: its kind's default; 0: never stale)
    and whether its silence counts as down, and move its stale moment accordingly."""
    source.expected_interval_minutes = expected_interval_minutes
    source.silence_counts_as_down = silence_counts_as_down
    source.save(update_fields=["expected_interval_minutes", "silence_counts_as_down"])
    reschedule(source)
    return source


# --- Reads for the evaluation ---------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSilence:
    """The silence of a target's services and whether it counts as down."""

    silence: Silence
    counts_as_down: bool


def _feed_ids(service_ids: list[int], customer_id: int | None) -> set[int]:
    """The sources that feed these services: those of their outages, of each service's
    newest check (the unique (service, checked_at, source) index answers it) and their
    probes; only those counted for ``customer_id`` when given (``monitoring.models.ownership``:
    another customer's silent feed says nothing about this customer's figures)."""
    counted = Q() if customer_id is None else counted_for(customer_id)
    ids = set(
        Outage.objects.filter(counted, service_id__in=service_ids, source__isnull=False)
        .order_by()
        .values_list("source_id", flat=True)
        .distinct()
    )
    for service_id in service_ids:
        newest = (
            UptimeCheck.objects.filter(counted, service_id=service_id)
            .order_by("-checked_at")
            .values_list("source_id", flat=True)
            .first()
        )
        if newest is not None:
            ids.add(newest)
    probes = Source.objects.filter(service_id__in=service_ids)
    if customer_id is not None:
        probes = probes.filter(Q(customer_id=customer_id) | Q(shared=True))
    ids.update(probes.values_list("pk", flat=True))
    return ids


def services_silence(
    service_ids: Iterable[int], now: datetime, customer_id: int | None = None
) -> ServiceSilence | None:
    """The silence of the services' data, if every source feeding them (every source that
    counts for ``customer_id``, when given) is stale; None while any of them is fresh, or
    when nothing is known about them."""
    ids = _feed_ids(list(service_ids), customer_id)
    if not ids:
        return None
    sources = list(
        Source.objects.filter(pk__in=ids).values_list(
            "last_data_at", "stale_at", "silence_counts_as_down"
        )
    )
    silence = service_silence((Feed(last, stale) for last, stale, _ in sources), now)
    if silence is None:
        return None
    return ServiceSilence(silence, counts_as_down=any(down for _, _, down in sources))


def services_silence_each(
    service_ids: Iterable[int], now: datetime, customer_id: int
) -> dict[int, ServiceSilence]:
    """``services_silence`` of each service on its own, in a fixed number of queries for any
    number of services; only the silent services are in the answer."""
    ids = list(service_ids)
    if not ids:
        return {}
    counted = counted_for(customer_id)
    feeds: dict[int, set[int]] = {pk: set() for pk in ids}
    for service_id, source_id in (
        Outage.objects.filter(counted, service_id__in=ids, source__isnull=False)
        .order_by()
        .values_list("service_id", "source_id")
        .distinct()
    ):
        feeds[service_id].add(source_id)
    # Each service's newest check: one indexed walk per service, inside one query.
    newest = UptimeCheck.objects.filter(counted, service_id=OuterRef("pk")).order_by("-checked_at")
    for service_id, source_id in (
        Service.objects.filter(pk__in=ids)
        .annotate(newest_source=Subquery(newest.values("source_id")[:1]))
        .values_list("pk", "newest_source")
    ):
        if source_id is not None:
            feeds[service_id].add(source_id)
    for service_id, source_id in Source.objects.filter(
        Q(customer_id=customer_id) | Q(shared=True), service_id__in=ids
    ).values_list("service_id", "pk"):
        feeds[service_id].add(source_id)
    sources = {
        pk: (last, stale, down)
        for pk, last, stale, down in Source.objects.filter(
            pk__in={pk for found in feeds.values() for pk in found}
        ).values_list("pk", "last_data_at", "stale_at", "silence_counts_as_down")
    }
    answer = {}
    for service_id, found in feeds.items():
        rows = [sources[pk] for pk in found if pk in sources]
        if not rows:
            continue
        silence = service_silence((Feed(last, stale) for last, stale, _ in rows), now)
        if silence is not None:
            answer[service_id] = ServiceSilence(
                silence, counts_as_down=any(down for _, _, down in rows)
            )
    return answer


def stale_moments(source_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
    """The sources among ``source_ids`` that are stale at ``now``, with their stale moment."""
    ids = {pk for pk in source_ids if pk is not None}
    if not ids:
        return {}
    return dict(Source.objects.filter(pk__in=ids, stale_at__lte=now).values_list("pk", "stale_at"))


# --- The sweep ----------------------------------------------------------------------------------


def _provider_recipients() -> list[User]:
    return list(
        User.objects.filter(
            role__in=[Role.PROVIDER_ADMIN, Role.SERVICE_MANAGER], is_active=True
        ).order_by("pk")
    )


def _context(source: Source) -> dict:
    interval = source_interval(source)
    return {
        "source": source,
        "customer": source.customer,
        "last_data_at": source.last_data_at,
        "interval": duration(interval.total_seconds()) if interval else "",
        "url": settings.SITE_URL + reverse("monitoring:source-detail", args=[source.pk]),
    }


def check_stale_sources(now: datetime | None = None) -> tuple[int, int]:
    """Tell the provider about sources that went stale or came back; return how many of each.

    Each source is claimed with a conditional UPDATE on the moment it was seen with (house
    style, point 8), so two sweeps never announce one episode twice, and the notifications
    are keyed by source and episode besides."""
    now = now or timezone.now()
    stale = 0
    candidates = (
        Source.objects.filter(disabled_at__isnull=True, stale_at__lte=now)
        .filter(Q(stale_alerted_at__isnull=True) | ~Q(stale_alerted_at=F("stale_at")))
        .values_list("pk", "stale_at")
    )
    recipients = None
    for pk, seen in list(candidates):
        with transaction.atomic():
            claimed = (
                Source.objects.filter(pk=pk, stale_at=seen)
                .filter(Q(stale_alerted_at__isnull=True) | ~Q(stale_alerted_at=seen))
                .update(stale_alerted_at=seen)
            )
            if not claimed:
                continue
            source = Source.objects.select_related("customer", "service").get(pk=pk)
            recipients = _provider_recipients() if recipients is None else recipients
            notify(
                STALE_KIND,
                f"source-{pk}-{seen.isoformat()}",
                recipients,
                "emails/source_stale",
                _context(source),
            )
            stale += 1
    resumed = 0
    back = (
        Source.objects.filter(stale_alerted_at__isnull=False)
        .filter(Q(stale_at__isnull=True) | Q(stale_at__gt=now))
        .values_list("pk", "stale_alerted_at")
    )
    for pk, episode in list(back):
        with transaction.atomic():
            claimed = (
                Source.objects.filter(pk=pk, stale_alerted_at=episode)
                .filter(Q(stale_at__isnull=True) | Q(stale_at__gt=now))
                .update(stale_alerted_at=None)
            )
            if not claimed:
                continue
            source = Source.objects.select_related("customer", "service").get(pk=pk)
            recipients = _provider_recipients() if recipients is None else recipients
            notify(
                RESUMED_KIND,
                f"source-{pk}-{episode.isoformat()}",
                recipients,
                "emails/source_resumed",
                {**_context(source), "silent_since": episode},
            )
            resumed += 1
    return stale, resumed
