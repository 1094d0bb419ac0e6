"""Reads of core: organisations and users, always scoped to the acting user; and the email
queue, which spans every organisation and is for provider staff and /healthz only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet

from sla_portal.core.models import AccountEvent, Notification, Organisation, User

Status = Notification.Status


def organisations_visible_to(user: User) -> QuerySet[Organisation]:
    """Organisations the user may see: all for the provider, its own for a customer, with
    how many active people each has."""
    return (
        Organisation.objects.visible_to(user)
        .annotate(member_count=Count("users", filter=Q(users__is_active=True)))
        .order_by("name")
    )


def users_visible_to(user: User) -> QuerySet[User]:
    """Active users the acting user may see, with their organisation."""
    return User.objects.visible_to(user).select_related("organisation").filter(is_active=True)


def people_visible_to(user: User) -> QuerySet[User]:
    """Every account the acting user may see, deactivated ones included (the people pages)."""
    return User.objects.visible_to(user).select_related("organisation")


def members_of(user: User, organisation: Organisation) -> QuerySet[User]:
    """The people of ``organisation`` as ``user`` may see them: active first, by name."""
    return (
        people_visible_to(user)
        .filter(organisation=organisation)
        .order_by("-is_active", "first_name", "last_name", "username")
    )


def account_events_of(
    user: User, organisation: Organisation, limit: int = 20
) -> list[AccountEvent]:
    """The latest changes to the organisation's accounts, newest first."""
    return list(AccountEvent.objects.visible_to(user).filter(organisation=organisation)[:limit])


# --- The email queue ------------------------------------------------------------------------------


def notifications_for_agreement(agreement_id: int) -> QuerySet[Notification]:
    """The emails about one agreement and their delivery status, newest first.

    The agreement is the scope: take ``agreement_id`` from an agreement the acting user may
    see (the agreements app's selectors), never from the request as it stands.
    """
    return (
        Notification.objects.filter(agreement_id=agreement_id)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def pending_problems() -> QuerySet[Notification]:
    """Emails that failed for good or wait for a retry after an error, newest first.

    Spans every organisation: for provider staff watching delivery, not for customers.
    """
    return (
        Notification.objects.filter(
            Q(status=Status.FAILED) | Q(status=Status.PENDING, attempts__gt=0)
        )
        .select_related("user")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class DeliveryStatus:
    """How the email queue stands: counts by state and the rows that are not sent yet."""

    waiting: int  # pending, not tried yet
    sending: int  # claimed by a sender right now (or left so by one that died)
    retrying: int  # pending again after a failed attempt
    failed: int  # given up after NOTIFY_MAX_ATTEMPTS
    oldest_due_at: datetime | None
    unsent: list[Notification]  # newest first, up to the limit asked for

    @property
    def pending(self) -> int:
        """Everything still to be delivered."""
        return self.waiting + self.sending + self.retrying


def delivery_status(limit: int = 10) -> DeliveryStatus:
    """The queue's counts and its ``limit`` newest unsent rows, in two queries.

    Spans every organisation: for provider staff watching delivery (the alerts page) and for
    /healthz, never for customers.
    """
    pending, sending, failed = Status.PENDING, Status.SENDING, Status.FAILED
    figures = Notification.objects.filter(status__in=[pending, sending, failed]).aggregate(
        waiting=Count("id", filter=Q(status=pending, attempts=0)),
        sending=Count("id", filter=Q(status=sending)),
        retrying=Count("id", filter=Q(status=pending, attempts__gt=0)),
        failed=Count("id", filter=Q(status=failed)),
        oldest_due_at=Min("next_attempt_at", filter=Q(status=pending)),
    )
    unsent = list(
        Notification.objects.exclude(status=Status.SENT)
        .select_related("user")
        .order_by("-created_at", "-id")[:limit]
    )
    return DeliveryStatus(unsent=unsent, **figures)
