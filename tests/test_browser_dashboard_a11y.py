"""The customer dashboard in Chromium with the demo data: short on a phone (summary first,
details collapsed), and a refresh that keeps focus, open panels and the scroll position,
announces what changed, and can be paused."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from sla_portal.core.demo import DEMO_PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

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
    from datetime import timedelta

    from monitoring.demo import DEMO_AGREEMENT
    from monitoring.ingest.tickets import tickets_ingest
    from monitoring.models import Source

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
        "document.getElementById('dashboard-live') !== window.__oldLive", timeout=timeout
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
