"""One agreement through the whole lifecycle in the browser: a service manager and a customer
approver in separate browser contexts, a real Celery worker delivering the emails to a real
SMTP server, and a finalized version that nothing can change."""

import re

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from playwright.sync_api import expect
from rest_framework.test import APIClient

from agreements.models import Agreement, AgreementVersion
from agreements.snapshot import content_hash
from tests.support.actors import PASSWORD
from tests.support.agreements import complete_for_proposal
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def form(page, action: str):
    return page.locator(f"form[action$='/lifecycle/{action}/']")


def test_the_whole_lifecycle_with_emails(
    new_page, smtp_server, celery_worker, mailer, acme_agreement, alice_manager, carol_customer
):
    agreement = acme_agreement
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the change advisory board."
    complete_for_proposal(agreement)  # every section complete: no gaps to confirm
    lifecycle_url = f"/agreements/{agreement.pk}/lifecycle/"

    manager = new_page()
    login(manager, "alice_manager", PASSWORD)
    customer = new_page()
    login(customer, "carol_customer", PASSWORD)

    # Negotiate: propose version 1.
    manager.goto(lifecycle_url)
    form(manager, "propose").locator("textarea").fill("First proposal from the Gold tier.")
    form(manager, "propose").get_by_role("button", name="Send proposal").click()
    expect(manager.get_by_text("Version 1").first).to_be_visible()

    # The customer comments on a section and requests a change.
    customer.goto(lifecycle_url)
    comment = customer.locator("form[action$='/comments/']")
    comment.locator("select").select_option(label="4. Support levels")
    comment.locator("textarea").fill("Who answers P1 calls at night?")
    comment.get_by_role("button", name="Add comment").click()
    expect(
        customer.locator(".lc-comment-body", has_text="Who answers P1 calls at night?")
    ).to_be_visible()
    changes = form(customer, "request_changes")
    changes.locator("select").select_option(label="4. Support levels")
    changes.locator("textarea").fill("P1 response must be 10 minutes, not 15.")
    changes.get_by_role("button", name="Request changes").click()
    expect(
        customer.locator(".lc-comment-body", has_text="P1 response must be 10 minutes, not 15.")
    ).to_be_visible()

    # Counter-proposal: the manager edits the P1 target and sends version 2.
    manager.goto(f"/agreements/{agreement.pk}/edit/support/")
    p1 = (
        manager.locator("table.table-targets tbody tr")
        .filter(has=manager.locator("select[name$='-priority'] option[selected][value='P1']"))
        .first
    )
    p1.locator("input[name$='-target_value']").fill("10")
    manager.get_by_role("button", name="Save draft").click()
    expect(manager.get_by_text("Send a new proposal when your changes are ready")).to_be_visible()
    manager.goto(lifecycle_url)
    form(manager, "propose").locator("textarea").fill("P1 response is now 10 minutes.")
    form(manager, "propose").get_by_role("button", name="Send proposal").click()
    expect(manager.get_by_text("Version 2").first).to_be_visible()

    # The side-by-side diff of the two versions.
    customer.goto(f"/agreements/{agreement.pk}/versions/compare/?a=1&b=2")
    expect(customer.get_by_text(re.compile(r"Response time \(P1\).*target value"))).to_be_visible()
    screenshot(customer, "lifecycle-compare")

    # Finalize: the customer accepts the provider's version 2 (proposing it was the
    # provider's acceptance), then both signatories sign.
    customer.goto(lifecycle_url)
    customer.get_by_role("button", name="Accept version 2").click()
    expect(customer.get_by_text("Agreed (awaiting signatures)").first).to_be_visible()
    manager.goto(lifecycle_url)
    expect(manager.get_by_role("button", name="Accept version 2")).to_have_count(0)
    manager.get_by_role("button", name="Sign version 2").click()
    customer.goto(lifecycle_url)
    customer.get_by_role("button", name="Sign version 2").click()
    expect(customer.get_by_text("Active").first).to_be_visible()
    screenshot(customer, "lifecycle-active")

    version = AgreementVersion.objects.get(agreement=agreement, number=2)
    agreement.refresh_from_db()
    assert agreement.status == "active" and agreement.in_force_version == version
    customer.goto(f"/agreements/{agreement.pk}/")
    expect(customer.get_by_text(version.content_hash).first).to_be_visible()

    # The finalized version cannot be changed: not in the editor, the API or the ORM.
    manager.goto(f"/agreements/{agreement.pk}/edit/support/")
    expect(
        manager.get_by_text("can only be changed while it is drafted or negotiated")
    ).to_be_visible()
    api = APIClient()
    api.force_authenticate(alice_manager)
    url = f"/api/agreements/{agreement.pk}/versions/2/"
    assert api.patch(url, {"note": "changed"}, format="json").status_code == 405
    assert api.delete(url).status_code == 405
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AgreementVersion.objects.filter(pk=version.pk).update(snapshot={"schema": 1})
    version.refresh_from_db()
    assert version.content_hash == content_hash(version.snapshot)

    # Review, then renegotiate: the signed version stays in force.
    manager.goto(lifecycle_url)
    form(manager, "start_review").get_by_role("button", name="Start review").click()
    expect(manager.get_by_text("Review started")).to_be_visible()
    manager.get_by_label("Findings").fill("P1 response missed twice in the period.")
    manager.get_by_role("button", name="Renegotiate").click()
    expect(manager.get_by_text("Renegotiating").first).to_be_visible()
    agreement.refresh_from_db()
    assert agreement.status == "renegotiating"
    assert agreement.in_force_version == version
    screenshot(manager, "lifecycle-renegotiating")

    # Emails arrived through the worker and the SMTP server, one per event and person.
    expected = {
        ("carol_customer@acme.example", "version 1 proposed"),
        ("carol_customer@acme.example", "version 2 proposed"),
        ("alice_manager@northwind.example", "requests changes to version 1"),
        ("alice_manager@northwind.example", "accepted by both sides"),
        ("carol_customer@acme.example", "accepted by both sides"),
        ("alice_manager@northwind.example", "signed by Alice Manager"),
        ("carol_customer@acme.example", "signed by Alice Manager"),
        ("alice_manager@northwind.example", "signed by Carol Customer"),
        ("carol_customer@acme.example", "signed by Carol Customer"),
        ("alice_manager@northwind.example", "is active"),
        ("carol_customer@acme.example", "is active"),
    }
    smtp_server.wait_for(len(expected), timeout=30)
    received = [(r.recipients[0].lower(), r.message) for r in smtp_server.received]
    for address, words in expected:
        matching = [m for to, m in received if to == address and words in m["Subject"]]
        assert len(matching) == 1, (address, words, [m["Subject"] for _t, m in received])
        message = matching[0]
        assert message.get_content_type() == "multipart/alternative"
        assert (
            f"/agreements/{agreement.pk}/lifecycle/" in message.get_body(("plain",)).get_content()
        )
        assert message.get_body(("html",)) is not None
    assert len(received) == len(expected)
    assert Agreement.objects.get(pk=agreement.pk).status == "renegotiating"
