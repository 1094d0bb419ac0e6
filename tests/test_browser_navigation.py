"""The navigation bar of every role stays on one line and never makes the page scroll sideways,
from 1200 px up; below that it collapses behind its toggle."""

import pytest
from playwright.sync_api import expect

from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1200, 1280, 1440, 1920)


@pytest.mark.parametrize("username", ["ada_admin", "alice_manager", "carol_customer"])
def test_the_navigation_fits_on_one_line_for_every_role(
    new_page, username, ada_admin, alice_manager, carol_customer
):
    page = new_page({"width": 1200, "height": 800})
    login(page, username, PASSWORD)
    nav = page.get_by_role("navigation", name="Main navigation")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/")
        expect(nav.get_by_role("link", name="Organisations")).to_be_visible()
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{username} at {width} px: the page scrolls sideways"
        height = nav.bounding_box()["height"]
        assert height < 70, f"{username} at {width} px: the bar wraps ({height:.0f} px tall)"

    # Tickets, alerts, sources and imports sit under one Monitoring menu.
    nav.get_by_role("button", name="Monitoring").click()
    expect(nav.get_by_role("link", name="Tickets")).to_be_visible()
    expect(nav.get_by_role("link", name="Alerts")).to_be_visible()
    expect(nav.get_by_role("link", name="Sources")).to_be_visible()
    imports = nav.get_by_role("link", name="Imports")
    expect(imports).to_have_count(0 if username == "carol_customer" else 1)
    assert_no_axe_violations(page, f"Monitoring menu open ({username})")
    nav.get_by_role("link", name="Tickets").click()
    expect(nav.get_by_role("button", name="Monitoring")).to_have_class(
        "nav-link dropdown-toggle active"
    )

    page.set_viewport_size({"width": 1199, "height": 800})
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1199
