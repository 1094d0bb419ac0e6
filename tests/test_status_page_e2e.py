"""End to end: subscribe on the public page, confirm from the email, receive one incident notice.

Real parts throughout: the portal's views over HTTP (Django's test client), PostgreSQL, the
mail process (``manage.py run_mailer``) and an SMTP server (aiosmtpd) that the emails cross.
"""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from reporting.models import Subscriber
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def _link(message, kind: str) -> str:
    """The path of the first ``/status/<kind>/…/`` link in the message's text part."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(rf"https?://\S+(/status/{kind}/[^\s/]+/)", text)
    assert found, text
    return found.group(1)


def _wait_for(smtp_server, address: str, count: int, timeout: float = 15) -> list:
    """The messages to ``address`` once there are ``count`` of them (other mail, such as the
    agreement's signature emails, goes to other people meanwhile)."""
    deadline = time.monotonic() + timeout
    while len(smtp_server.to(address)) < count:
        assert time.monotonic() < deadline, f"{address}: {len(smtp_server.to(address))} email(s)"
        time.sleep(0.05)
    return smtp_server.to(address)


def _settle(seconds: float = 1.5) -> None:
    """Give the mail process time to send anything it (wrongly) still would."""
    time.sleep(seconds)


def test_subscribe_confirm_and_receive_exactly_one_incident_email(
    smtp_server, mailer, acme_status_page, services, alice_manager, acme
):
    _page, token = acme_status_page
    visitor = Client()
    assert visitor.get(f"/status/{token}/").status_code == 200

    # Dana subscribes and confirms; Eve subscribes and never confirms.
    response = visitor.post(f"/status/{token}/subscribe/", {"email": "dana@example.com"})
    assert response.status_code == 200
    visitor.post(f"/status/{token}/subscribe/", {"email": "eve@example.com"})
    (confirmation,) = _wait_for(smtp_server, "dana@example.com", 1)
    _wait_for(smtp_server, "eve@example.com", 1)
    assert confirmation["Subject"] == "Confirm your subscription to Acme Logistics status"
    confirm_path = _link(confirmation, "confirm")
    assert visitor.get(confirm_path).status_code == 200  # asks first
    confirmed = visitor.post(confirm_path)
    assert confirmed.status_code == 200 and b"Subscribed" in confirmed.content
    assert Subscriber.objects.get(email="dana@example.com").is_active
    assert not Subscriber.objects.get(email="eve@example.com").is_active
    assert visitor.post(confirm_path).status_code == 400  # the link works once

    # The provider posts an incident from the portal.
    manager = Client()
    manager.force_login(alice_manager)
    posted = manager.post(
        "/incidents/new/",
        {
            "customer": acme.pk,
            "title": "Customer Portal unreachable",
            "impact": "outage",
            "services": [services["portal"].pk],
            "status": "investigating",
            "message": "The portal does not answer; we are looking into it.",
            "internal_note": "SECRET: firewall change CHG-2211",
        },
    )
    assert posted.status_code == 302
    _wait_for(smtp_server, "dana@example.com", 2)
    _settle()
    notices = [m for m in smtp_server.to("dana@example.com") if m is not confirmation]
    assert len(notices) == 1, [str(m["Subject"]) for m in notices]
    (notice,) = notices
    # An encoded (non-ASCII) subject comes back folded: compare its words.
    subject = " ".join(notice["Subject"].split())
    assert subject == "[Investigating] Customer Portal unreachable – Acme Logistics status"
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "we are looking into it" in body and "SECRET" not in body
    assert len(smtp_server.to("eve@example.com")) == 1  # her confirmation only
    unsubscribe_path = _link(notice, "unsubscribe")
    header = str(notice["List-Unsubscribe"]).strip()
    assert header.startswith("<http") and header.endswith(f"{unsubscribe_path}>")
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The public page shows it too.
    assert b"Customer Portal unreachable" in Client().get(f"/status/{token}/").content

    # One click on the unsubscribe link (no session), then the next update reaches nobody.
    left = Client(enforce_csrf_checks=True).post(unsubscribe_path)
    assert left.status_code == 200 and b"Unsubscribed" in left.content
    incident_url = posted["Location"]
    assert (
        manager.post(incident_url, {"status": "resolved", "message": "Fixed."}).status_code == 302
    )
    _settle()
    assert len(smtp_server.to("dana@example.com")) == 2
    assert len(smtp_server.to("eve@example.com")) == 1
    sent = Notification.objects.filter(kind="status.notice")
    assert [(row.recipient, row.status) for row in sent] == [("dana@example.com", "sent")]
