"""Issue 13, drafting in the browser: a manager drafts from a tier with business-hours
calendars in sections 2 and 4, adds a performance target (an empty direction is a clear error,
then it saves), sees each target's calendar, and proposes with gaps only after confirming.
Desktop (1440 px) and phone (390 px), with axe-core on every state."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from agreements.models import Agreement, AgreementVersion
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
DOCS = DOCS_SCREENSHOTS


def keep(page, name: str) -> None:
    """A screenshot in test-artifacts/ and, as the documented state, in docs/screenshots/.

    The window is made as tall as the page first, so the sticky save bar is drawn where a
    reader meets it (at the end), not across the middle of a full-page capture."""
    size = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    path = screenshot(page, name)
    page.set_viewport_size(size)
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS / f"{name}.png")


def no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +
                                      Math.round(e.getBoundingClientRect().right))"""
        )
        raise AssertionError(f"the page scrolls sideways by {overflow}px: {wide}")


def create_from_gold(page) -> Agreement:
    page.goto("/agreements/new/")
    page.get_by_role("combobox", name="Tier").select_option(label="Gold")
    page.get_by_role("combobox", name="Customer").select_option(label="Acme Logistics")
    page.get_by_role("textbox", name="Title").fill("Customer Portal – office hours")
    page.get_by_label("Customer Portal").check()
    page.get_by_label("Effective from").fill("2026-01-01")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r"/edit/terms/$"))
    return Agreement.objects.get(title="Customer Portal – office hours")


def test_manager_drafts_with_business_hours_adds_a_target_and_confirms_gaps(
    new_page, alice_manager, carol_customer, tiers, services, acme
):
    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    agreement = create_from_gold(page)

    # Section 2: the service runs in Berlin office hours, not 24x7.
    page.goto(f"/agreements/{agreement.pk}/edit/hours/")
    page.get_by_label("24x7").uncheck()
    page.get_by_label("Berlin office hours").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Service hours saved")).to_be_visible()
    expect(page.get_by_text("measured in this section\u2019s calendar")).to_be_visible()
    assert_no_axe_violations(page, "editor, service hours")

    # Section 4: the desk works office hours too; every ticket target follows.
    page.goto(f"/agreements/{agreement.pk}/edit/support/")
    page.get_by_label("Support calendar").select_option(label="Berlin office hours")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Support levels saved")).to_be_visible()
    rows = page.locator("tr.target-row")
    calendars = page.locator(".target-calendar")
    expect(calendars.first).to_contain_text("Berlin office hours")
    expect(calendars.first).to_contain_text("(section 4)")
    for text in calendars.all_inner_texts()[:-1]:  # the last row is the empty "new" one
        assert "Measured in Berlin office hours" in text, text
    choices = rows.first.locator("select[name$='-calendar'] option").all_inner_texts()
    assert [c for c in choices if c.strip() == "24x7"] == ["24x7"]
    assert choices[0] == "As section 4: Berlin office hours"
    # Goal %, breach %, warn and remove fit at 1440 px: nothing scrolls sideways.
    no_horizontal_scroll(page)
    table = page.locator("table.table-targets")
    card = page.locator("table.table-targets").locator("xpath=ancestor::div[1]")
    assert table.bounding_box()["width"] <= card.bounding_box()["width"] + 1
    for header in ("Goal % of tickets", "Breach below %", "Warn at % of time", "Remove"):
        box = table.get_by_role("columnheader", name=header).bounding_box()
        assert box["x"] + box["width"] <= DESKTOP["width"], header
    expect(page.get_by_label("Remove target Response time (P1)")).to_be_attached()
    assert_no_axe_violations(page, "editor, support levels")
    keep(page, "editor-support-targets-1440")

    # A target naming its own calendar, other than its section's, is flagged.
    own = rows.nth(1).locator("select[name$='-calendar']")
    own.select_option(label="London service desk")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Differs from section 4\u2019s Berlin office hours.")).to_be_visible()

    # Section 5: a new performance target with no direction is a clear error, not a 500.
    page.goto(f"/agreements/{agreement.pk}/edit/performance/")
    new = page.locator("tr.target-row").last
    new.locator("select[name$='-metric']").select_option("performance")
    new.locator("input[name$='-name']").fill("Orders per minute")
    new.locator("input[name$='-target_value']").fill("120")
    new.locator("input[name$='-threshold_value']").fill("100")
    new.locator("select[name$='-unit']").select_option("count")
    page.get_by_role("button", name="Save draft").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Nothing was saved: 1 problem to correct")
    expect(page.get_by_text("say whether lower or higher is better")).to_have_count(1)
    summary.get_by_role("link").first.click()
    direction = page.locator("tr.target-row.has-errors select[name$='-direction']")
    expect(direction).to_be_focused()
    expect(direction).to_have_attribute("aria-invalid", "true")
    assert_no_axe_violations(page, "editor, performance target in error")
    keep(page, "editor-performance-error-1440")
    direction.select_option("higher")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Performance saved")).to_be_visible()
    added = agreement.targets.get(name="Orders per minute")
    assert (added.direction, added.calendar_id) == ("higher", None)
    expect(page.locator(".target-calendar").filter(has_text="Orders")).to_have_count(0)
    expect(
        page.locator("tr.target-row")
        .filter(has=page.locator("input[value='Orders per minute']"))
        .locator(".target-calendar")
    ).to_contain_text("Berlin office hours")

    # Proposing with gaps: they are listed, and nothing is sent without a confirmation.
    page.goto(f"/agreements/{agreement.pk}/lifecycle/")
    gaps = page.locator("#proposal-gaps")
    expect(gaps).to_contain_text("8. Continuity")
    expect(gaps).to_contain_text("RTO (recovery time objective)")
    page.get_by_role("button", name=re.compile("Propose|Send")).first.click()
    expect(page.get_by_text(re.compile("Before proposing, complete"))).to_be_visible()
    assert not AgreementVersion.objects.filter(agreement=agreement).exists()
    page.get_by_label(re.compile("I know these sections are incomplete")).check()
    assert_no_axe_violations(page, "lifecycle, proposal with gaps")
    page.locator("#propose").scroll_into_view_if_needed()
    keep(page, "propose-confirm-gaps-1440")
    page.get_by_role("button", name=re.compile("Propose|Send")).first.click()
    expect(page.get_by_text(re.compile("Version 1 sent to Acme Logistics"))).to_be_visible()
    version = AgreementVersion.objects.get(agreement=agreement)
    support = {t["calendar"] for t in version.snapshot["targets"] if t["section"] == "support"}
    assert support == {"Berlin office hours", "London service desk"}


def test_the_editor_is_usable_on_a_phone(new_page, alice_manager, acme_agreement, calendars):
    page = new_page(PHONE)
    login(page, "alice_manager", PASSWORD)
    page.goto(f"/agreements/{acme_agreement.pk}/edit/support/")
    no_horizontal_scroll(page)
    first = page.locator("tr.target-row").first
    # Each target is a card of labelled fields, every input inside the screen.
    for name in ("threshold_value", "compliance_target", "compliance_threshold", "warning_percent"):
        box = first.locator(f"input[name$='-{name}']").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    expect(first.locator("td[data-label='Calendar']")).to_be_visible()
    assert_no_axe_violations(page, "editor on a phone")
    keep(page, "editor-support-targets-390")

    # The sticky save bar never covers the field that has the keyboard focus.
    # (Bootstrap scrolls smoothly; without motion the position can be measured at once.)
    page.emulate_media(reduced_motion="reduce")
    row = page.locator("tr.target-row").nth(2)
    field = row.locator("input[name$='-warning_percent']")
    # The field just above the bottom edge of the screen, where the bar is; then Tab to it.
    field.evaluate(
        """el => { window.scrollBy(0, el.getBoundingClientRect().bottom - innerHeight + 20);
                   el.closest('tr').querySelector("input[name$='-compliance_threshold']")
                     .focus({preventScroll: true}); }"""
    )
    page.keyboard.press("Tab")
    expect(field).to_be_focused()
    bar = page.locator(".editor-savebar").bounding_box()
    box = field.bounding_box()
    assert box["y"] + box["height"] <= bar["y"], (box, bar)

    # An error on a phone: the summary and the message beside the field.
    field.fill("150")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#error-summary")).to_be_visible()
    no_horizontal_scroll(page)
    assert_no_axe_violations(page, "editor with an error on a phone")
    keep(page, "editor-support-error-390")
