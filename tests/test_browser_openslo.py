"""A service manager imports an OpenSLO file into a draft in the browser: uploads it, reads
the preview (targets, rule-based changes), confirms, and finds the targets in the agreement."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agreements.services import agreement_create_from_tier
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILE = Path("/work/shared/data/openslo/spec-repo/examples/budgeting-method/timeslices-slo.yaml")


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
    assert not draft.targets.exists()

    page.get_by_role("button", name="Import 2 targets").click()
    expect(page.get_by_text("OpenSLO imported: 2 target(s) added")).to_be_visible()
    expect(page.get_by_text("Reflaction of out availability SLA — SLA").first).to_be_visible()
    screenshot(page, "openslo-imported")
    assert sorted(draft.targets.values_list("target_value", flat=True)) == [99, 99.5]
