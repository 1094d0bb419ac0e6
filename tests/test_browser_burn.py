"""Burn-rate alerts in the browser: the alerts page, the compliance page's burn table and the
editor's advanced part of a target row (docs/burn-rates.md), with their screenshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.db import transaction
from playwright.sync_api import expect

from agreements.models import Target
from monitoring.evaluation.alert_emails import deliver_new_alerts
from monitoring.evaluation.burn_rates import claim_burn_deadlines
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import ARTIFACTS, login, screenshot

OPENED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def burning(agreement, desk, portal) -> None:
    """A fast burn that paged and recovered, and a 3-day warning still firing."""
    rows = [
        {"checked_at": datetime(2026, 3, 1, tzinfo=UTC).isoformat(), "status": "up"},
        {"checked_at": OPENED.isoformat(), "status": "down"},
        {"checked_at": (OPENED + timedelta(minutes=5)).isoformat(), "status": "up"},
    ]
    checks_ingest(desk, portal, rows)
    for seconds in (60, 140, 300, 1000):
        now = OPENED + timedelta(seconds=seconds)
        evaluate_periods(now, [agreement.pk])
        claim_burn_deadlines(now)
    with transaction.atomic():
        deliver_new_alerts(OPENED + timedelta(seconds=1000))


def test_burn_alerts_and_rates_on_their_pages(
    new_page, active_acme_agreement, acme_desk, services, live_server
):
    burning(active_acme_agreement, acme_desk, services["portal"])
    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto("/alerts/?level=burn_page")
    alerts = page.get_by_role("list", name="Alerts")
    expect(alerts).to_contain_text("Budget burning fast")
    expect(alerts).to_contain_text("rule page-1h")
    assert_no_axe_violations(page)
    page.goto("/alerts/")
    expect(page.get_by_role("list", name="Alerts")).to_contain_text("Burn recovered")
    screenshot(page, "burn-alerts")

    page.goto(f"/agreements/{active_acme_agreement.pk}/compliance/")
    table = page.get_by_role("table", name="Burn-rate rules of Availability")
    expect(table).to_contain_text("warn-3d")
    expect(table.locator("tr", has_text="warn-3d")).to_contain_text("firing")
    expect(table.locator("tr", has_text="page-1h")).to_contain_text("calm")
    assert_no_axe_violations(page)
    # The availability target's card only: the rest of the page is the other targets.
    ARTIFACTS.mkdir(exist_ok=True)
    card = page.locator("section.card", has=table)
    card.screenshot(path=str(ARTIFACTS / "burn-compliance.png"))


def test_burn_rules_in_the_editors_advanced_part(new_page, acme_agreement, live_server):
    target = Target.objects.get(agreement=acme_agreement, metric="availability")
    page = new_page()
    login(page, "alice_manager", PASSWORD)
    page.goto(f"/agreements/{acme_agreement.pk}/edit/availability/")
    page.get_by_text("Advanced: burn-rate alert rules").first.click()
    box = page.get_by_label("Burn-rate rules").first
    rules = [
        {
            "name": "fast",
            "severity": "page",
            "long_seconds": 600,
            "short_seconds": 900,
            "factor": 10,
        }
    ]
    box.fill(json.dumps(rules))
    page.get_by_role("button", name="Save", exact=False).first.click()
    expect(page.locator(".field-error").first).to_contain_text(
        "Rule 1, short_seconds: The short window is shorter than the long one."
    )
    screenshot(page, "burn-editor-error")
    rules[0]["short_seconds"] = 60
    page.get_by_label("Burn-rate rules").first.fill(json.dumps(rules))
    page.get_by_role("button", name="Save", exact=False).first.click()
    page.wait_for_load_state()
    target.refresh_from_db()
    assert target.burn_rules == rules
