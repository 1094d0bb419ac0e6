"""Keyboard focus can be seen on the dark navigation bar (WCAG 2.4.7, 1.4.11).

Tabbing through the top of the page, every stop (skip link, brand, navigation links, the
user menu, the phone menu button) shows an outline of at least 2 px whose colour has 3:1
contrast against the bar.
"""

from __future__ import annotations

import re

import pytest

from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName, classes: el.className, text: el.innerText.trim(),
    outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth,
    outlineColor: style.outlineColor, boxShadow: style.boxShadow,
    inNavbar: !!el.closest('.navbar'),
  };
}"""


def rgb(css: str) -> tuple[float, float, float]:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css)[:3])
    return red, green, blue


def luminance(color: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in color)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(rgb(first)), luminance(rgb(second))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def tab_through(page, stops: int) -> list[dict]:
    seen = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
    return seen


def assert_visible_ring(stop: dict, background: str) -> None:
    assert stop["outlineStyle"] != "none", stop
    assert float(stop["outlineWidth"].removesuffix("px")) >= 2, stop
    ratio = contrast(stop["outlineColor"], background)
    assert ratio >= 3, f"{stop['text'] or stop['classes']}: ring {ratio:.2f}:1 against the bar"


def test_focus_ring_is_visible_on_every_navigation_stop(new_page, alice_manager):
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, alice_manager.username, PASSWORD)
    page.goto("/")
    bar = page.eval_on_selector("nav.navbar", "el => getComputedStyle(el).backgroundColor")
    stops = tab_through(page, 12)

    skip = stops[0]
    assert skip["text"] == "Skip to content"
    assert_visible_ring(skip, bar)
    assert page.get_by_role("link", name="Skip to content").is_visible()

    in_bar = [stop for stop in stops[1:] if stop["inNavbar"]]
    kinds = {
        "brand": [s for s in in_bar if "navbar-brand" in s["classes"]],
        "link": [s for s in in_bar if "nav-link" in s["classes"]],
        "menu": [s for s in in_bar if "dropdown-toggle" in s["classes"]],
    }
    for kind, found in kinds.items():
        assert found, f"no {kind} reached by Tab"
        for stop in found:
            assert_visible_ring(stop, bar)

    # The picture: focus on the second navigation link (skip link, brand, Home, then it).
    page.goto("/")
    tab_through(page, 4)
    screenshot(page, "navbar-focus-ring")
    assert_no_axe_violations(page, "home, focus on the navigation")


def test_focus_ring_is_visible_on_the_phone_menu_button(new_page, alice_manager):
    page = new_page(viewport={"width": 390, "height": 844})
    login(page, alice_manager.username, PASSWORD)
    page.goto("/")
    bar = page.eval_on_selector("nav.navbar", "el => getComputedStyle(el).backgroundColor")
    stops = tab_through(page, 3)
    assert "navbar-toggler" in stops[2]["classes"], stops
    assert_visible_ring(stops[2], bar)
    screenshot(page, "navbar-focus-ring-phone")
    assert_no_axe_violations(page, "home on a phone, focus on the menu button")


def test_a_mouse_click_leaves_no_ring(new_page, alice_manager):
    page = new_page()
    login(page, alice_manager.username, PASSWORD)
    page.goto("/")
    page.get_by_role("button", name=re.compile(alice_manager.display_name)).click()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "none"
