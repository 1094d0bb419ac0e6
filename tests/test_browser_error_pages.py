"""Error pages in the browser, as under `make run` (DEBUG on): styled, accessible, helpful."""

from __future__ import annotations

import pytest

from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def debug_on(settings) -> None:
    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = False


def test_404_under_make_run_is_the_portals_page(new_page, alice_manager, debug_on):
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, alice_manager.username, PASSWORD)
    page.goto("/agreements/")
    response = page.goto("/agreements/no-such-agreement/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.get_by_text("Django tried these URL patterns").count() == 0
    way_out = page.get_by_role("navigation", name="Where to go from here")
    assert way_out.get_by_role("link", name="Home").is_visible()
    assert_no_axe_violations(page, "404 page")
    screenshot(page, "error-404")


def test_403_names_the_role_and_the_way_out(new_page, carol_customer, debug_on):
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, carol_customer.username, PASSWORD)
    page.goto("/agreements/")
    # Followed from a page of the portal (so with a Referer), as a link or a bookmark would.
    with page.expect_response("**/agreements/new/") as refused:
        page.evaluate("location.assign('/agreements/new/')")
    assert refused.value.status == 403
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="You cannot do this here").is_visible()
    assert page.get_by_text("customer approver at Acme").is_visible()
    back = page.get_by_role("link", name="Back to the previous page")
    assert back.get_attribute("href").endswith("/agreements/")
    assert_no_axe_violations(page, "403 page")
    screenshot(page, "error-403")
    back.click()
    page.wait_for_url("**/agreements/")


def test_404_on_a_phone_for_a_visitor(new_page, debug_on):
    page = new_page(viewport={"width": 390, "height": 844})
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("link", name="Log in").is_visible()
    assert_no_axe_violations(page, "404 page, not logged in, phone")
    screenshot(page, "error-404-phone")
