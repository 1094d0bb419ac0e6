"""The customer dashboard in Chromium with the demo data: short on a phone (summary first,
details collapsed), and a refresh that keeps focus, open panels and the scroll position,
announces what changed, and can be paused."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from monitoring.demo import DEMO_AGREEMENT
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Alert, Source, Ticket
from sla_portal.core.demo import DEMO_PASSWORD
from sla_portal.core.models import Notification
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def demo(settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    now = timezone.now()
    evaluate_pending_tickets(now)
    evaluate_periods(now)


def test_customer_dashboard_on_a_phone_is_summary_first_and_short(new_page, demo):
    page = new_page(viewport=PHONE)
    login(page, "acme-approver", DEMO_PASSWORD)
    page.goto("/dashboard/")
    # The summary comes first: the counts of the agreement before any target card.
    summary = page.locator(".dash-summary").first.bounding_box()
    first_card = page.locator("li.dash-target").first.bounding_box()
    assert summary["y"] < first_card["y"]
    # Details are collapsed: the trend charts and the tables are not shown.
    assert not page.locator("canvas.trend-chart").first.is_visible()
    assert not page.locator("table.dash-tickets").first.is_visible()
    height = page.evaluate("document.documentElement.scrollHeight")
    screenshot(page, "dashboard-customer-phone")
    assert height < 4000, f"the phone dashboard is {height} px long"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_no_axe_violations(page, "customer dashboard on a phone")
    # A card opens on demand.
    page.get_by_role("button", name="Details of Availability").click()
    page.wait_for_selector("li.dash-target[data-metric='availability'] .dash-more.show")
    assert page.locator("li.dash-target[data-metric='availability'] canvas").is_visible()


def _ticket_now(external_id: str, minutes_ago: float = 12) -> None:
    """A new P1 ticket on the demo agreement, evaluated: the live part changes."""
    desk = Source.objects.get(name="Acme service desk")
    opened = timezone.now() - timedelta(minutes=minutes_ago)
    tickets_ingest(
        desk,
        [
            {
                "external_id": external_id,
                "agreement": DEMO_AGREEMENT,
                "priority": "P1",
                "opened_at": opened.isoformat(),
            }
        ],
    )
    now = timezone.now()
    evaluate_pending_tickets(now)
    evaluate_periods(now)


def _mark_live(page) -> None:
    page.evaluate("window.__oldLive = document.getElementById('dashboard-live')")


def _wait_for_swap(page, timeout: float = 15_000) -> None:
    page.wait_for_function(
        # A function, not an expression: Playwright evaluates an expression with eval(), which
        # the Content-Security-Policy refuses.
        "() => document.getElementById('dashboard-live') !== window.__oldLive",
        timeout=timeout,
    )


def test_refresh_keeps_focus_open_panels_and_announces_changes(new_page, demo):
    page = new_page(viewport=DESKTOP)
    login(page, "acme-approver", DEMO_PASSWORD)
    page.goto("/dashboard/")
    assert_no_axe_violations(page, "customer dashboard")
    availability = page.locator("li.dash-target[data-metric='availability']")
    summary = availability.locator("summary", has_text="Trend values")
    summary.click()
    assert availability.locator("details").evaluate("d => d.open")
    summary.focus()
    before = page.evaluate("window.scrollY")

    _mark_live(page)
    _ticket_now("LIVE-1")
    _wait_for_swap(page)

    # Focus did not fall to <body>: it is on the same summary in the new live part.
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert (
        page.evaluate("document.activeElement.closest('li.dash-target').dataset.metric")
        == "availability"
    )
    assert page.evaluate(
        "document.getElementById('dashboard-live').contains(document.activeElement)"
    )
    assert availability.locator("details").evaluate("d => d.open")
    assert abs(page.evaluate("window.scrollY") - before) <= 2
    announcer = page.locator("#dashboard-announcer")
    assert "Updated" in announcer.inner_text() and "LIVE-1" in announcer.inner_text()
    assert announcer.get_attribute("aria-live") == "polite"
    assert_no_axe_violations(page, "customer dashboard after a refresh")
    screenshot(page, "dashboard-customer-after-refresh")


def test_a_phone_section_opened_stays_open_across_a_refresh(new_page, demo):
    page = new_page(viewport=PHONE)
    login(page, "acme-approver", DEMO_PASSWORD)
    page.goto("/dashboard/")
    toggle = page.get_by_role("button", name="Open tickets")
    toggle.click()
    page.wait_for_selector("[data-key='tickets'].show")
    toggle.focus()
    assert_no_axe_violations(page, "customer dashboard on a phone, tickets open")

    _mark_live(page)
    _ticket_now("LIVE-2")
    _wait_for_swap(page)

    toggle = page.get_by_role("button", name="Open tickets")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("[data-key='tickets']").first.evaluate("e => e.classList.contains('show')")
    assert page.evaluate("document.activeElement.dataset.key") == "tickets-toggle"
    assert page.get_by_text("LIVE-2").first.is_visible()


def test_auto_refresh_can_be_paused_and_resumed(new_page, demo):
    page = new_page(viewport=DESKTOP)
    login(page, "acme-approver", DEMO_PASSWORD)
    page.goto("/dashboard/")
    page.get_by_role("button", name="Pause auto-refresh").click()
    assert page.evaluate("localStorage.getItem('sla-portal.dashboard.auto-refresh')") == "paused"
    assert "paused" in page.locator("#dashboard-refresh-state").inner_text()

    _mark_live(page)
    _ticket_now("PAUSED-1")
    page.wait_for_timeout(7_000)  # more than two polling intervals
    assert page.evaluate("document.getElementById('dashboard-live') === window.__oldLive")
    assert page.get_by_text("PAUSED-1").count() == 0

    # The choice survives a reload.
    page.reload()
    resume = page.get_by_role("button", name="Resume auto-refresh")
    assert resume.is_visible()
    assert page.get_by_text("PAUSED-1").count() > 0  # a reload shows the news, of course
    assert_no_axe_violations(page, "customer dashboard, auto-refresh paused")
    _mark_live(page)
    _ticket_now("PAUSED-2")
    resume.click()
    _wait_for_swap(page)
    assert page.get_by_role("button", name="Pause auto-refresh").is_visible()
    assert page.get_by_text("PAUSED-2").count() > 0


SCREENSHOTS = DOCS_SCREENSHOTS


def _keep(path: Path, name: str) -> None:
    if SCREENSHOTS.is_dir():
        shutil.copy(path, SCREENSHOTS / f"{name}.png")


def _ticket_waiting_on_the_customer() -> Ticket:
    """A P1 ticket opened 40 minutes ago that waited 6 minutes on the customer: its
    response threshold (30 min of business time) is breached, and its alert emailed."""
    desk = Source.objects.get(name="Acme service desk")
    opened = timezone.now().replace(microsecond=0) - timedelta(minutes=40)
    tickets_ingest(
        desk,
        [
            {
                "external_id": "INC-4711",
                "agreement": DEMO_AGREEMENT,
                "priority": "P1",
                "title": "Checkout fails for EU cards",
                "assignee": "Tom Team",
                "opened_at": opened.isoformat(),
                "status_history": [
                    {"at": opened.isoformat(), "status": "New"},
                    {
                        "at": (opened + timedelta(minutes=4)).isoformat(),
                        "status": "Waiting on customer",
                        "pauses_clock": True,
                    },
                    {
                        "at": (opened + timedelta(minutes=10)).isoformat(),
                        "status": "In progress",
                    },
                ],
            }
        ],
    )
    now = timezone.now()
    evaluate_pending_tickets(now)
    evaluate_periods(now)
    return Ticket.objects.get(external_id="INC-4711")


def test_alert_email_ack_page_and_ticket_reason_in_the_browser(new_page, demo):
    ticket = _ticket_waiting_on_the_customer()
    alert = Alert.objects.get(ticket=ticket, level="breached")
    mail = Notification.objects.get(
        key=alert.notification_key, recipient="manager@northwind.example"
    )

    # The email as a mail client shows it.
    page = new_page(viewport={"width": 700, "height": 900})
    page.set_content(mail.body_html)
    assert page.get_by_text("INC-4711: Checkout fails for EU cards").is_visible()
    assert page.get_by_text("Threshold passed").is_visible()
    ack = page.get_by_role("link", name="Acknowledge")
    link = ack.get_attribute("href")
    _keep(screenshot(page, "alert-email"), "alert-email")

    # The link, opened without a session: a confirm page, nothing recorded yet.
    visitor = new_page(viewport=DESKTOP)
    visitor.goto(link.removeprefix(settings.SITE_URL))
    assert visitor.get_by_role("heading", name="Acknowledge this alert?").is_visible()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert_no_axe_violations(visitor, "acknowledge confirm page")
    _keep(screenshot(visitor, "alert-ack-confirm"), "alert-ack-confirm")
    visitor.get_by_role("button", name="Acknowledge as Alice Manager").click()
    assert visitor.get_by_role("heading", name="Acknowledged").is_visible()
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "manager"
    assert_no_axe_violations(visitor, "acknowledge done page")
    visitor.goto("/alerts/ack/not-a-token/")
    assert visitor.get_by_role("heading", name="This acknowledge link is not valid").is_visible()

    # The ticket page says where the 40 minutes went.
    reader = new_page(viewport=DESKTOP)
    login(reader, "acme-approver", DEMO_PASSWORD)
    reader.goto(f"/tickets/{ticket.pk}/")
    account = reader.locator("[data-timer-account]").first
    assert "6 min paused (Waiting on customer)" in account.inner_text()
    assert "34 min used of 40 min elapsed" in account.inner_text()
    assert_no_axe_violations(reader, "ticket page with the timer accounts")
    _keep(screenshot(reader, "evaluation-ticket-timers"), "evaluation-ticket-timers")


def test_dashboard_screenshots(new_page, demo):
    _ticket_waiting_on_the_customer()
    page = new_page(viewport=DESKTOP)
    login(page, "acme-approver", DEMO_PASSWORD)
    page.goto("/dashboard/")
    _keep(screenshot(page, "dashboard-customer"), "dashboard-customer")
    phone = new_page(viewport=PHONE)
    login(phone, "acme-approver", DEMO_PASSWORD)
    phone.goto("/dashboard/")
    _keep(screenshot(phone, "dashboard-customer-phone"), "dashboard-customer-phone")
    provider = new_page(viewport=DESKTOP)
    login(provider, "manager", DEMO_PASSWORD)
    provider.goto("/dashboard/")
    assert provider.get_by_text("Open breaches (ticket or period not closed yet)").is_visible()
    assert_no_axe_violations(provider, "provider dashboard")
    _keep(screenshot(provider, "dashboard-provider"), "dashboard-provider")
    provider.goto("/alerts/")
    assert_no_axe_violations(provider, "alerts page")
    _keep(screenshot(provider, "evaluation-alerts"), "evaluation-alerts")
