"""The status page's emails: the subscription's confirmation and the notices.

Each goes through ``core.notifications.notify`` (one row per event and mailbox under a unique
constraint, sent by the mail process), rendered from a template triplet under
``templates/emails/status_confirm/`` and ``templates/emails/status_notice/``. Links are
signed (``django.core.signing``) so they work without a login and cannot be forged:

* the confirmation link signs the subscriber and its one-time nonce, and expires after
  ``STATUS_CONFIRM_MAX_AGE_SECONDS``;
* the unsubscribe link signs the subscriber only and does not expire: an old notice must
  still let its reader leave. It is also the ``List-Unsubscribe`` header, with
  ``List-Unsubscribe-Post`` for mail programs' one-click button (RFC 8058).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from reporting.models import StatusNotice, Subscriber
from reporting.selectors.status import page_services
from sla_portal.core.models import Notification
from sla_portal.core.notifications import notify

CONFIRM_SALT = "reporting.status.confirm"
UNSUBSCRIBE_SALT = "reporting.status.unsubscribe"


def confirm_token(subscriber: Subscriber) -> str:
    return signing.dumps({"s": subscriber.pk, "n": subscriber.confirm_nonce}, salt=CONFIRM_SALT)


def read_confirm_token(token: str) -> tuple[int, str]:
    """(subscriber id, nonce); raises ``signing.SignatureExpired`` or ``BadSignature``."""
    data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.STATUS_CONFIRM_MAX_AGE_SECONDS)
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise signing.BadSignature("malformed confirmation token")
    return data["s"], str(data.get("n", ""))


def unsubscribe_token(subscriber: Subscriber) -> str:
    return signing.dumps({"s": subscriber.pk}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> int:
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise signing.BadSignature("malformed unsubscribe token")
    return data["s"]


def confirm_url(subscriber: Subscriber) -> str:
    path = reverse("status-confirm", args=[confirm_token(subscriber)])
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(subscriber: Subscriber) -> str:
    path = reverse("status-unsubscribe", args=[unsubscribe_token(subscriber)])
    return f"{settings.SITE_URL}{path}"


def _unsubscribe_headers(subscriber: Subscriber) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def send_confirmation(subscriber: Subscriber, requested_at: datetime) -> None:
    """Queue the confirmation email of this subscription request (once per request: a
    request while a link is pending sends the same nonce's link again)."""
    notify(
        "status.confirm",
        f"subscriber:{subscriber.pk}:{subscriber.confirm_nonce}:{requested_at.isoformat()}",
        [subscriber.email],
        "emails/status_confirm",
        {
            "page_name": subscriber.page.name,
            "customer_name": subscriber.page.customer.name,
            "confirm_url": confirm_url(subscriber),
            "valid_hours": settings.STATUS_CONFIRM_MAX_AGE_SECONDS // 3600,
        },
    )


def notice_context(notice: StatusNotice) -> dict[str, Any]:
    """What a notice's email says, the same for every subscriber of the page."""
    context: dict[str, Any] = {
        "notice": notice,
        "page_name": notice.page.name,
        "customer_name": notice.page.customer.name,
    }
    if notice.kind == StatusNotice.Kind.INCIDENT:
        update = notice.incident_update
        incident = update.incident
        context.update(
            incident=incident,
            update=update,
            # Only the page's services: a page limited to some services names no other.
            services=", ".join(
                service.name
                for service in incident.services.filter(
                    pk__in=page_services(notice.page).values("pk")
                ).order_by("name")
            ),
            first=not incident.updates.filter(posted_at__lt=update.posted_at).exists(),
        )
    else:
        context.update(
            maintenance=notice.maintenance,
            rescheduled=StatusNotice.objects.filter(
                page_id=notice.page_id, maintenance_id=notice.maintenance_id, pk__lt=notice.pk
            ).exists(),
        )
    return context


def send_notice(
    notice: StatusNotice, subscriber: Subscriber, context: dict[str, Any]
) -> Notification | None:
    """Queue one notice's email to one subscriber, with its own unsubscribe link."""
    rows = notify(
        "status.notice",
        f"notice:{notice.pk}",
        [subscriber.email],
        "emails/status_notice",
        {**context, "unsubscribe_url": unsubscribe_url(subscriber)},
        headers_for=lambda address: _unsubscribe_headers(subscriber),
    )
    return rows[0] if rows else None
