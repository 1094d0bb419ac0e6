"""Writes of the status page: links, incidents, subscriptions and notices.

Every announcement becomes a ``StatusNotice`` per page that shows it (unique per page and
subject) and a ``SubscriberDelivery`` per confirmed subscriber (unique per subscriber and
notice), inserted in the transaction that records the event; the email itself is a
``core.Notification`` row sent by the mail process after commit. So a notice reaches each
subscriber exactly once, however often it is announced, and a rolled-back incident sends
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements.models import Service
from monitoring.models import MaintenanceWindow
from reporting.models import (
    Incident,
    IncidentUpdate,
    StatusNotice,
    StatusPage,
    Subscriber,
    SubscriberDelivery,
)
from reporting.selectors.status import (
    active_subscribers,
    customer_services,
    page_maintenance,
    page_services,
    pages_showing,
    token_hash,
)
from reporting.services import status_emails as emails
from sla_portal.core.models import Organisation, User
from sla_portal.core.notifications import ADDRESS_MAX_LENGTH, normalise_address
from sla_portal.core.reset_limits import count_in_window

logger = logging.getLogger(__name__)

# Subscribers hear of a maintenance window this many days before it starts.
MAINTENANCE_NOTICE_DAYS = 7


# How long the public view keeps a link's (page id, stamp): a content change shows within this.
STAMP_CACHE_SECONDS = 5
# Put in place of a link's cached stamp when the link is rotated, disabled or enabled: the
# view writes stamps only where there is none (``cache.add``), so a stamp read from the
# database before the change committed cannot be written back over it and serve the old
# answer. It lasts as long as a stamp would; meanwhile each request reads the database.
STAMP_TOMBSTONE = "gone"


def stamp_cache_key(hash_: str) -> str:
    """Where the public view keeps (page id, stamp) of a token's hash for a few seconds."""
    return f"status:stamp:{hash_}"


def _forget_link(hash_: str) -> None:
    """Content changed: the next request reads the stamp afresh, not when it expires."""
    # The cache down: the entry expires in seconds anyway.
    with contextlib.suppress(Exception):
        cache.delete(stamp_cache_key(hash_))


def _bar_link(hash_: str) -> None:
    """The link's validity changed: no stamp read before now may be cached for it."""
    with contextlib.suppress(Exception):
        cache.set(stamp_cache_key(hash_), STAMP_TOMBSTONE, STAMP_CACHE_SECONDS)


def new_token() -> str:
    """A link's secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


# --- Links ------------------------------------------------------------------------------------


def _check_services(customer: Organisation, services: Iterable[Service]) -> list[Service]:
    services = list(services)
    allowed = set(customer_services(customer.pk).values_list("pk", flat=True))
    foreign = [service.name for service in services if service.pk not in allowed]
    if foreign:
        raise ValidationError(
            {
                "services": (
                    f"Not a service of {customer.name}'s agreements in force: "
                    + ", ".join(sorted(foreign))
                )
            }
        )
    return services


@transaction.atomic
def status_page_create(
    customer: Organisation,
    name: str,
    services: Iterable[Service],
    by: User,
    now: datetime | None = None,
) -> tuple[StatusPage, str]:
    """Create a customer's status page; return it and its link's token (shown only now)."""
    if customer.is_provider:
        raise ValidationError({"customer": "A status page belongs to a customer organisation."})
    services = _check_services(customer, services)
    if StatusPage.objects.filter(customer=customer, name=name).exists():
        raise ValidationError({"name": f"{customer.name} already has a page named “{name}”."})
    token = new_token()
    try:
        # A savepoint: the check above cannot see a page of the same name created by a
        # transaction that has not committed yet; the unique constraint then refuses ours.
        with transaction.atomic():
            page = StatusPage.objects.create(
                customer=customer,
                name=name,
                token_hash=token_hash(token),
                created_at=now or timezone.now(),
                created_by=by,
            )
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") != (
            "status_page_name_unique"
        ):
            raise
        raise ValidationError(
            {"name": f"{customer.name} already has a page named “{name}”."}
        ) from error
    page.services.set(services)
    return page, token


@transaction.atomic
def status_page_rotate(page: StatusPage, now: datetime | None = None) -> str:
    """Give the page a new link; the old one stops working. Returns the new token."""
    old = page.token_hash
    token = new_token()
    page.token_hash = token_hash(token)
    page.rotated_at = now or timezone.now()
    page.save(update_fields=["token_hash", "rotated_at", "updated_at"])
    # Now, and again after commit: a stamp read in between is not written back over it.
    _bar_link(old)
    transaction.on_commit(lambda: _bar_link(old))
    return token


@transaction.atomic
def status_page_set_enabled(page: StatusPage, enabled: bool) -> StatusPage:
    """Turn the link off (it answers 404) or on again, at once."""
    page.enabled = enabled
    page.save(update_fields=["enabled", "updated_at"])
    hash_ = page.token_hash
    _bar_link(hash_)
    transaction.on_commit(lambda: _bar_link(hash_))
    return page


# --- Incidents --------------------------------------------------------------------------------


@transaction.atomic
def incident_create(
    customer: Organisation,
    title: str,
    impact: str,
    services: Iterable[Service],
    message: str,
    by: User,
    status: str = Incident.Status.INVESTIGATING,
    internal_note: str = "",
    now: datetime | None = None,
) -> Incident:
    """Post an incident with its first update, and announce it to the pages' subscribers."""
    now = now or timezone.now()
    if customer.is_provider:
        raise ValidationError({"customer": "Incidents are posted for a customer organisation."})
    services = _check_services(customer, services)
    if not services:
        raise ValidationError({"services": "Name at least one affected service."})
    if impact not in Incident.Impact.values:
        raise ValidationError({"impact": f"Not one of {', '.join(Incident.Impact.values)}."})
    if status not in Incident.Status.values:
        raise ValidationError({"status": f"Not one of {', '.join(Incident.Status.values)}."})
    resolved = status == Incident.Status.RESOLVED
    incident = Incident.objects.create(
        customer=customer,
        title=title,
        impact=impact,
        status=status,
        internal_note=internal_note,
        started_at=now,
        resolved_at=now if resolved else None,
        updated_at=now,
        created_by=by,
    )
    incident.services.set(services)
    update = IncidentUpdate.objects.create(
        incident=incident, status=status, message=message, posted_at=now, posted_by=by
    )
    announce_update(update, now)
    return incident


@transaction.atomic
def incident_update_post(
    incident: Incident, status: str, message: str, by: User, now: datetime | None = None
) -> IncidentUpdate:
    """Post an update (a status and a message) and announce it. A resolved incident is closed."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_active:
        raise ValidationError({"status": "This incident is resolved; post a new incident."})
    if status not in Incident.Status.values:
        raise ValidationError({"status": f"Not one of {', '.join(Incident.Status.values)}."})
    if not message.strip():
        raise ValidationError({"message": "Say what changed."})
    # Updates are ordered by time: one posted in the same instant as the last comes after it.
    latest = incident.updates.order_by("-posted_at").values_list("posted_at", flat=True).first()
    if latest is not None and now <= latest:
        now = latest + timedelta(microseconds=1)
    update = IncidentUpdate.objects.create(
        incident=incident, status=status, message=message, posted_at=now, posted_by=by
    )
    incident.status = status
    incident.updated_at = now
    if status == Incident.Status.RESOLVED:
        incident.resolved_at = now
    incident.save(update_fields=["status", "updated_at", "resolved_at"])
    announce_update(update, now)
    return update


def announce_update(update: IncidentUpdate, now: datetime) -> list[StatusNotice]:
    """A notice of ``update`` on every enabled page of the customer that shows an affected
    service, delivered to its confirmed subscribers (inside the caller's transaction)."""
    incident = update.incident
    service_ids = list(incident.services.values_list("pk", flat=True))
    notices = []
    for page in pages_showing(incident.customer_id, service_ids):
        notice, _ = StatusNotice.objects.get_or_create(
            page=page,
            incident_update=update,
            defaults={"kind": StatusNotice.Kind.INCIDENT, "created_at": now},
        )
        deliver_notice(notice, now)
        notices.append(notice)
        # The page shows the update at once, not when its cached stamp expires.
        transaction.on_commit(lambda hash_=page.token_hash: _forget_link(hash_))
    return notices


def deliver_notice(notice: StatusNotice, now: datetime | None = None) -> int:
    """Queue the notice's email for each confirmed subscriber that has not had it; how many."""
    now = now or timezone.now()
    done = set(notice.deliveries.values_list("subscriber_id", flat=True))
    context = emails.notice_context(notice)
    queued = 0
    for subscriber in active_subscribers(notice.page_id).select_related("page__customer"):
        if subscriber.pk in done:
            continue
        try:
            # A savepoint: a delivery made meanwhile by another transaction only skips this one.
            with transaction.atomic():
                delivery = SubscriberDelivery.objects.create(
                    subscriber=subscriber, notice=notice, created_at=now
                )
        except IntegrityError:
            continue
        row = emails.send_notice(notice, subscriber, context)
        if row is not None:
            SubscriberDelivery.objects.filter(pk=delivery.pk).update(notification=row)
        queued += 1
    return queued


def maintenance_notices_send(now: datetime | None = None) -> int:
    """Announce maintenance windows starting within ``MAINTENANCE_NOTICE_DAYS`` on every
    enabled page that shows their service; each window once per page and times (a moved one
    again, as rescheduled). Returns notices made."""
    now = now or timezone.now()
    horizon = now + timedelta(days=MAINTENANCE_NOTICE_DAYS)
    made = 0
    for page in StatusPage.objects.filter(enabled=True).select_related("customer"):
        ids = list(page_services(page).values_list("pk", flat=True))
        windows: Iterable[MaintenanceWindow] = page_maintenance(page, ids, now).filter(
            starts_at__gt=now, starts_at__lte=horizon
        )
        for window in windows:
            with transaction.atomic():
                # Keyed by the window's times too: a window the monitor's feed moved (updated
                # in place) is announced again, as rescheduled; an unmoved one only once.
                notice, created = StatusNotice.objects.get_or_create(
                    page=page,
                    maintenance=window,
                    maintenance_starts_at=window.starts_at,
                    maintenance_ends_at=window.ends_at,
                    defaults={"kind": StatusNotice.Kind.MAINTENANCE, "created_at": now},
                )
                if created:
                    deliver_notice(notice, now)
                    made += 1
    return made


# --- Subscriptions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a subscription step did: ``ok``, ``limited``, ``unavailable`` (the limit's
    counters cannot be read), ``invalid`` or ``expired``."""

    result: str
    subscriber: Subscriber | None = None


def subscribe(page: StatusPage, email: str, client_ip: str, now: datetime | None = None) -> Outcome:
    """Ask for notices for ``email``: a confirmation email goes out, nothing else until it is
    confirmed. Counted per address and per client address an hour (``limited`` past either).

    The answer is the same whether the address was subscribed already or not, so the page
    tells nobody who is subscribed."""
    now = now or timezone.now()
    email = normalise_address(email)
    if not email or len(email) > ADDRESS_MAX_LENGTH:
        raise ValidationError(
            {"email": f"Enter an address of at most {ADDRESS_MAX_LENGTH} characters."}
        )
    digest = token_hash(email)[:32]
    try:
        per_address = count_in_window(f"status-subscribe:address:{digest}")
        per_ip = count_in_window(f"status-subscribe:ip:{client_ip}")
    except Exception:
        # The counters live in the cache. Without them the limit cannot be kept, and an
        # unlimited public form that sends email is a flood waiting to happen: fail closed.
        logger.warning("Subscription limit unavailable (cache down).", exc_info=True)
        return Outcome("unavailable")
    if (
        per_address > settings.STATUS_SUBSCRIBE_MAX_PER_ADDRESS
        or per_ip > settings.STATUS_SUBSCRIBE_MAX_PER_IP
    ):
        return Outcome("limited")
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.select_for_update().get_or_create(
            page=page, email=email, defaults={"created_at": now}
        )
        if subscriber.is_active:
            return Outcome("ok", subscriber)
        valid_for = timedelta(seconds=settings.STATUS_CONFIRM_MAX_AGE_SECONDS)
        if (
            subscriber.confirm_nonce
            and subscriber.confirm_sent_at is not None
            and subscriber.confirm_sent_at + valid_for > now
        ):
            # A confirmation is pending and its link still works: anyone may post this form,
            # so a request must not cancel the link the mailbox's owner holds. The same link
            # (same nonce) is sent again, so an owner who lost the email gets it back.
            subscriber.page = page
            emails.send_confirmation(subscriber, now)
            return Outcome("ok", subscriber)
        subscriber.confirm_nonce = secrets.token_hex(16)
        subscriber.confirm_sent_at = now
        subscriber.confirmed_at = None
        subscriber.unsubscribed_at = None
        subscriber.save(
            update_fields=["confirm_nonce", "confirm_sent_at", "confirmed_at", "unsubscribed_at"]
        )
        subscriber.page = page
        emails.send_confirmation(subscriber, now)
    return Outcome("ok", subscriber)


def subscriber_confirm(token: str, now: datetime | None = None) -> Outcome:
    """Confirm a subscription from its emailed link: once, and only before it expires."""
    try:
        subscriber_id, nonce = emails.read_confirm_token(token)
    except signing.SignatureExpired:
        return Outcome("expired")
    except signing.BadSignature:
        return Outcome("invalid")
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .select_related("page")
            .filter(pk=subscriber_id)
            .first()
        )
        if subscriber is None or not nonce or subscriber.confirm_nonce != nonce:
            # Used already, or replaced by a newer request: the link is spent.
            return Outcome("invalid")
        subscriber.confirmed_at = now or timezone.now()
        subscriber.confirm_nonce = ""
        subscriber.save(update_fields=["confirmed_at", "confirm_nonce"])
        catch_up(subscriber, subscriber.confirmed_at)
    return Outcome("ok", subscriber)


def catch_up(subscriber: Subscriber, now: datetime) -> int:
    """Deliver to a newly confirmed subscriber what is still current on its page: the latest
    notice of each incident still active, and notices of maintenance still to end. Exactly
    once, through the same unique delivery as every notice; returns how many were queued."""
    latest: dict[int, StatusNotice] = {}
    for notice in (
        StatusNotice.objects.filter(
            page_id=subscriber.page_id,
            kind=StatusNotice.Kind.INCIDENT,
            incident_update__incident__resolved_at__isnull=True,
        )
        .select_related("incident_update", "page__customer")
        .order_by("incident_update__posted_at", "incident_update_id")
    ):
        latest[notice.incident_update.incident_id] = notice
    maintenance = StatusNotice.objects.filter(
        page_id=subscriber.page_id,
        kind=StatusNotice.Kind.MAINTENANCE,
        maintenance__ends_at__gt=now,
    ).select_related("page__customer")
    return sum(deliver_notice(notice, now) for notice in [*latest.values(), *maintenance])


def subscriber_unsubscribe(token: str, now: datetime | None = None) -> Outcome:
    """Stop a subscriber's notices from the signed link of any notice (idempotent)."""
    try:
        subscriber_id = emails.read_unsubscribe_token(token)
    except signing.BadSignature:
        return Outcome("invalid")
    subscriber = Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    if subscriber is None:
        return Outcome("invalid")
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = now or timezone.now()
        Subscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=subscriber.unsubscribed_at
        )
    return Outcome("ok", subscriber)
