"""The period-end forecast on both dashboards, in the browser: the customer's target card says
"Predicted to miss the target" with its band and the date it crossed; the provider's chip says
it too. Screenshots for docs/screenshots/forecast-dashboard*.png."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot
from tests.test_forecast_engine import NOW, down, utc

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="the live server and the test write at once: PostgreSQL only",
    ),
]


def keep(page, name: str) -> None:
    """A screenshot in test-artifacts/ and, for the record, in docs/screenshots/."""
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot(page, name), DOCS_SCREENSHOTS / f"{name}.png")


def test_forecast_on_customer_and_provider_dashboards(
    time_machine, new_page, active_acme_agreement, acme_desk, services, alice_manager
):
    time_machine.move_to(NOW, tick=True)
    rows = [{"checked_at": utc(2026, 1, 1).isoformat(), "status": "up"}]
    rows += down(utc(2026, 1, 12, 9), 10) + down(utc(2026, 2, 10, 9), 10)
    rows += down(utc(2026, 3, 3, 9), 40)
    rows.append({"checked_at": (NOW - timedelta(minutes=1)).isoformat(), "status": "up"})
    checks_ingest(acme_desk, services["portal"], rows)
    evaluate_periods(NOW)

    carol = new_page(viewport={"width": 1280, "height": 900})
    login(carol, "carol_customer", PASSWORD)
    carol.goto("/dashboard/")
    card = carol.locator("li.dash-target[data-metric='availability']")
    forecast = card.locator(".dash-forecast")
    expect(forecast).to_contain_text("Predicted to miss the target")
    expect(forecast).to_contain_text("80 % band")
    expect(forecast).to_contain_text("Forecast crossed on 8 Mar 2026")
    card.scroll_into_view_if_needed()
    assert_no_axe_violations(carol, "customer dashboard with a forecast")
    keep(carol, "forecast-dashboard")

    alice = new_page(viewport={"width": 1280, "height": 900})
    login(alice, "alice_manager", PASSWORD)
    alice.goto("/dashboard/")
    chip = alice.locator("li.dash-chip .dash-forecast[data-forecast='predicted_miss']")
    expect(chip).to_contain_text("Predicted to miss the target")
    keep(alice, "forecast-dashboard-provider")
