"""The API documentation page (Swagger UI): a language, a title, readable and large enough.

Swagger UI is drf-spectacular's, from the sidecar package; the portal overrides its page
template (templates/drf_spectacular/swagger_ui.html) for the language, title and a way back,
and adds static/css/api-docs.css (contrast, target sizes, focus) and static/js/api-docs.js
(names of the controls Swagger UI leaves unnamed).
"""

from __future__ import annotations

import re

import pytest

from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import ARTIFACTS, login


@pytest.mark.django_db
def test_api_docs_page_has_a_language_a_title_and_its_styles(client, alice_manager):
    client.force_login(alice_manager)
    html = client.get("/api/docs/").content.decode()
    assert '<html lang="en">' in html
    assert re.search(r"<title>SLA Portal API · documentation · SLA Portal</title>", html)
    assert 'href="/static/css/api-docs.css"' in html
    assert 'src="/static/js/api-docs.js"' in html
    assert '<main id="swagger-ui"' in html
    assert 'href="/"' in html, "a way back to the portal"
    # Swagger UI's start-up script is a file (no inline script under the CSP); its settings:
    # deep links nested a link in each operation's button; syntax colours were below 4.5:1.
    assert '<script src="/api/docs/?script="></script>' in html
    script = client.get("/api/docs/?script=").content.decode()
    assert '"deepLinking": false' in script
    assert '"activated": false' in script


def picture(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_api_docs_meet_wcag_aa_closed_open_trying_and_authorizing(new_page, alice_manager):
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, alice_manager.username, PASSWORD)
    page.goto("/api/docs/")
    page.wait_for_selector(".opblock")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title() == "SLA Portal API · documentation · SLA Portal"
    assert_no_axe_violations(page, "API docs")
    picture(page, "api-docs")

    # Controls are at least 24 x 24 px.
    sizes = page.evaluate(
        """() => [...document.querySelectorAll(
              '.opblock-summary-control, .authorization__btn, .copy-to-clipboard button, '
              + '.opblock-control-arrow, .btn.authorize')]
            .filter(el => el.offsetParent)
            .map(el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; })"""
    )
    assert sizes and all(w >= 24 and h >= 24 for w, h in sizes), sizes

    page.locator(".opblock-summary-control").first.click()
    page.wait_for_selector(".opblock-body")
    assert_no_axe_violations(page, "API docs, an operation open")

    page.get_by_role("button", name="Try it out").first.click()
    page.wait_for_selector(".btn.execute")
    assert_no_axe_violations(page, "API docs, trying an operation")
    assert page.get_by_role("combobox", name="status").count() == 1, "the choice list is named"

    page.get_by_role("button", name="Authorize").first.click()
    page.wait_for_selector(".modal-ux")
    assert_no_axe_violations(page, "API docs, the authorize dialog")
    page.get_by_role("button", name="Close").first.click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_api_docs_on_a_phone(new_page, alice_manager):
    page = new_page(viewport={"width": 390, "height": 844})
    login(page, alice_manager.username, PASSWORD)
    page.goto("/api/docs/")
    page.wait_for_selector(".opblock")
    assert_no_axe_violations(page, "API docs on a phone")
    picture(page, "api-docs-phone")
