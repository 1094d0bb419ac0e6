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
    height = page.evaluate("document.documentElement.scrollHeight")
    screenshot(page, "dashboard-customer-phone")
    print("height", height)
    assert height < 4000
