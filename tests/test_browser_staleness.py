"""A history that ends in August, seen in Chromium today: the customer's and the provider's
dashboards say "no data since 31 Aug 2026" instead of 0 %, and both pages pass axe."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="the live server and the test write at once: PostgreSQL only",
    ),
]

DOCS = DOCS_SCREENSHOTS


def keep(path: Path, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS / f"{name}.png")


def test_dashboards_say_no_data_since_the_history_ended(
    new_page, active_acme_agreement, acme_desk, services, alice_manager
):
    # Committed at once (no surrounding transaction), so the ingest stamps the evidence.
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": datetime(2026, 8, 1, tzinfo=UTC).isoformat(), "status": "up"},
            {"checked_at": datetime(2026, 8, 31, 23, 20, tzinfo=UTC).isoformat(), "status": "down"},
            {"checked_at": datetime(2026, 8, 31, 23, 30, tzinfo=UTC).isoformat(), "status": "down"},
        ],
    )
    evaluate_periods(timezone.now())

    for width, suffix in ((1440, ""), (390, "-phone")):
        page = new_page({"width": width, "height": 900})
        login(page, "carol_customer", PASSWORD)
        page.goto("/dashboard/")
        card = page.locator("li.dash-target[data-metric='availability']")
        notice = card.locator(".dash-no-data")
        expect(notice).to_contain_text("No data since 31 Aug 2026 23:30")
        expect(notice).to_contain_text("nothing in this period was measured")
        expect(card.locator(".dash-state")).to_have_text("No data")
        assert_no_axe_violations(page, f"customer dashboard, no data since ({width} px)")
        keep(
            screenshot(page, f"dashboard-no-data-since{suffix}"), f"dashboard-no-data-since{suffix}"
        )

    provider = new_page({"width": 1440, "height": 900})
    login(provider, "alice_manager", PASSWORD)
    provider.goto("/dashboard/")
    chip = provider.locator(".dash-chip[data-key^='chip-']").filter(has_text="no data since")
    expect(chip.first).to_contain_text("no data since 31 Aug 2026")
    assert_no_axe_violations(provider, "provider dashboard, no data since")
    keep(
        screenshot(provider, "dashboard-provider-no-data-since"), "dashboard-provider-no-data-since"
    )

    # The source's own page says it is stale; its edit page sets what is expected.
    provider.goto(f"/sources/{acme_desk.pk}/")
    expect(provider.locator("#data-flow")).to_contain_text("Stale: no data since 31 Aug 2026 23:30")
    assert_no_axe_violations(provider, "source page, stale")
    keep(screenshot(provider, "source-stale"), "source-stale")
    provider.goto(f"/sources/{acme_desk.pk}/edit/")
    provider.get_by_label("Expected data interval (minutes)").fill("60")
    assert_no_axe_violations(provider, "source edit, expected interval")
    keep(screenshot(provider, "source-edit-expected-interval"), "source-edit-expected-interval")
    provider.get_by_role("button", name="Save").click()
    expect(provider.locator("#data-flow")).to_contain_text("expected at least every 1 h")
