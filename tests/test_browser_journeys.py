"""The first hour of each role, end to end in Chromium, on a clean database.

One agreement's story, told once per role: the service manager drafts it from a tier with a
business-hours calendar and a new performance target and proposes it; the customer approver
comments, asks for a change, accepts the counter-proposal and signs; it then says "Signed,
takes effect on …" everywhere; the customer viewer finds it on the dashboard; the provider
admin invites a colleague and connects a monitoring source. Each test walks its own role in
the browser (the other roles' earlier steps are done through the services, as they would have
been in their own sessions), and every page state it visits is checked with axe-core.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements.models import Agreement, AgreementVersion
from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from monitoring.models import Source
from sla_portal.core.models import User
from sla_portal.core.notifications import deliver_due
from tests.support.actors import PASSWORD
from tests.support.agreements import complete_for_proposal
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 900}


def lifecycle_form(page, action: str):
    return page.locator(f"form[action$='/lifecycle/{action}/']")


def signed_text(start: date) -> str:
    return f"Signed, takes effect on {start.day} {start:%b %Y}"


@pytest.fixture
def starts_next_month() -> date:
    return timezone.localdate() + timedelta(days=30)


@pytest.fixture
def proposed_agreement(tiers, services, acme, alice_manager, carol_customer, starts_next_month):
    """Alice's Gold draft for Acme, complete and proposed as version 1."""
    agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Customer Portal – Gold",
        services=[services["portal"]],
        effective_from=starts_next_month,
        created_by=alice_manager,
    )
    complete_for_proposal(agreement)
    lifecycle.propose(agreement, alice_manager, note="First proposal from the Gold tier.")
    return agreement


def test_service_manager_drafts_from_a_tier_and_proposes(
    new_page, alice_manager, carol_customer, tiers, services, acme, starts_next_month
):
    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
    assert_no_axe_violations(page, "manager's Home, nothing waiting")

    # From the navigation to a new draft from the Gold tier.
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Agreements"
    ).click()
    page.get_by_role("link", name="New agreement from tier").click()
    assert_no_axe_violations(page, "new agreement form")
    page.get_by_role("combobox", name="Tier").select_option(label="Gold")
    page.get_by_role("combobox", name="Customer").select_option(label="Acme Logistics")
    page.get_by_role("textbox", name="Title").fill("Customer Portal – office hours")
    page.get_by_label("Customer Portal").check()
    page.get_by_label("Effective from").fill(starts_next_month.isoformat())
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r"/edit/terms/$"))
    agreement = Agreement.objects.get(title="Customer Portal – office hours")

    # Section 2 and 4: Berlin office hours instead of 24x7; the targets follow.
    page.goto(f"/agreements/{agreement.pk}/edit/hours/")
    page.get_by_label("24x7").uncheck()
    page.get_by_label("Berlin office hours").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Service hours saved")).to_be_visible()
    page.goto(f"/agreements/{agreement.pk}/edit/support/")
    page.get_by_label("Support calendar").select_option(label="Berlin office hours")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Support levels saved")).to_be_visible()
    expect(page.locator(".target-calendar").first).to_contain_text("Berlin office hours")
    assert_no_axe_violations(page, "support section with its calendar")

    # Section 5: a new performance target; leaving the direction empty is explained.
    page.goto(f"/agreements/{agreement.pk}/edit/performance/")
    new = page.locator("tr.target-row").last
    new.locator("select[name$='-metric']").select_option("performance")
    new.locator("input[name$='-name']").fill("Orders per minute")
    new.locator("input[name$='-target_value']").fill("120")
    new.locator("input[name$='-threshold_value']").fill("100")
    new.locator("select[name$='-unit']").select_option("count")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#error-summary")).to_contain_text("Nothing was saved")
    assert_no_axe_violations(page, "performance target without a direction")
    page.locator("tr.target-row.has-errors select[name$='-direction']").select_option("higher")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Performance saved")).to_be_visible()
    assert agreement.targets.filter(name="Orders per minute", direction="higher").exists()

    # Proposing: what is missing is listed and must be confirmed; then version 1 goes out.
    page.get_by_role("link", name="Review and propose").click()
    expect(page.locator("#proposal-gaps")).to_be_visible()
    assert_no_axe_violations(page, "lifecycle before the proposal")
    page.get_by_label(re.compile("I know these sections are incomplete")).check()
    lifecycle_form(page, "propose").locator("textarea").fill("Office hours, as discussed.")
    lifecycle_form(page, "propose").get_by_role("button", name="Send proposal").click()
    expect(page.get_by_role("alert").filter(has_text="Version 1 sent")).to_be_visible()
    # It is the customer's turn now: the manager is offered nothing of theirs.
    actions = page.locator("#actions")
    expect(actions.get_by_role("button", name=re.compile("Accept"))).to_have_count(0)
    expect(actions.get_by_text("counter-proposal")).to_have_count(0)
    assert_no_axe_violations(page, "lifecycle after proposing")

    version = AgreementVersion.objects.get(agreement=agreement)
    calendars = {t["calendar"] for t in version.snapshot["targets"] if t["section"] == "support"}
    assert calendars == {"Berlin office hours"}


def test_customer_approver_comments_asks_for_a_change_accepts_and_signs(
    new_page, proposed_agreement, alice_manager, carol_customer, starts_next_month
):
    agreement = proposed_agreement
    page = new_page(DESKTOP)
    login(page, "carol_customer", PASSWORD)

    # Home says what is waiting, and leads to it.
    panel = page.get_by_role("region", name="Waiting for you")
    expect(panel.get_by_role("heading", name=re.compile("Proposals to review"))).to_be_visible()
    assert_no_axe_violations(page, "approver's Home with a proposal waiting")
    panel.get_by_role("link", name=re.compile("Version 1 of")).click()
    page.wait_for_url(re.compile(rf"/agreements/{agreement.pk}/lifecycle/$"))
    assert_no_axe_violations(page, "lifecycle, proposal to review")

    # A comment on a section, then a change request.
    comment = page.locator("form[action$='/comments/']").last
    comment.locator("select").select_option(label="4. Support levels")
    comment.locator("textarea").fill("Who answers P1 calls at night?")
    comment.get_by_role("button", name="Add comment").click()
    expect(page.locator(".lc-comment-body", has_text="P1 calls at night")).to_be_visible()
    changes = lifecycle_form(page, "request_changes")
    changes.locator("select").select_option(label="4. Support levels")
    changes.locator("textarea").fill("P1 response must be 10 minutes, not 15.")
    changes.get_by_role("button", name="Request changes").click()
    expect(page.get_by_role("alert").filter(has_text="Change request")).to_be_visible()
    assert_no_axe_violations(page, "lifecycle after a change request")

    # The provider answers with version 2 (in the manager's own session).
    p1 = agreement.targets.get(metric="response_time", priority="P1")
    p1.target_value = 10
    p1.save()
    lifecycle.propose(agreement, alice_manager, note="P1 in 10 minutes, as asked.")

    page.reload()
    page.get_by_role("button", name="Accept version 2").click()
    expect(page.get_by_role("alert").filter(has_text="accepted")).to_be_visible()
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.get_by_role("alert").filter(has_text="You signed version 2")).to_be_visible()
    assert_no_axe_violations(page, "lifecycle after signing")

    # The provider's signatory signs last; from then on the agreement says the truth.
    lifecycle.sign(agreement, alice_manager)
    signed = signed_text(starts_next_month)
    page.reload()
    expect(page.locator("header").get_by_text(signed)).to_be_visible()
    expect(page.locator("header")).not_to_contain_text("awaiting signatures")
    page.goto("/agreements/")
    expect(page.locator("tr", has_text=agreement.reference).get_by_text(signed)).to_be_visible()
    assert_no_axe_violations(page, "agreement list, signed")


def test_customer_viewer_finds_the_signed_agreement_on_the_dashboard(
    new_page, proposed_agreement, alice_manager, carol_customer, victor_viewer, starts_next_month
):
    agreement = proposed_agreement
    lifecycle.accept(agreement, carol_customer, 1)
    lifecycle.sign(agreement, carol_customer)
    lifecycle.sign(agreement, alice_manager)
    signed = signed_text(starts_next_month)

    page = new_page(DESKTOP)
    login(page, "victor_viewer", PASSWORD)
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Dashboard"
    ).click()
    expect(page.get_by_text(agreement.title).first).to_be_visible()
    expect(page.get_by_text(signed).first).to_be_visible()
    assert_no_axe_violations(page, "viewer's dashboard")

    # A viewer reads; nothing is offered to act on.
    page.goto(f"/agreements/{agreement.pk}/lifecycle/")
    expect(page.locator("header").get_by_text(signed)).to_be_visible()
    for action in ("Accept", "Sign", "Request changes", "Send proposal"):
        expect(page.get_by_role("button", name=re.compile(action))).to_have_count(0)
    assert_no_axe_violations(page, "viewer's lifecycle page")


def test_provider_admin_invites_a_colleague_and_connects_a_source(
    new_page, live_server, settings, smtp_server, ada_admin, acme, carol_customer
):
    settings.SITE_URL = live_server.url
    page = new_page(DESKTOP)
    login(page, "ada_admin", PASSWORD)
    nav = page.get_by_role("navigation", name="Main navigation")

    # Organisations → Acme → invite a person; the invitation arrives and sets a password.
    nav.get_by_role("link", name="Organisations").click()
    page.get_by_role("link", name="Acme Logistics").click()
    page.get_by_role("link", name="Invite a person").click()
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("Email").fill("nina@acme.example")
    page.get_by_label("Role").select_option(label="Customer viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to nina@acme.example")).to_be_visible()
    assert_no_axe_violations(page, "organisation page after an invitation")
    deliver_due()
    [mail] = smtp_server.to("nina@acme.example")
    link = re.search(r"http\S+/accounts/invitation/\S+/", mail.get_body(("plain",)).get_content())
    nina = new_page(DESKTOP)
    nina.goto(link.group(0))
    nina.locator("#id_new_password1").fill("Harbour-lights-2026")
    nina.locator("#id_new_password2").fill("Harbour-lights-2026")
    nina.get_by_role("button", name="Set password").click()
    expect(nina.get_by_text("Your password is set")).to_be_visible()
    assert User.objects.get(email="nina@acme.example").has_usable_password()

    # Monitoring → Sources → a new Alertmanager webhook for Acme; its secret is shown once.
    nav.get_by_role("button", name="Monitoring").click()
    nav.get_by_role("link", name="Sources", exact=True).click()
    page.get_by_role("link", name="New source").click()
    assert_no_axe_violations(page, "new source: choose a kind")
    page.get_by_role("link", name="Choose webhook").click()
    page.get_by_label("Customer").select_option(label="Acme Logistics")
    page.get_by_label("Kind").select_option(label="Prometheus Alertmanager")
    page.get_by_label("Name").fill("Acme Alertmanager")
    page.get_by_role("button", name="Create source").click()
    expect(page.get_by_role("heading", name="Signing secret: shown only now")).to_be_visible()
    source = Source.objects.get(name="Acme Alertmanager")
    assert source.signing_secret in page.content()
    assert_no_axe_violations(page, "source created, secret shown once")
    page.reload()
    assert source.signing_secret not in page.content()
