"""A service manager imports an OpenSLO file into a draft in the browser: uploads it, reads
the preview (targets, rule-based changes), confirms, and finds the targets in the agreement."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from agreements.services.drafting import agreement_create_from_tier
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot
from tests.support.data import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DATA = SHARED_DATA / "openslo"
FILE = DATA / "spec-repo/examples/budgeting-method/timeslices-slo.yaml"
INVALID = DATA / "oslo/test/inputs/validate/v1alpha.yaml"
PHONE = {"width": 390, "height": 844}


def no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_manager_uploads_previews_confirms_and_sees_the_targets(
    new_page, acme, services, alice_manager
):
    draft = agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Web availability from OpenSLO",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    page = new_page()
    login(page, "alice_manager", PASSWORD)
    page.goto(f"/agreements/{draft.pk}/")
    page.get_by_role("link", name="Import OpenSLO").click()
    expect(
        page.get_by_role("heading", name=f"Import OpenSLO into {draft.reference}")
    ).to_be_visible()

    # A file with errors: each document's errors with path and reason, and no way to confirm.
    page.get_by_label("OpenSLO or Sloth file").set_input_files(str(INVALID))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing can be imported")
    expect(
        page.get_by_role("heading", name="Document #1 · Service “my-rad service”")
    ).to_be_visible()
    expect(page.get_by_text("spec.objectives[0].timeSliceTarget")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    screenshot(page, "openslo-errors")

    page.get_by_label("OpenSLO or Sloth file").set_input_files(str(FILE))
    page.get_by_role("button", name="Preview").click()

    table = page.locator("#openslo-targets")
    expect(table.get_by_role("row")).to_have_count(3)  # header and two targets
    expect(table).to_contain_text("Reflaction of out availability SLA — Internal objective")
    expect(table).to_contain_text("99.5")
    expect(page.get_by_text("Changed by a rule")).to_be_visible()
    expect(page.get_by_text("The calendar-aligned time window 1m (1 minute)")).to_be_visible()
    assert_no_axe_violations(page, "openslo preview")
    screenshot(page, "openslo-preview")
    page.set_viewport_size(PHONE)
    no_horizontal_scroll(page)
    screenshot(page, "openslo-preview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not draft.targets.exists()

    page.get_by_role("button", name="Import 2 targets").click()
    expect(page.get_by_text("OpenSLO imported: 2 target(s) added")).to_be_visible()
    expect(page.get_by_text("Reflaction of out availability SLA — SLA").first).to_be_visible()
    screenshot(page, "openslo-imported")
    # The export and import buttons fit the agreement page at phone width too.
    page.set_viewport_size(PHONE)
    expect(page.get_by_role("link", name="Export OpenSLO")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(page, "openslo-document-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/agreements/{draft.pk}/history/")
    expect(page.get_by_text("Imported from OpenSLO").first).to_be_visible()
    screenshot(page, "openslo-history")
    assert sorted(draft.targets.values_list("target_value", flat=True)) == [99, 99.5]
