"""A service manager drafts an agreement from a tier in the browser; its customer reads it."""

import re

import pytest
from playwright.sync_api import expect

from agreements.models import Agreement
from tests.support.actors import PASSWORD
from tests.support.agreements import propose_to_customer
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NARRATIVE_SECTIONS = {
    "description": ("section-service_description", "Operation of the **customer portal**."),
    "hours": ("section-service_hours_notes", "Service hours follow the Berlin office calendar."),
    "availability": ("section-availability_notes", "Measured by external probes every minute."),
    "support": ("section-after_hours_procedure", "P1 by phone to the on-call engineer."),
    "performance": ("section-performance_notes", "p95 of page loads per hour."),
    "functionality": ("section-functionality_notes", "Errors are counted per category."),
    "charges": ("section-charging_formula", "Monthly fee invoiced in advance."),
    "continuity": ("section-continuity_notes", "Hourly replication to a second site."),
    "security": ("section-security_measures", "ISO 27001 certified operations."),
    "changes": ("section-change_policy", "Normal changes go through the CAB."),
}


def test_manager_drafts_from_tier_and_only_the_customer_sees_it(
    new_page, alice_manager, carol_customer, other_org_viewer, tiers, services, acme
):
    page = new_page()
    login(page, "alice_manager", PASSWORD)
    page.get_by_role("link", name="Agreements").first.click()
    page.get_by_role("link", name="New agreement from tier").click()

    page.get_by_role("combobox", name="Tier").select_option(label="Gold")
    page.get_by_role("combobox", name="Customer").select_option(label="Acme Logistics")
    page.get_by_role("textbox", name="Title").fill("Customer Portal – Gold")
    page.get_by_label("Customer Portal").check()
    page.get_by_label("Effective from").fill("2026-01-01")
    page.get_by_label("Effective to").fill("2027-12-31")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r"/edit/terms/$"))
    expect(page.get_by_text("created from the Gold tier")).to_be_visible()
    agreement = Agreement.objects.get(title="Customer Portal – Gold")

    # Every section, through the section navigation.
    for key, (field, text) in NARRATIVE_SECTIONS.items():
        page.goto(f"/agreements/{agreement.pk}/edit/{key}/")
        page.locator(f"[name='{field}']").fill(text)
        if key == "charges":
            page.locator("[name='section-fee_amount']").fill("11500")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("saved. The agreement is still a draft.")).to_be_visible()
    screenshot(page, "editor-changes")

    # A SMART mistake is explained inline and nothing is saved.
    page.goto(f"/agreements/{agreement.pk}/edit/support/")
    row = (
        page.locator("table.table-targets tbody tr")
        .filter(has=page.locator("select[name$='-priority'] option[selected][value='P1']"))
        .first
    )
    row.locator("input[name$='-threshold_value']").fill("5")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    explained = re.compile(r"threshold \(5\) cannot be better than the target")
    expect(page.get_by_text(explained)).to_be_visible()
    screenshot(page, "editor-smart-error")
    row = page.locator("tr.target-row.has-errors").first
    row.locator("input[name$='-threshold_value']").fill("25")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Support levels saved")).to_be_visible()
    assert agreement.targets.get(metric="response_time", priority="P1").threshold_value == 25

    # The document and its PDF.
    page.goto(f"/agreements/{agreement.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Customer Portal – Gold"))).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("PDF")).first.click()
    download = download_info.value
    assert download.suggested_filename == f"{agreement.reference}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # A draft is the provider's: the customer sees it once it is proposed; a customer of
    # another organisation never does.
    customer = new_page()
    login(customer, "carol_customer", PASSWORD)
    customer.goto("/agreements/")
    assert customer.get_by_role("link", name=agreement.reference).count() == 0
    assert customer.goto(f"/agreements/{agreement.pk}/").status == 404
    propose_to_customer(Agreement.objects.get(pk=agreement.pk), alice_manager)
    customer.goto("/agreements/")
    expect(customer.get_by_role("link", name=agreement.reference)).to_be_visible()
    customer.get_by_role("link", name=agreement.reference).click()
    expect(customer.get_by_text("Operation of the").first).to_be_visible()
    other = new_page()
    login(other, "other_org_viewer", PASSWORD)
    other.goto("/agreements/")
    assert other.get_by_role("link", name=agreement.reference).count() == 0
    response = other.goto(f"/agreements/{agreement.pk}/")
    assert response.status == 404
    assert other.goto(f"/agreements/{agreement.pk}/pdf/").status == 404
