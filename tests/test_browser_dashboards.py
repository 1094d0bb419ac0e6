"""The dashboards in Chromium: a customer sees only its own agreements; an outage sent through
the REST API turns the availability gauge amber without a reload, evaluated by a real Celery
worker (the ``evaluate_changed`` task ingest queues); the provider sees the at-risk ticket
first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient

from monitoring.format import duration
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import PeriodResult, Source, Ticket
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot
from tests.support.volume import fill_history
from tests.test_dashboards import activate_globex_agreement, evaluate, open_ticket

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="a worker and the live server write at once: PostgreSQL only",
    ),
]


def availability_state(page):
    return page.locator("li.dash-target[data-metric='availability'] .dash-state")


def test_customer_sees_only_its_agreements(
    new_page, active_acme_agreement, tiers, services, globex, alice_manager, other_org_viewer
):
    globex_agreement = activate_globex_agreement(tiers, services, globex, alice_manager)
    evaluate()

    carol = new_page()
    login(carol, "carol_customer", PASSWORD)
    carol.goto("/dashboard/")
    expect(carol.get_by_role("heading", name=active_acme_agreement.title)).to_be_visible()
    expect(carol.locator("[data-agreement]")).to_have_count(1)
    expect(carol.get_by_text(globex_agreement.reference)).to_have_count(0)

    other = new_page()
    login(other, "other_org_viewer", PASSWORD)
    other.goto("/dashboard/")
    expect(other.get_by_role("heading", name=globex_agreement.title)).to_be_visible()
    expect(other.locator("[data-agreement]")).to_have_count(1)
    expect(other.get_by_text(active_acme_agreement.reference)).to_have_count(0)


@pytest.mark.worker
def test_outage_sent_through_the_api_turns_the_gauge_amber_without_a_reload(
    new_page, celery_worker, active_acme_agreement, acme_desk, services, alice_manager
):
    portal = services["portal"]
    now = timezone.now()
    # The service has been watched (a check without downtime): availability is measured, met.
    checks_ingest(
        acme_desk, portal, [{"checked_at": (now - timedelta(hours=3)).isoformat(), "status": "up"}]
    )
    evaluate()

    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto("/dashboard/")
    expect(availability_state(page)).to_have_text("Met")
    page.evaluate("window.__notReloaded = true")

    # One hour down: more than the 43 minutes the 99.9 % target allows in a month, less than
    # the 3.6 hours of the 99.5 % threshold.
    api = APIClient()
    api.force_authenticate(alice_manager)
    response = api.post(
        f"/api/sources/{acme_desk.pk}/checks/bulk/?service={portal.pk}",
        [
            {"checked_at": (now - timedelta(minutes=62)).isoformat(), "status": "down"},
            {"checked_at": (now - timedelta(minutes=1)).isoformat(), "status": "up"},
        ],
        format="json",
    )
    assert response.status_code == 200, response.content
    sent = timezone.now()

    # Nothing here evaluates: only the worker's evaluate_changed task can change the gauge.
    expect(availability_state(page)).to_have_text("Target missed", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    row = PeriodResult.objects.get(
        agreement=active_acme_agreement,
        metric="availability",
        period_start__lte=sent,
        period_end__gt=sent,
    )
    assert row.status == "missed_target" and row.evaluated_at >= sent
    gauge = page.locator("li.dash-target[data-metric='availability'] .gauge")
    # The accessible name also says the scale, which starts above zero (a marked broken axis).
    expect(gauge).to_have_attribute(
        "aria-label",
        "Availability: " + row_sentence(row) + ". Scale 98 % to 100 %, axis starts at 98 %.",
    )
    screenshot(page, "dashboard-customer-after-outage")


def row_sentence(row) -> str:
    return (
        f"{row.value:.2f} % against target 99.90 %, threshold 99.50 %. {row.get_status_display()}"
    )


def test_provider_dashboard_lists_the_at_risk_ticket_first(
    new_page, active_acme_agreement, acme_desk, globex, tiers, services, alice_manager
):
    globex_agreement = activate_globex_agreement(tiers, services, globex, alice_manager)
    globex_desk = Source.objects.create(customer=globex, name="Globex desk", timezone="UTC")
    open_ticket(acme_desk, active_acme_agreement, "CALM-P4", "P4", 2)
    open_ticket(globex_desk, globex_agreement, "CALM-P3", "P3", 3)
    # Past the warning point of its 15-minute first response, 17 minutes from breach.
    open_ticket(acme_desk, active_acme_agreement, "HOT-P1", "P1", 13)
    evaluate()

    page = new_page()
    login(page, "alice_manager", PASSWORD)
    page.goto("/dashboard/")
    rows = page.locator("#tickets-at-risk tbody tr")
    first = rows.first
    expect(first).to_have_attribute("data-ticket", "HOT-P1")
    expect(first.locator(".dash-state")).to_have_text("At risk")
    expect(first).to_contain_text("Response time (P1)")
    expect(rows).to_have_count(6)  # response and resolution of three tickets
    expect(page.locator("#agreements-rag [data-agreement]")).to_have_count(2)
    screenshot(page, "dashboard-provider-at-risk")


def test_countdowns_are_recounted_by_the_browser_while_the_poll_stays_204(
    new_page, active_acme_agreement, acme_desk, live_server
):
    """The server renders "… left" once; the browser keeps it current from the deadline in
    ``<time datetime>``, so the poll can answer 204 while time passes."""
    # Opened 13 minutes ago: its 30-minute P1 first response threshold is 17 minutes away.
    open_ticket(acme_desk, active_acme_agreement, "HOT-P1", "P1", 13)
    evaluate()

    page = new_page()
    login(page, "carol_customer", PASSWORD)
    polls = []
    page.on(
        "response",
        lambda r: polls.append(r.status) if "/dashboard/live/" in r.url else None,
    )
    page.clock.install()
    page.goto("/dashboard/")
    row = page.locator('tr[data-ticket="HOT-P1"]').filter(has_text="Response time").first
    countdown = row.locator('time[data-countdown="threshold"]')
    deadline = countdown.get_attribute("datetime")
    left = (datetime.fromisoformat(deadline) - timezone.now()).total_seconds()
    expect(countdown).to_have_text(f"{duration(left)} left", timeout=5_000)
    # Without JavaScript the absolute time is on the page too.
    expect(row).to_contain_text("threshold ")
    # The server's "as of" note (a cached render's countdowns are as old as the render) is
    # for readers without JavaScript; here the countdowns are current, so it is hidden.
    as_of = page.locator("[data-as-of]").first
    assert "as of" in as_of.text_content()
    expect(as_of).to_be_hidden()
    page.clock.run_for(5_000)  # a poll or two: nothing changed on the server
    screenshot(page, "dashboard-countdown-before")

    # Forty minutes later in the browser: the threshold has passed.
    page.clock.fast_forward("40:00")
    page.clock.run_for(2_000)
    expect(countdown).to_contain_text("breached ")
    expect(countdown).to_contain_text(" ago")
    expect(row.locator('time[data-countdown="target"]')).to_contain_text("target missed ")
    screenshot(page, "dashboard-countdown-after")
    assert polls and set(polls) == {204}, polls


def test_breach_history_behind_the_newest_ten(new_page, active_acme_agreement, acme_desk):
    """The dashboard shows the ten newest breaches and how many there are; the link opens
    every breach of the agreement, a page at a time."""
    open_ticket(acme_desk, active_acme_agreement, "HOT-P1", "P1", 13)
    evaluate()
    fill_history(
        Ticket.objects.get(external_id="HOT-P1"), tickets=160, breaches=120, open_timers=30
    )

    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto("/dashboard/")
    section = page.locator(f"#agreement-{active_acme_agreement.pk}-breaches")
    expect(section.locator("tbody tr")).to_have_count(10)
    expect(section).to_contain_text("the 10 newest are shown")
    expect(page.locator("table.dash-tickets tbody tr")).to_have_count(20)
    screenshot(page, "dashboard-customer-top-n")
    section.get_by_role("link", name="All 120 breaches").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Breaches of")
    expect(page.locator("#breach-history tbody tr")).to_have_count(50)
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    screenshot(page, "dashboard-breach-history")
    assert_no_axe_violations(page, "breach history")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
