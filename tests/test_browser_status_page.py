"""The public status page in Chromium: what a visitor sees at desktop and phone width, and
subscribing from it, confirmed from the email that crosses a real SMTP server."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import MaintenanceWindow, Outage, UptimeCheck
from reporting.models import Subscriber
from reporting.services.status import incident_create, incident_update_post
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def busy_page(acme_status_page, acme_monitor, services, alice_manager):
    """Acme's page with 60 days of checks, two past outages, an incident and maintenance."""
    page, token = acme_status_page
    portal = services["portal"]
    now = timezone.now()
    UptimeCheck.objects.create(
        service=portal, source=acme_monitor, checked_at=now - timedelta(days=60), status="up"
    )
    for days, minutes in ((20, 95), (6, 12)):
        start = now - timedelta(days=days)
        Outage.objects.create(
            service=portal,
            source=acme_monitor,
            started_at=start,
            ended_at=start + timedelta(minutes=minutes),
        )
    MaintenanceWindow.objects.create(
        service=portal,
        source=acme_monitor,
        external_id="CHG-7",
        title="Database upgrade",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=2),
    )
    incident = incident_create(
        page.customer,
        "Slow tracking pages",
        "degraded",
        [portal],
        "Tracking pages take up to 10 seconds to load. We are investigating.",
        alice_manager,
    )
    incident_update_post(
        incident, "identified", "A slow database query; a fix is being deployed.", alice_manager
    )
    return page, token


def _wait_for(smtp_server, address: str, count: int, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while len(smtp_server.to(address)) < count:
        assert time.monotonic() < deadline, f"{address}: {len(smtp_server.to(address))} email(s)"
        time.sleep(0.05)
    return smtp_server.to(address)


def test_visitor_reads_the_page_and_subscribes_at_desktop_and_phone_width(
    new_page, busy_page, smtp_server, mailer, live_server
):
    _, token = busy_page
    for name, viewport in (("desktop", None), ("phone", PHONE)):
        page = new_page(viewport)
        page.goto(f"/status/{token}/")
        assert page.get_by_role("heading", name="Acme Logistics status").is_visible()
        assert page.get_by_text("Some services are degraded").is_visible()
        assert page.get_by_text("Slow tracking pages").is_visible()
        assert page.get_by_text("Database upgrade").is_visible()
        bars = page.get_by_role("list", name="Daily uptime of Customer Portal, oldest first")
        assert bars.get_by_role("listitem").count() == 90
        # Nothing wider than the screen: usable on a phone without scrolling sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= (viewport or {"width": 1280})["width"], width
        assert_no_axe_violations(page, f"public status page ({name})")
        screenshot(page, f"status-page-{name}")

    page.get_by_label("Email address").fill("dana@example.com")
    page.get_by_role("button", name="Subscribe").click()
    # The form posts and the next page loads: wait for it (is_visible() does not).
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    screenshot(page, "status-page-subscribed-phone")

    (confirmation,) = _wait_for(smtp_server, "dana@example.com", 1)
    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    path = re.search(r"https?://\S+?(/status/confirm/\S+/)", text).group(1)
    page.goto(path)
    page.get_by_role("button", name="Confirm subscription").click()
    expect(page.get_by_role("heading", name="Subscribed")).to_be_visible()
    assert Subscriber.objects.get(email="dana@example.com").is_active


def test_an_unknown_link_shows_the_not_found_page(new_page, live_server, db):
    page = new_page()
    response = page.goto("/status/" + "A" * 43 + "/")
    assert response.status == 404


def test_manager_creates_a_page_and_posts_an_incident_in_the_portal(
    new_page, active_acme_agreement, alice_manager
):
    from tests.support.actors import PASSWORD
    from tests.support.browser import login

    page = new_page()
    login(page, "alice_manager", PASSWORD)
    page.goto("/status-pages/")
    page.get_by_label("Customer", exact=False).and_(page.locator("select")).select_option(
        label="Acme Logistics"
    )
    page.get_by_label("Name").fill("Acme Logistics")
    page.get_by_role("button", name="Create page and link").click()
    link = page.get_by_label("Status page link").input_value()
    assert "/status/" in link
    screenshot(page, "status-pages-provider")

    page.goto("/incidents/new/")
    page.get_by_label("Customer", exact=False).and_(page.locator("select")).select_option(
        label="Acme Logistics"
    )
    page.get_by_label("Title", exact=False).fill("Customer Portal unreachable")
    page.get_by_label("Impact").select_option("outage")
    page.get_by_role("checkbox", name="Customer Portal").check()
    page.get_by_label("Message").fill("The portal does not answer; we are looking into it.")
    page.get_by_label("Internal note").fill("Firewall change CHG-2211")
    page.get_by_role("button", name="Post incident").click()
    assert page.get_by_role("heading", name="Customer Portal unreachable").is_visible()
    page.get_by_label("Status").select_option("monitoring")
    page.get_by_label("Message").fill("Fix deployed; watching.")
    page.get_by_role("button", name="Post update").click()
    assert page.get_by_text("Fix deployed; watching.").is_visible()
    assert_no_axe_violations(page, "incident detail")
    screenshot(page, "incident-detail-provider")

    phone = new_page(PHONE)
    phone.goto(link.replace(live_server_url(page), ""))
    assert phone.get_by_text("Some services have an outage").is_visible()
    assert phone.get_by_text("Fix deployed; watching.").is_visible()
    assert not phone.get_by_text("CHG-2211").count()
    screenshot(phone, "status-page-outage-phone")


def live_server_url(page) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(page.url)
    return f"{parts.scheme}://{parts.netloc}"
