"""The lifecycle pages: negotiate, sign, monitor and review an agreement in the browser's terms.

Each test drives the views as the person named in it; the rules themselves are the lifecycle
services' (tested with them), so these tests check that the pages offer the right actions,
pass the right person to the services and show what happened.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from playwright.sync_api import expect

from agreements import lifecycle as machine
from agreements.models import (
    Agreement,
    AgreementVersion,
    CalendarHours,
    ClosureDate,
    Comment,
    Review,
    ReviewAction,
    SupportingAgreement,
)
from agreements.services import comments as comment_services
from agreements.services import lifecycle as services
from agreements.services import reviews as review_services
from sla_portal.core.models import Notification
from tests.support.actors import PASSWORD
from tests.support.agreements import complete_for_proposal
from tests.support.browser import login, screenshot

SERVICE_DESCRIPTION = "Operation of the customer portal for Acme's customers and partners."
CHANGE_POLICY = "Normal changes are announced 10 working days ahead and approved by the CAB."
COUNTER_POLICY = (
    "Normal changes are announced 15 working days ahead and approved by the CAB and Acme."
)


# --- Helpers -------------------------------------------------------------------------------


def proposable(agreement: Agreement) -> Agreement:
    """The Gold draft with the two sections the tier cannot fill in for the customer."""
    agreement.service_description = SERVICE_DESCRIPTION
    agreement.change_policy = CHANGE_POLICY
    return complete_for_proposal(agreement)


def act(client, agreement: Agreement, action: str, **data):
    """POST one lifecycle action and follow the redirect back to a page."""
    return client.post(
        reverse("agreements:transition", args=[agreement.pk, action]), data, follow=True
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def page(client, name: str, agreement: Agreement, *args, **query) -> str:
    response = client.get(reverse(f"agreements:{name}", args=[agreement.pk, *args]), query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The text of a PDF, without any spacing (a long fingerprint may wrap anywhere)."""
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return re.sub(r"\s+", "", result.stdout.decode())


def refreshed(agreement: Agreement) -> Agreement:
    return Agreement.objects.get(pk=agreement.pk)


@pytest.fixture
def negotiating(acme_agreement, alice_manager):
    """Acme's agreement sent to the customer as version 1."""
    agreement = proposable(acme_agreement)
    services.propose(agreement, alice_manager, note="First proposal")
    return refreshed(agreement)


@pytest.fixture
def agreed(negotiating, alice_manager, carol_customer):
    services.accept(negotiating, carol_customer, 1)
    return refreshed(negotiating)


@pytest.fixture
def in_force(agreed, alice_manager, carol_customer):
    services.sign(agreed, alice_manager)
    services.sign(agreed, carol_customer)
    agreement = refreshed(agreed)
    assert agreement.status == machine.ACTIVE
    return agreement


pytestmark = pytest.mark.django_db


# --- The lifecycle page --------------------------------------------------------------------


def test_manager_sees_the_stage_strip_and_can_send_the_draft(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    html = page(client, "lifecycle", acme_agreement)

    current = re.search(
        r'<li class="stage stage-current" aria-current="step"[^>]*>(.*?)</li>', html
    )
    assert current and "Negotiate" in current.group(1) and "Current stage" in current.group(1)
    assert html.count('aria-current="step"') == 1
    assert "Send proposal" in html
    assert "No version has been proposed yet" in html


def test_stage_strip_lists_the_stages_of_the_state_machine_in_order(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    html = page(client, "lifecycle", acme_agreement)
    assert re.findall(r'data-stage="(\w+)"', html) == list(machine.STAGES)


def test_customer_reads_the_lifecycle_of_its_own_agreement_without_manager_actions(
    client, victor_viewer, negotiating
):
    client.force_login(victor_viewer)
    html = page(client, "lifecycle", negotiating)
    assert "Version 1 is under negotiation" in html
    assert "Send proposal" not in html
    assert "Request changes" not in html  # a viewer is not an approver
    assert "Add a comment" in html  # but anyone who can see it may comment


def test_other_organisations_customer_gets_404_everywhere(
    client, other_org_viewer, in_force, alice_manager
):
    review = review_services.review_start(in_force, alice_manager)
    client.force_login(other_org_viewer)
    pk = in_force.pk
    for url in (
        reverse("agreements:lifecycle", args=[pk]),
        reverse("agreements:compare", args=[pk]),
        reverse("agreements:history", args=[pk]),
        reverse("agreements:review", args=[pk, review.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("agreements:transition", args=[pk, "accept"]),
        reverse("agreements:comment", args=[pk]),
    ):
        assert client.post(url, {"version": 1, "comment-body": "hello"}).status_code == 404, url
    assert not Comment.objects.exists()


def test_lifecycle_page_needs_a_fixed_number_of_queries(
    client, alice_manager, carol_customer, negotiating, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    url = reverse("agreements:lifecycle", args=[negotiating.pk])
    # 16 before issue 13, plus two for the proposal's checklist of incomplete sections
    # (related-list counts in one query, the targets in another), shown to managers.
    with django_assert_max_num_queries(18):
        client.get(url)

    def one_more_round(n: int) -> None:
        negotiating.refresh_from_db()  # the services changed the row: never save a stale copy
        negotiating.change_policy = f"{CHANGE_POLICY} Revision {n}."
        negotiating.save()
        services.request_changes(negotiating, carol_customer, f"Please change {n}")
        SupportingAgreement.objects.create(
            agreement=negotiating, kind="ola", reference=f"OLA-{n}", party="Network team"
        )
        services.propose(negotiating, alice_manager, note=f"Revision {n}")
        comment_services.comment_add(negotiating, carol_customer, "support", f"Remark {n}")

    # Measured first after one round, so both measurements show the page in the same state
    # (which actions and checklists are offered depends on whose turn it is: a supporting
    # agreement added after the last proposal is an unsent edit, so each round sends it).
    one_more_round(0)
    with CaptureQueriesContext(connection) as before:
        client.get(url)

    # More of everything the page lists: versions, acceptances, comments, emails, reviews.
    for n in range(1, 4):
        one_more_round(n)

    with CaptureQueriesContext(connection) as after:
        response = client.get(url)
    assert "Revision 3" in response.content.decode()
    assert len(after) == len(before)


# --- Negotiate -----------------------------------------------------------------------------


def test_propose_creates_version_1_and_starts_the_negotiation(
    client, alice_manager, carol_customer, acme_agreement
):
    proposable(acme_agreement)
    client.force_login(alice_manager)
    response = act(client, acme_agreement, "propose", **{"propose-note": "For your review"})

    assert response.redirect_chain[-1][1] == 303
    assert "Version 1 sent to Acme Logistics." in messages_of(response)
    version = AgreementVersion.objects.get(agreement=acme_agreement)
    assert (version.number, version.note, version.proposed_by) == (
        1,
        "For your review",
        alice_manager,
    )
    assert refreshed(acme_agreement).status == machine.IN_NEGOTIATION
    # The customer's approver is told, through a stored notification.
    assert Notification.objects.filter(
        kind="agreement.proposal_sent", recipient=carol_customer.email
    ).exists()


def test_an_incomplete_draft_is_not_sent_and_the_page_says_why(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    response = act(client, acme_agreement, "propose")

    assert any(m.startswith("Before proposing, complete") for m in messages_of(response))
    assert not AgreementVersion.objects.exists()
    assert refreshed(acme_agreement).status == machine.DRAFT


def test_customer_approver_requests_changes(client, carol_customer, negotiating, alice_manager):
    client.force_login(carol_customer)
    response = act(
        client,
        negotiating,
        "request_changes",
        **{"changes-section": "changes", "changes-body": "Fifteen days of notice, please."},
    )

    assert "Change request on version 1 sent to the provider." in messages_of(response)
    comment = Comment.objects.get()
    assert (comment.author, comment.section, comment.requests_change, comment.version.number) == (
        carol_customer,
        "changes",
        True,
        1,
    )
    assert Notification.objects.filter(
        kind="agreement.changes_requested", recipient=alice_manager.email
    ).exists()
    html = response.content.decode()
    assert "Fifteen days of notice, please." in html and "Change requested" in html


def test_customer_viewer_cannot_request_changes(client, victor_viewer, negotiating):
    client.force_login(victor_viewer)
    response = act(
        client, negotiating, "request_changes", **{"changes-body": "I want more availability."}
    )

    assert "Only a customer approver may request changes." in messages_of(response)
    assert not Comment.objects.exists()


def test_anyone_who_sees_the_agreement_may_comment(client, victor_viewer, negotiating):
    client.force_login(victor_viewer)
    response = client.post(
        reverse("agreements:comment", args=[negotiating.pk]),
        {"comment-section": "support", "comment-body": "Is chat support included?"},
        follow=True,
    )
    assert "Comment added." in messages_of(response)
    comment = Comment.objects.get()
    assert (comment.section, comment.requests_change) == ("support", False)
    assert "4. Support levels" in response.content.decode()


def test_an_empty_comment_is_refused(client, victor_viewer, negotiating):
    client.force_login(victor_viewer)
    response = client.post(
        reverse("agreements:comment", args=[negotiating.pk]),
        {"comment-section": "general", "comment-body": "   "},
        follow=True,
    )
    assert "A comment needs some text." in messages_of(response)
    assert not Comment.objects.exists()


def test_counter_proposal_gives_version_2_and_the_comparison_shows_each_word(
    client, alice_manager, negotiating
):
    negotiating.change_policy = COUNTER_POLICY
    negotiating.save()
    client.force_login(alice_manager)
    response = act(client, negotiating, "propose", **{"propose-note": "Longer notice"})
    assert "Version 2 sent to Acme Logistics." in messages_of(response)
    assert refreshed(negotiating).status == machine.IN_NEGOTIATION

    html = page(client, "compare", negotiating)  # default: the latest against the one before
    assert "10. Changes" in html
    assert "Change policy" in html
    assert '<del><span class="visually-hidden">removed: </span>10</del>' in html
    assert '<ins><span class="visually-hidden">added: </span>15</ins>' in html
    assert re.search(r"<ins>.*and Acme\.</ins>", html)
    # Unchanged words are not marked.
    assert '<del><span class="visually-hidden">removed: </span>Normal' not in html


def test_compare_lets_any_two_versions_be_chosen_and_rejects_unknown_ones(
    client, alice_manager, negotiating
):
    negotiating.change_policy = COUNTER_POLICY
    negotiating.save()
    services.propose(negotiating, alice_manager)
    client.force_login(alice_manager)

    html = page(client, "compare", negotiating, a=2, b=1)
    assert '<option value="2" selected>' in html and "Version 2" in html
    first = page(client, "compare", negotiating, b=1)
    assert "first proposal" in first
    url = reverse("agreements:compare", args=[negotiating.pk])
    assert client.get(url, {"a": 9}).status_code == 400


def test_an_old_page_cannot_accept_a_newer_proposal(
    client, alice_manager, carol_customer, negotiating
):
    negotiating.change_policy = COUNTER_POLICY
    negotiating.save()
    services.propose(negotiating, alice_manager)
    client.force_login(carol_customer)
    response = act(client, negotiating, "accept", version=1)

    assert "Version 1 is not the one under negotiation (version 2)." in messages_of(response)
    assert not AgreementVersion.objects.get(number=2).acceptances.exists()


def test_who_acts_is_the_signed_in_user_not_a_posted_field(
    client, alice_manager, carol_customer, negotiating
):
    client.force_login(carol_customer)
    act(client, negotiating, "accept", version=1, user=alice_manager.pk, side="provider")
    acceptance = AgreementVersion.objects.get(number=1).acceptances.get()
    assert (acceptance.user, acceptance.side) == (carol_customer, "customer")


def test_unknown_actions_and_get_requests_do_nothing(client, alice_manager, negotiating):
    client.force_login(alice_manager)
    response = act(client, negotiating, "activate")
    assert "'activate' is not an action that can be taken here." in messages_of(response)
    assert (
        client.get(reverse("agreements:transition", args=[negotiating.pk, "accept"])).status_code
        == 405
    )
    assert refreshed(negotiating).status == machine.IN_NEGOTIATION


# --- Finalize and monitor ------------------------------------------------------------------


def test_both_sides_accept_then_each_signatory_signs_and_it_comes_into_force(
    client, alice_manager, carol_customer, negotiating
):
    # The provider accepted version 1 by proposing it: no Accept for it, and a refusal if
    # posted anyway.
    client.force_login(alice_manager)
    assert "Accept version 1" not in page(client, "lifecycle", negotiating)
    response = act(client, negotiating, "accept", version=1)
    assert any("the provider's own proposal" in m for m in messages_of(response))
    assert not AgreementVersion.objects.get(agreement=negotiating, number=1).acceptances.exists()

    client.force_login(carol_customer)
    response = act(client, negotiating, "accept", version=1)
    assert any("accepted by both sides" in m for m in messages_of(response))
    assert refreshed(negotiating).status == machine.AGREED
    version = AgreementVersion.objects.get(agreement=negotiating, number=1)
    html = response.content.decode()
    assert version.content_hash in html  # the sign form shows what is being signed
    assert "Still to sign version 1" in html

    client.force_login(alice_manager)
    response = act(client, negotiating, "sign")
    assert refreshed(negotiating).status == machine.AGREED
    assert "Sign version 1" not in response.content.decode()  # signed already

    client.force_login(carol_customer)
    response = act(client, negotiating, "sign")
    assert any("It is final and in force." in m for m in messages_of(response))
    agreement = refreshed(negotiating)
    assert agreement.status == machine.ACTIVE  # effective since 1 January 2026
    assert agreement.in_force_version == version

    html = response.content.decode()
    assert "Alice Manager" in html and "Carol Customer" in html and "Acme Logistics" in html
    assert "Final" in html and f"SHA-256 {version.short_hash}" in html
    current = re.search(r'stage-current"[^>]*>(.*?)</li>', html)
    assert "Monitor" in current.group(1)

    document = page(client, "detail", agreement)
    assert f"SHA-256 {version.content_hash}" in document
    assert 'data-stage="monitor"' in document and 'aria-current="step"' in document


def test_pdf_of_the_agreement_in_force_names_its_fingerprint(
    client, carol_customer, in_force, tmp_path
):
    client.force_login(carol_customer)
    response = client.get(reverse("agreements:pdf", args=[in_force.pk]))
    assert in_force.in_force_version.content_hash in pdf_text(response.content, tmp_path)


def test_someone_not_named_as_signatory_cannot_sign(client, ada_admin, agreed):
    client.force_login(ada_admin)
    assert "Sign version" not in page(client, "lifecycle", agreed)
    response = act(client, agreed, "sign")
    assert "Only a named signatory may sign." in messages_of(response)
    assert not AgreementVersion.objects.get(number=1).signatures.exists()


def test_signed_agreement_waits_for_its_effective_date(
    client, alice_manager, carol_customer, negotiating
):
    # Terms change only in a new version, so the later start is proposed as version 2.
    negotiating.effective_from = timezone.localdate() + timedelta(days=30)
    negotiating.effective_to = None
    negotiating.save()
    services.propose(negotiating, alice_manager)
    services.accept(negotiating, carol_customer, 2)
    services.sign(negotiating, alice_manager)
    client.force_login(carol_customer)
    response = act(client, negotiating, "sign")

    assert any("takes effect on" in m for m in messages_of(response))
    agreement = refreshed(negotiating)
    assert agreement.status == machine.AGREED and agreement.in_force_version is None


# --- Review --------------------------------------------------------------------------------


def test_start_review_then_renegotiate_keeps_the_signed_version_in_force(
    client, alice_manager, carol_customer, in_force, tom_team
):
    client.force_login(alice_manager)
    response = act(client, in_force, "start_review")
    review = Review.objects.get(agreement=in_force, status=Review.Status.IN_PROGRESS)
    assert response.redirect_chain[-1][0] == reverse(
        "agreements:review", args=[in_force.pk, review.pk]
    )
    assert refreshed(in_force).status == machine.UNDER_REVIEW
    html = response.content.decode()
    assert "Record the review" in html
    assert "No monthly report of this period has been issued yet." in html

    response = client.post(
        reverse("agreements:review", args=[in_force.pk, review.pk]),
        {
            "findings": "Response times for P2 were missed twice in March.",
            "root_causes": "Understaffed desk during holidays.",
            "lessons": "Plan cover for holidays.",
            "decision": "renegotiate",
            "actions-TOTAL_FORMS": "3",
            "actions-INITIAL_FORMS": "0",
            "actions-0-description": "Propose a P2 target the desk can keep",
            "actions-0-owner": str(tom_team.pk),
            "actions-0-due_date": "2026-12-31",
            "actions-1-description": "",
            "actions-2-description": "",
        },
        follow=True,
    )
    assert "Review recorded: renegotiate." in messages_of(response)
    agreement = refreshed(in_force)
    assert agreement.status == machine.RENEGOTIATING
    assert agreement.in_force_version == in_force.in_force_version
    review.refresh_from_db()
    assert (review.status, review.decision, review.decided_by) == (
        Review.Status.DECIDED,
        "renegotiate",
        alice_manager,
    )
    action = ReviewAction.objects.get()
    assert (action.owner, action.due_date) == (tom_team, date(2026, 12, 31))
    html = response.content.decode()
    assert "Understaffed desk during holidays." in html and "Tom Team" in html

    # The customer reads the decided review and sees the version still in force.
    client.force_login(carol_customer)
    assert "Propose a P2 target the desk can keep" in page(client, "review", agreement, review.pk)
    assert "version 1 stays in force" in page(client, "lifecycle", agreement)


def test_customer_cannot_record_a_review(client, alice_manager, carol_customer, in_force):
    review = review_services.review_start(in_force, alice_manager)
    client.force_login(carol_customer)
    assert "Record the review" not in page(client, "review", in_force, review.pk)
    response = client.post(
        reverse("agreements:review", args=[in_force.pk, review.pk]), {"decision": "terminate"}
    )
    assert response.status_code == 403
    assert refreshed(in_force).status == machine.UNDER_REVIEW


def test_review_without_a_decision_records_nothing(client, alice_manager, in_force):
    review = review_services.review_start(in_force, alice_manager)
    client.force_login(alice_manager)
    response = client.post(
        reverse("agreements:review", args=[in_force.pk, review.pk]),
        {"findings": "All good", "actions-TOTAL_FORMS": "0", "actions-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 400
    assert "is not a review decision" in " ".join(messages_of(response))
    review.refresh_from_db()
    assert review.status == Review.Status.IN_PROGRESS


# --- Supporting agreements -----------------------------------------------------------------


def test_service_manager_adds_a_supporting_agreement(client, alice_manager, negotiating):
    client.force_login(alice_manager)
    response = client.post(
        reverse("agreements:supporting-create", args=[negotiating.pk]),
        {
            "supporting-kind": "uc",
            "supporting-reference": "UC-2026-04",
            "supporting-party": "Hosting Partner GmbH",
            "supporting-description": "Data centre and network",
        },
        follow=True,
    )
    assert "Underpinning contract UC-2026-04 added." in messages_of(response)
    assert SupportingAgreement.objects.get().party == "Hosting Partner GmbH"
    assert "Hosting Partner GmbH" in response.content.decode()


def test_customer_cannot_add_supporting_agreements(client, carol_customer, negotiating):
    client.force_login(carol_customer)
    response = client.post(
        reverse("agreements:supporting-create", args=[negotiating.pk]),
        {"supporting-kind": "ola", "supporting-reference": "X", "supporting-party": "Y"},
    )
    assert response.status_code == 403
    assert not SupportingAgreement.objects.exists()


# --- History and timeline ------------------------------------------------------------------


def test_history_lists_changes_with_before_and_after(
    client, alice_manager, carol_customer, negotiating
):
    negotiating.change_policy = COUNTER_POLICY
    negotiating.save()
    # Gold runs on the 24x7 calendar: a closure is added to it, then renamed.
    used = negotiating.support_calendar
    closure = ClosureDate.objects.create(calendar=used, date=date(2026, 12, 24), reason="Eve")
    closure.reason = "Christmas Eve maintenance"
    closure.save()
    # Another calendar's edits are not this agreement's history.
    elsewhere = CalendarHours.objects.exclude(calendar=used).first()
    elsewhere.start = elsewhere.start.replace(hour=5, minute=45)
    elsewhere.save()

    client.force_login(carol_customer)  # the customer reads the trail of its agreement too
    html = page(client, "history", negotiating)
    assert "Changed: agreement" in html
    assert "change policy" in html
    assert CHANGE_POLICY in html and COUNTER_POLICY in html
    assert "Created: closure date" in html and "2026-12-24" in html
    assert "Changed: closure date" in html and "Christmas Eve maintenance" in html
    assert "05:45" not in html
    assert "Proposed: version" in html and "Version 1 proposed: First proposal" in html
    # Foreign keys read as the row's current name with its id, not as a bare number.
    assert escape(f"{used} (#{used.pk})") in html


def test_history_names_rows_by_id_when_they_are_gone(client, alice_manager, negotiating):
    from agreements.history import history_rows
    from agreements.models import AuditEvent

    client.force_login(alice_manager)
    event = AuditEvent.objects.create(
        agreement=negotiating,
        action="changed",
        object_type="creditband",
        object_id="999",
        before={"agreement": str(negotiating.pk)},
        after={"agreement": "999999"},
    )
    (row,) = history_rows([event])
    assert row.changes == [("agreement", f"{negotiating} (#{negotiating.pk})", "#999999")]


def test_timeline_shows_lifecycle_events_and_emails_newest_first(
    client, alice_manager, carol_customer, agreed
):
    client.force_login(alice_manager)
    html = page(client, "lifecycle", agreed)
    timeline = html[html.index('id="timeline"') :]
    proposed = timeline.index("Version 1 proposed")
    agreed_at = timeline.index("Agreed on version 1")
    assert agreed_at < proposed
    assert "Email: " in timeline


# --- In the browser ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lifecycle_and_compare_pages_in_the_browser(
    new_page, alice_manager, carol_customer, acme_agreement
):
    agreement = proposable(acme_agreement)
    services.propose(agreement, alice_manager, note="First proposal")
    services.request_changes(
        agreement, carol_customer, "We need fifteen days of notice for changes.", "changes"
    )
    agreement = refreshed(agreement)  # the services changed its status
    agreement.change_policy = COUNTER_POLICY
    agreement.save()
    services.propose(agreement, alice_manager, note="Longer notice for changes")

    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto(reverse("agreements:lifecycle", args=[agreement.pk]))
    expect(page.get_by_role("heading", name="What you can do now")).to_be_visible()
    screenshot(page, "lifecycle-customer")

    page.get_by_role("link", name=re.compile("Compare with 1")).click()
    expect(page.locator("ins").first).to_be_visible()
    screenshot(page, "lifecycle-compare")

    page.goto(reverse("agreements:lifecycle", args=[agreement.pk]))
    page.get_by_role("button", name="Accept version 2").click()
    expect(page.get_by_role("alert").filter(has_text="accepted by both sides")).to_be_visible()
    screenshot(page, "lifecycle-agreed")

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, "carol_customer", PASSWORD)
    phone.goto(reverse("agreements:lifecycle", args=[agreement.pk]))
    expect(phone.get_by_role("button", name="Sign version 2")).to_be_visible()
    screenshot(phone, "lifecycle-phone")
    # Nothing sticks out sideways at phone width (tables scroll within themselves).
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.goto(reverse("agreements:compare", args=[agreement.pk]))
    expect(phone.locator("del").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "lifecycle-compare-phone")

    # The last signature puts the version in force; the document names its fingerprint.
    services.sign(agreement, alice_manager)
    page.goto(reverse("agreements:lifecycle", args=[agreement.pk]))
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.get_by_role("alert").filter(has_text="final and in force")).to_be_visible()
    screenshot(page, "lifecycle-in-force")
    page.get_by_role("link", name="Document", exact=True).click()
    version = AgreementVersion.objects.get(agreement=agreement, number=2)
    expect(page.get_by_text(f"SHA-256 {version.content_hash}")).to_be_visible()
    screenshot(page, "lifecycle-document-in-force")
    page.get_by_role("link", name="History", exact=True).first.click()
    expect(page.get_by_role("columnheader", name="Before")).not_to_have_count(0)
    screenshot(page, "lifecycle-history")

    manager = new_page()
    login(manager, "alice_manager", PASSWORD)
    manager.goto(reverse("agreements:lifecycle", args=[agreement.pk]))
    manager.get_by_role("button", name="Start review").click()
    expect(manager.get_by_role("heading", name="Record the review")).to_be_visible()
    screenshot(manager, "lifecycle-review")
