"""The alerts page shows provider staff the email queue: what waits, what is retried after an
error and what failed for good. Customers see none of it (it spans every organisation)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sla_portal.core.models import Notification
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

Status = Notification.Status


def email(recipient: str, key: str, **fields) -> Notification:
    fields.setdefault("created_at", timezone.now())
    return Notification.objects.create(
        kind="monitoring.alert",
        key=key,
        recipient=recipient,
        subject=f"[SLA-2026-0001] Target missed: ticket {key}",
        body_text="Target missed.",
        body_html="<p>Target missed.</p>",
        **fields,
    )


@pytest.fixture
def queue(db) -> dict[str, Notification]:
    now = timezone.now()
    return {
        "sent": email("ops@provider.example", "INC-1", status=Status.SENT, sent_at=now),
        "waiting": email("desk@acme.example", "INC-2"),
        "retrying": email(
            "carol@acme.example",
            "INC-3",
            attempts=2,
            next_attempt_at=now + timedelta(seconds=50),
            last_error="SMTPRecipientsRefused: 450 4.2.0 Mailbox busy, try later",
        ),
        "sending": email(
            "desk@globex.example",
            "INC-4",
            status=Status.SENDING,
            attempts=1,
            claimed_at=now,
        ),
        "failed": email(
            "old@acme.example",
            "INC-5",
            status=Status.FAILED,
            attempts=8,
            last_error="TimeoutError: timed out",
            created_at=now - timedelta(hours=3),
        ),
    }


def test_provider_staff_see_waiting_retrying_and_failed_emails_with_their_errors(
    client, queue, tom_team, django_assert_max_num_queries
):
    client.force_login(tom_team)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:alert-list"))

    assert response.status_code == 200
    page = response.content.decode()
    section = page[
        page.index('id="delivery"') : page.index("</section>", page.index('id="delivery"'))
    ]
    assert "1 waiting" in section
    assert "1 being sent" in section
    assert "1 retrying after an error" in section
    assert "1 failed for good" in section
    for name in ("waiting", "retrying", "sending", "failed"):
        assert f'id="notification-{queue[name].pk}"' in section, name
    assert f'id="notification-{queue["sent"].pk}"' not in section
    assert "450 4.2.0 Mailbox busy, try later" in section
    assert "TimeoutError: timed out" in section


def test_with_nothing_unsent_the_section_says_so(client, db, alice_manager):
    email("ops@provider.example", "INC-1", status=Status.SENT, sent_at=timezone.now())
    client.force_login(alice_manager)

    page = client.get(reverse("monitoring:alert-list")).content.decode()

    assert "Every email has been handed to the mail server." in page


def test_customers_do_not_see_the_queue(client, queue, carol_customer):
    client.force_login(carol_customer)

    response = client.get(reverse("monitoring:alert-list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="delivery"' not in page
    # Least of all another customer's addresses and errors.
    assert "desk@globex.example" not in page
    assert "Mailbox busy" not in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_delivery_section_in_the_browser_on_desktop_and_phone(new_page, queue, tom_team):
    page = new_page()
    login(page, tom_team.username, PASSWORD)
    page.goto(reverse("monitoring:alert-list"))

    section = page.locator("#delivery")
    section.wait_for()
    assert section.get_by_role("heading", name="Email delivery").is_visible()
    rows = section.get_by_role("list", name="Emails not sent yet").get_by_role("listitem")
    assert rows.count() == 4
    assert "450 4.2.0 Mailbox busy" in section.inner_text()
    assert_no_axe_violations(page, "alerts page with email delivery")
    screenshot(page, "alerts-email-delivery")

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, tom_team.username, PASSWORD)
    phone.goto(reverse("monitoring:alert-list"))
    phone.locator("#delivery").wait_for()
    # Usable at phone width: nothing sticks out sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "alerts-email-delivery-phone")
