"""In Chromium: a manager rotates a webhook source's secret (the new one shown once, a hint
afterwards), and a person creates and revokes an API token on their own page. Every state
meets WCAG 2.2 AA (axe-core)."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from monitoring.models import Source
from sla_portal.core.models import ApiToken
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}


def keep(page, name: str) -> None:
    path = screenshot(page, name)
    if DOCS_SCREENSHOTS.is_dir():
        shutil.copy(path, DOCS_SCREENSHOTS / f"{name}.png")


def test_manager_rotates_a_secret_and_sees_the_new_one_once(new_page, alice_manager, acme):
    source = Source.objects.create(customer=acme, name="Acme Kuma", kind=Source.Kind.UPTIME_KUMA)
    old = source.signing_secret
    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    page.goto(f"/sources/{source.pk}/")
    expect(page.locator("#secret-hint")).to_contain_text("…" + old[-4:])
    assert old not in page.content()
    assert_no_axe_violations(page, "source with its secret masked")
    keep(page, "source-secret-masked")

    page.get_by_role("button", name="Rotate secret").click()
    new = Source.objects.get(pk=source.pk).signing_secret
    expect(page.get_by_role("heading", name="New signing secret: shown only now")).to_be_visible()
    expect(page.get_by_role("textbox", name="Signing secret")).to_have_value(new)
    expect(page.locator("#secret-once")).to_contain_text("previous secret still works until")
    assert_no_axe_violations(page, "rotated secret shown once")
    keep(page, "source-secret-rotated-once")

    page.reload()
    expect(page.locator("#secret-once")).to_have_count(0)
    expect(page.locator("#secret-hint")).to_contain_text("…" + new[-4:])
    assert new not in page.content() and old not in page.content()


def test_a_person_creates_a_token_sees_it_once_and_revokes_it(new_page, alice_manager):
    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    page.get_by_role("button", name=alice_manager.display_name).click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your API tokens")
    assert_no_axe_violations(page, "no tokens yet")

    page.get_by_label("Name").fill("ServiceNow nightly export")
    page.get_by_label("Ingest monitoring data").check()
    page.get_by_role("button", name="Create token").click()
    token = ApiToken.objects.get()
    key = page.get_by_role("textbox", name="Key").input_value()
    assert key.startswith(token.prefix)
    expect(page.locator("#token-table")).to_contain_text("read, ingest")
    assert_no_axe_violations(page, "new token shown once")
    keep(page, "api-token-created-once")

    page.reload()
    expect(page.locator("#token-once")).to_have_count(0)
    assert key not in page.content()
    page.get_by_role("button", name="Revoke ServiceNow nightly export").click()
    expect(page.locator("#token-table")).to_contain_text("Revoked")
    assert_no_axe_violations(page, "token list with a revoked token")
    keep(page, "api-tokens-list")
