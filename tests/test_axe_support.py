"""The accessibility checker itself: axe-core runs in Chromium and reports real violations."""

import pytest

from tests.support.axe import assert_no_axe_violations, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_axe_finds_an_unlabelled_field_and_low_contrast(new_page):
    page = new_page()
    page.set_content(
        "<!doctype html><html lang='en'><head><title>t</title></head><body><main>"
        "<input type='text'><p style='color:#999;background:#fff'>faint text</p>"
        "</main></body></html>"
    )
    ids = {violation["id"] for violation in axe_violations(page)}
    assert {"label", "color-contrast"} <= ids
    with pytest.raises(AssertionError, match="label"):
        assert_no_axe_violations(page, "a broken page")


def test_login_page_has_no_violations(new_page):
    page = new_page()
    page.goto("/accounts/login/")
    assert_no_axe_violations(page, "login page")
