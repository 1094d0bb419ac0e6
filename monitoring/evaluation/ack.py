"""One-click acknowledgement links in alert emails.

The link carries a signed token naming the alert and the person it was sent to, so it works
without a login and only for that person and that alert. Following it (GET) shows a confirm
page and changes nothing: mail scanners and link previews open every link of an email. Only
the POST of that page acknowledges, as the person the email was sent to. A token that was
tampered with, has expired, or whose alert is already acknowledged gets a page that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from monitoring.models import RECOVERY_LEVELS, Alert
from sla_portal.core.models import User

SALT = "monitoring.alert-ack"
# Long enough for a weekend and a holiday; an alert older than this is history, not news.
MAX_AGE = timedelta(days=7)


class AckLinkError(Exception):
    """Why a link cannot acknowledge anything: ``invalid`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    alert_id: int
    user_id: int


def can_receive_ack_link(alert: Alert, person: User | str) -> bool:
    """Only provider accounts acknowledge (as on the alerts page); a recovery needs none."""
    return (
        isinstance(person, User)
        and person.is_active
        and person.is_provider
        and alert.level not in RECOVERY_LEVELS
        and alert.acknowledged_at is None
    )


def ack_token(alert: Alert, user: User) -> str:
    """A token naming ``alert`` and ``user``, signed with the site's secret key."""
    return signing.dumps({"a": alert.pk, "u": user.pk}, salt=SALT)


def ack_url(alert: Alert, user: User) -> str:
    """The absolute link for the email."""
    return settings.SITE_URL + reverse("monitoring:alert-ack-link", args=[ack_token(alert, user)])


def read_ack_token(token: str, max_age: timedelta = MAX_AGE) -> AckClaim:
    """The alert and person a token names; raises ``AckLinkError`` when it was altered, is
    malformed or is older than ``max_age``."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise AckLinkError("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise AckLinkError("invalid") from None
    if not isinstance(data, dict):
        raise AckLinkError("invalid")
    alert_id, user_id = data.get("a"), data.get("u")
    if not isinstance(alert_id, int) or not isinstance(user_id, int):
        raise AckLinkError("invalid")
    return AckClaim(alert_id, user_id)
