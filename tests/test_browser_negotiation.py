"""Negotiation and sign-off in the browser, both sides: the manager proposes and is offered
nothing of the customer's; a comment thread is answered and resolved; the approver requests a
change, accepts the counter-proposal and signs; the signed agreement says when it takes
effect, on the page, in the list and on a phone."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements.models import Agreement
from tests.support.actors import PASSWORD
from tests.support.agreements import complete_for_proposal
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = DOCS_SCREENSHOTS
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def keep(page, name: str) -> None:
    """A screenshot in test-artifacts/ and, for the record, in docs/screenshots/."""
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot(page, name), DOCS / f"{name}.png")


def form(page, action: str):
    return page.locator(f"form[action$='/lifecycle/{action}/']")


def thread_of(page, text: str):
    return page.locator(".lc-thread", has=page.locator(".lc-comment-body", has_text=text))


def test_negotiation_and_sign_off_both_sides(
    new_page, acme_agreement, alice_manager, ada_admin, carol_customer
):
    agreement = acme_agreement
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the change advisory board."
    complete_for_proposal(agreement)  # every section complete: no gaps to confirm
    lifecycle_url = f"/agreements/{agreement.pk}/lifecycle/"

    manager = new_page(viewport=DESKTOP)
    login(manager, "alice_manager", PASSWORD)
    admin = new_page(viewport=DESKTOP)
    login(admin, "ada_admin", PASSWORD)
    customer = new_page(viewport=DESKTOP)
    login(customer, "carol_customer", PASSWORD)

    # Before it is proposed, the draft does not exist for the customer.
    response = customer.goto(lifecycle_url)
    assert response is not None and response.status == 404

    # The manager proposes, and is then offered nothing of the customer's to do.
    manager.goto(lifecycle_url)
    form(manager, "propose").locator("textarea").fill("First proposal from the Gold tier.")
    form(manager, "propose").get_by_role("button", name="Send proposal").click()
    expect(manager.get_by_role("alert").filter(has_text="Version 1 sent")).to_be_visible()
    actions = manager.locator("#actions")
    expect(actions.get_by_role("button", name=re.compile("Accept"))).to_have_count(0)
    expect(actions.get_by_text("counter-proposal")).to_have_count(0)
    expect(actions.get_by_text("Version 1 is with Acme Logistics")).to_be_visible()
    assert_no_axe_violations(manager, "lifecycle, manager after proposing")

    # The approver comments on a section; another provider user replies; the thread is
    # resolved and folds away.
    customer.goto(lifecycle_url)
    comment = customer.locator("form[action$='/comments/']").last
    comment.locator("select").select_option(label="3. Availability")
    comment.locator("textarea").fill("Is the monthly maintenance window announced in advance?")
    comment.get_by_role("button", name="Add comment").click()
    expect(thread_of(customer, "announced in advance")).to_be_visible()

    admin.goto(lifecycle_url)
    thread = thread_of(admin, "announced in advance")
    thread.locator("summary", has_text="Reply").click()
    thread.get_by_label("Your reply").fill("Yes: at least five days ahead, by email.")
    thread.get_by_role("button", name="Send reply").click()
    expect(admin.get_by_role("alert").filter(has_text="Reply added")).to_be_visible()

    customer.goto(lifecycle_url)
    thread = thread_of(customer, "announced in advance")
    expect(thread.get_by_text("at least five days ahead")).to_be_visible()
    expect(customer.get_by_role("heading", name=re.compile(r"3\. Availability"))).to_be_visible()
    thread.scroll_into_view_if_needed()
    assert_no_axe_violations(customer, "lifecycle, open comment thread")
    thread.screenshot(path=str(DOCS / "lifecycle-comment-thread.png"))
    thread.get_by_role("button", name=re.compile("Resolve")).click()
    expect(customer.get_by_role("alert").filter(has_text="Thread resolved")).to_be_visible()
    resolved = customer.locator("details.lc-thread-resolved")
    expect(resolved).to_have_count(1)
    expect(resolved.get_by_text("at least five days ahead")).not_to_be_visible()  # folded
    expect(resolved.locator("summary")).to_contain_text("Resolved by Carol Customer")
    resolved.locator("summary").click()
    expect(resolved.get_by_text("at least five days ahead")).to_be_visible()
    resolved.screenshot(path=str(DOCS / "lifecycle-comment-thread-resolved.png"))
    assert_no_axe_violations(customer, "lifecycle, resolved thread opened")

    # The approver requests a change: a later start. It is the provider's turn again.
    changes = form(customer, "request_changes")
    changes.locator("select").select_option(label="General (the whole agreement)")
    changes.locator("textarea").fill("Please start one month from now, after our migration.")
    changes.get_by_role("button", name="Request changes").click()
    expect(customer.get_by_role("alert").filter(has_text="Change request")).to_be_visible()

    start = timezone.localdate() + timedelta(days=30)
    working = Agreement.objects.get(pk=agreement.pk)
    working.effective_from = start
    working.effective_to = None
    working.save()
    manager.goto(lifecycle_url)
    propose = form(manager, "propose")
    expect(propose.get_by_text("Send a counter-proposal (version 2)")).to_be_visible()
    propose.locator("textarea").fill("Starts one month from now, as asked.")
    propose.get_by_role("button", name="Send proposal").click()
    expect(manager.get_by_role("alert").filter(has_text="Version 2 sent")).to_be_visible()

    # The approver accepts version 2 and signs; the provider's signatory signs.
    customer.goto(lifecycle_url)
    customer.get_by_role("button", name="Accept version 2").click()
    expect(customer.get_by_role("alert").filter(has_text="accepted")).to_be_visible()
    customer.get_by_role("button", name="Sign version 2").click()
    expect(customer.get_by_role("alert").filter(has_text="You signed version 2")).to_be_visible()
    manager.goto(lifecycle_url)
    manager.get_by_role("button", name="Sign version 2").click()
    expect(manager.get_by_role("alert").filter(has_text="takes effect on")).to_be_visible()

    # Signed, and taking effect on its date: the header, the status, the list.
    signed = f"Signed, takes effect on {start.day} {start:%b %Y}"
    customer.goto(lifecycle_url)
    expect(customer.locator("header").get_by_text(signed)).to_be_visible()
    expect(customer.locator("#status")).to_contain_text(signed)
    # (The timeline keeps its record of the moment it was agreed and awaited signatures.)
    for where in (customer.locator("header"), customer.locator("#status")):
        expect(where).not_to_contain_text("awaiting signatures")
        expect(where).not_to_contain_text("becomes binding when every signatory")
    assert_no_axe_violations(customer, "lifecycle, signed and taking effect later")
    keep(customer, "lifecycle-signed-future-desktop")

    manager.goto("/agreements/")
    row = manager.locator("tr", has_text=agreement.reference)
    expect(row.get_by_text(signed)).to_be_visible()
    assert_no_axe_violations(manager, "agreement list with a signed agreement")
    keep(manager, "agreement-list-signed-future")

    # On a phone: the tabs and the versions table can be read and used without the page
    # scrolling sideways.
    phone = new_page(viewport=PHONE)
    login(phone, "carol_customer", PASSWORD)
    phone.goto(lifecycle_url)
    expect(phone.locator("header").get_by_text(signed)).to_be_visible()
    tabs = phone.get_by_role("navigation", name="Agreement pages")
    for name in ("Document", "Lifecycle", "Versions", "History", "Escalation"):
        link = tabs.get_by_role("link", name=name)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    versions = phone.locator("#versions")
    for version in ("1", "2"):
        card = versions.locator(f"[data-version='{version}']")
        expect(card).to_be_visible()
        box = card.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    expect(versions.get_by_text("Customer: Carol Customer")).to_be_visible()
    expect(versions.get_by_role("link", name=re.compile("Compare with 1"))).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_no_axe_violations(phone, "lifecycle on a phone")
    keep(phone, "lifecycle-signed-future-phone")
    phone.screenshot(path=str(DOCS / "lifecycle-phone-top.png"))  # the first screen
    versions.screenshot(path=str(DOCS / "lifecycle-phone-versions.png"))
