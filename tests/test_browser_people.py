"""In Chromium: the provider admin invites a person by email, the person sets a password from
the email's link and logs in, the admin deactivates them; and each role's Home shows what is
waiting for them."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import expect

from agreements.services import lifecycle
from monitoring.models import EscalationContact, ImportJob
from sla_portal.core.notifications import deliver_due
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Harbour-lights-2026"


def test_admin_invites_a_person_who_sets_a_password_logs_in_and_is_deactivated(
    new_page, live_server, settings, smtp_server, ada_admin, active_acme_agreement, tom_team
):
    settings.SITE_URL = live_server.url  # the email's link must reach this server
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level="breached", email="duty-desk@acme.example"
    )
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level="warning", user=tom_team
    )
    admin = new_page({"width": 1440, "height": 900})
    login(admin, "ada_admin", PASSWORD)

    # Organisations opens the portal's page, never the API's.
    admin.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Organisations"
    ).click()
    expect(admin.get_by_role("heading", name="Organisations")).to_be_visible()
    assert "/api/" not in admin.url
    admin.get_by_role("link", name="Acme Logistics").click()
    expect(admin.get_by_role("heading", name="People")).to_be_visible()
    signatories = admin.get_by_role("region", name="Signatories")
    expect(signatories.get_by_role("cell", name="Carol Customer").first).to_be_visible()
    escalation = admin.get_by_role("region", name="Escalation contacts")
    expect(escalation.get_by_text("duty-desk@acme.example")).to_be_visible()
    assert_no_axe_violations(admin, "organisation page (admin)")

    admin.get_by_role("link", name="Invite a person").click()
    admin.get_by_label("First name").fill("Nina")
    admin.get_by_label("Last name").fill("Newcomer")
    admin.get_by_label("Email").fill("nina@acme.example")
    admin.get_by_label("Role").select_option(label="Customer viewer")
    admin.get_by_label("Job title").fill("Logistics planner")
    assert_no_axe_violations(admin, "invite form")
    screenshot(admin, "people-invite-form")
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text("Invitation sent to nina@acme.example")).to_be_visible()
    row = admin.get_by_role("row", name=re.compile("Nina Newcomer"))
    expect(row.get_by_text("Invited, no password yet")).to_be_visible()
    assert_no_axe_violations(admin, "organisation page after an invitation")
    screenshot(admin, "people-organisation-page")

    # The email goes out through the Notification rows, over SMTP.
    deliver_due()
    [mail] = smtp_server.to("nina@acme.example")
    assert "Ada Admin invited you to SLA Portal" in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"http\S+/accounts/invitation/\S+/", text).group(0)
    assert link.startswith(live_server.url)
    phone = new_page({"width": 390, "height": 844})
    login(phone, "ada_admin", PASSWORD)
    phone.goto("/organisations/acme/")
    assert_no_axe_violations(phone, "organisation page on a phone")
    screenshot(phone, "people-organisation-page-phone")

    # Nina chooses her password from the link, then logs in with her email as username.
    nina = new_page({"width": 1440, "height": 900})
    nina.goto(link)
    expect(nina.get_by_role("heading", name="Welcome to SLA Portal")).to_be_visible()
    assert_no_axe_violations(nina, "set-password page")
    screenshot(nina, "people-set-password")
    nina.locator("#id_new_password1").fill(NEW_PASSWORD)
    nina.locator("#id_new_password2").fill(NEW_PASSWORD)
    nina.get_by_role("button", name="Set password").click()
    expect(nina.get_by_text("Your password is set")).to_be_visible()
    login(nina, "nina@acme.example", NEW_PASSWORD)
    expect(nina.get_by_role("heading", name="Welcome, Nina Newcomer")).to_be_visible()
    expect(nina.get_by_text("Nothing is waiting for you.")).to_be_visible()

    # The admin deactivates her: her session ends and she cannot log in again.
    admin.reload()
    row = admin.get_by_role("row", name=re.compile("Nina Newcomer"))
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    row.get_by_role("button", name="Deactivate Nina Newcomer").click()
    expect(
        admin.get_by_text("Nina Newcomer is deactivated and can no longer log in.")
    ).to_be_visible()
    expect(
        admin.get_by_role("row", name=re.compile("Nina Newcomer")).get_by_text("Deactivated")
    ).to_be_visible()
    nina.goto("/")
    assert "/accounts/login/" in nina.url
    nina.get_by_label("Username").fill("nina@acme.example")
    nina.get_by_label("Password").fill(NEW_PASSWORD)
    nina.get_by_role("button", name="Log in").click()
    expect(nina.locator(".alert-danger, .invalid-feedback, .errorlist").first).to_be_visible()
    assert "/accounts/login/" in nina.url


def _failed_import(source, user) -> ImportJob:
    job = ImportJob(
        source=source,
        format=ImportJob.Format.SERVICENOW,
        status=ImportJob.Status.REFUSED,
        created_by=user,
        problems=[{"row": 7, "error": "opened_at is not a date"}],
        finished_at=timezone.now(),
    )
    job.file.save("incidents.csv", ContentFile(b"number\n"), save=False)
    job.save()
    return job


def test_home_shows_each_role_what_is_waiting_and_the_navigation_counts_it(
    new_page, acme_agreement, alice_manager, carol_customer, victor_viewer, acme_desk
):
    agreement = acme_agreement
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the change advisory board."
    agreement.save()
    lifecycle.propose(agreement, alice_manager, note="First proposal from the Gold tier.")

    approver = new_page({"width": 1440, "height": 900})
    login(approver, "carol_customer", PASSWORD)
    panel = approver.get_by_role("region", name="Waiting for you")
    expect(panel.get_by_role("heading", name=re.compile("Proposals to review"))).to_be_visible()
    expect(panel.get_by_role("link", name=re.compile("Version 1 of"))).to_be_visible()
    nav = approver.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Inbox 1 item waiting for you")).to_be_visible()
    assert_no_axe_violations(approver, "home of the approver with a proposal waiting")
    screenshot(approver, "home-inbox-approver")
    # Elsewhere the count arrives once the page has loaded.
    approver.goto("/agreements/")
    expect(nav.get_by_role("link", name="Inbox 1 item waiting for you")).to_be_visible()
    approver.goto("/")
    approver.get_by_role("region", name="Waiting for you").get_by_role(
        "link", name=re.compile("Version 1 of")
    ).click()
    assert approver.url.endswith(f"/agreements/{agreement.pk}/lifecycle/")

    lifecycle.request_changes(
        agreement, carol_customer, "P1 response must be 10 minutes, not 15.", "support"
    )
    _failed_import(acme_desk, alice_manager)
    manager = new_page({"width": 1440, "height": 900})
    login(manager, "alice_manager", PASSWORD)
    panel = manager.get_by_role("region", name="Waiting for you")
    expect(panel.get_by_role("heading", name=re.compile("Proposals to answer"))).to_be_visible()
    expect(panel.get_by_text(re.compile("P1 response must be 10 minutes"))).to_be_visible()
    expect(panel.get_by_role("heading", name=re.compile("Imports that failed"))).to_be_visible()
    expect(
        manager.get_by_role("navigation", name="Main navigation").get_by_role(
            "link", name="Inbox 2 items waiting for you"
        )
    ).to_be_visible()
    assert_no_axe_violations(manager, "home of the manager with a change request and an import")
    screenshot(manager, "home-inbox-manager")
    manager.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name=re.compile("^Inbox")
    ).click()
    expect(manager.get_by_role("heading", name="Waiting for you")).to_be_visible()
    assert_no_axe_violations(manager, "inbox page")
    screenshot(manager, "inbox-manager")

    viewer = new_page({"width": 390, "height": 844})
    login(viewer, "victor_viewer", PASSWORD)
    expect(viewer.get_by_text("Nothing is waiting for you.")).to_be_visible()
    assert_no_axe_violations(viewer, "home with nothing waiting (phone)")
    screenshot(viewer, "home-inbox-empty-phone")
