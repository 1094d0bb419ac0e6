import pytest
from django.core.management import call_command

from sla_portal.core.demo import DEMO_PASSWORD
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_demo_user_logs_in_and_sees_the_home_page(new_page, settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    page = new_page()
    page.goto("/")
    assert "/accounts/login/" in page.url
    assert page.get_by_text("Demo logins").is_visible()
    login(page, "acme-approver", DEMO_PASSWORD)
    assert page.get_by_role("heading", name="Welcome, Carol Customer").is_visible()
    assert page.get_by_text("Customer approver at Acme Logistics").is_visible()
    assert page.get_by_role("link", name="Globex Health").count() == 0
    screenshot(page, "home-customer")


def test_phone_width_navigation_collapses_and_opens(new_page, settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    page = new_page(viewport={"width": 390, "height": 844})
    login(page, "manager", DEMO_PASSWORD)
    toggler = page.get_by_role("button", name="Toggle navigation")
    assert toggler.is_visible()
    toggler.click()
    page.wait_for_selector("#main-nav.show")
    assert page.get_by_role("link", name="Organisations").is_visible()
    screenshot(page, "home-manager-phone")
