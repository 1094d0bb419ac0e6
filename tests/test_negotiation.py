"""Negotiation and sign-off, both sides: the status says the truth once signed, a draft is the
provider's until proposed, and each side is offered only its own next step."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agreements import lifecycle as machine
from agreements.models import Agreement, AgreementVersion, Comment
from agreements.selectors import agreement_document, agreements_visible_to
from agreements.services import comments as comment_services
from agreements.services import lifecycle
from agreements.status import status_of
from tests.support.agreements import propose_to_customer

pytestmark = pytest.mark.django_db

SIGNED_FUTURE = re.compile(r"Signed, takes effect on \d{1,2} \w{3} \d{4}")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def html_of(client, name: str, *args) -> str:
    response = client.get(reverse(f"agreements:{name}", args=args))
    assert response.status_code == 200, (name, response.status_code)
    return response.content.decode()


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return re.sub(r"\s+", " ", result.stdout.decode())


@pytest.fixture
def proposed(acme_agreement, alice_manager) -> Agreement:
    """Version 1 sent to Acme."""
    propose_to_customer(acme_agreement, alice_manager)
    return Agreement.objects.get(pk=acme_agreement.pk)


@pytest.fixture
def signed_future(acme_agreement, alice_manager, carol_customer) -> Agreement:
    """Proposed, accepted and signed by everyone, taking effect in 30 days."""
    acme_agreement.effective_from = timezone.localdate() + timedelta(days=30)
    acme_agreement.effective_to = None
    acme_agreement.save()
    version = propose_to_customer(acme_agreement, alice_manager)
    lifecycle.accept(acme_agreement, carol_customer, version.number)
    lifecycle.sign(acme_agreement, alice_manager)
    lifecycle.sign(acme_agreement, carol_customer)
    agreement = Agreement.objects.get(pk=acme_agreement.pk)
    assert agreement.status == machine.AGREED and agreement.in_force_version is None
    return agreement


# --- 1. Signed, taking effect on its date ---------------------------------------------------


def test_status_label_is_signed_once_everyone_signed():
    assert machine.status_label(machine.AGREED) == "Agreed (awaiting signatures)"
    assert (
        machine.status_label(machine.AGREED, signed=True, effective_from=date(2027, 3, 1))
        == "Signed, takes effect on 1 Mar 2027"
    )
    assert machine.status_label(machine.ACTIVE, signed=True) == "Active"


def test_signed_future_agreement_says_so_in_header_list_and_document(
    client, signed_future, carol_customer, alice_manager, tmp_path
):
    when = signed_future.effective_from
    expected = f"Signed, takes effect on {when.day} {when:%b %Y}"
    for user in (alice_manager, carol_customer):
        client.force_login(user)
        lifecycle_page = html_of(client, "lifecycle", signed_future.pk)
        header = lifecycle_page[lifecycle_page.index("<header") : lifecycle_page.index("</header>")]
        status = re.search(r'<p class="lc-status".*?</p>', lifecycle_page, re.S).group(0)
        assert expected in header and expected in status
        # (The timeline keeps its record: "Now agreed (awaiting signatures)" was true then.)
        assert "awaiting signatures" not in header + status
        assert "becomes binding when every signatory has signed" not in status
        assert f"It is binding and takes effect on {when.day} {when:%b %Y}" in status
        listing = html_of(client, "list")
        assert expected in listing and "awaiting signatures" not in listing
        document = html_of(client, "detail", signed_future.pk)
        assert expected in document and "awaiting signatures" not in document
        assert f"compliance is measured from {when.day} {when:%b %Y}" in document
        for tab in ("compare", "history"):
            assert expected in html_of(client, tab, signed_future.pk)
    pdf = client.get(reverse("agreements:pdf", args=[signed_future.pk]))
    assert expected in pdf_text(pdf.content, tmp_path)


def test_agreed_but_unsigned_still_awaits_signatures(client, proposed, carol_customer):
    lifecycle.accept(proposed, carol_customer, 1)
    client.force_login(carol_customer)
    page = html_of(client, "lifecycle", proposed.pk)
    assert "Agreed (awaiting signatures)" in page
    assert "becomes binding when every signatory has signed" in page
    assert not SIGNED_FUTURE.search(page)


def test_api_says_signed_and_when_it_takes_effect(signed_future, carol_customer):
    client = api(carol_customer)
    state = client.get(f"/api/agreements/{signed_future.pk}/lifecycle/").json()
    assert state["status"] == "agreed"
    assert SIGNED_FUTURE.fullmatch(state["status_label"])
    assert state["signed"] is True
    assert state["takes_effect_on"] == signed_future.effective_from.isoformat()
    detail = client.get(f"/api/agreements/{signed_future.pk}/").json()
    assert detail["status_label"] == state["status_label"]
    listed = client.get("/api/agreements/").json()["results"]
    assert [row["status_label"] for row in listed] == [state["status_label"]]


def test_status_of_a_row_from_the_selector_needs_no_query(
    signed_future, alice_manager, django_assert_num_queries
):
    agreement = agreements_visible_to(alice_manager).get(pk=signed_future.pk)
    with django_assert_num_queries(0):
        assert status_of(agreement).key == machine.SIGNED


def test_agreement_list_queries_do_not_grow_with_signed_agreements(
    client, signed_future, alice_manager, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    with django_assert_max_num_queries(12):
        html_of(client, "list")


# --- 2. A draft is the provider's until it is proposed ----------------------------------------


def customer_routes(pk: int) -> list[str]:
    return [
        reverse("agreements:detail", args=[pk]),
        reverse("agreements:pdf", args=[pk]),
        reverse("agreements:lifecycle", args=[pk]),
        reverse("agreements:compare", args=[pk]),
        reverse("agreements:history", args=[pk]),
        f"/api/agreements/{pk}/",
        f"/api/agreements/{pk}/lifecycle/",
        f"/api/agreements/{pk}/versions/",
        f"/api/agreements/{pk}/comments/",
        f"/api/agreements/{pk}/history/",
    ]


def test_customer_gets_404_on_every_route_of_a_never_proposed_draft(
    client, acme_agreement, carol_customer, victor_viewer
):
    pk = acme_agreement.pk
    for user in (carol_customer, victor_viewer):
        client.force_login(user)
        for url in customer_routes(pk):
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(
            reverse("agreements:comment", args=[pk]), {"comment-body": "hello"}
        ).status_code == (404)
        accept = reverse("agreements:transition", args=[pk, "accept"])
        assert client.post(accept, {"version": 1}).status_code == 404
        assert api(user).post(
            f"/api/agreements/{pk}/comments/", {"section": "general", "body": "hi"}
        ).status_code == (404)
        assert pk not in [a["id"] for a in api(user).get("/api/agreements/").json()["results"]]
        assert "SLA-2026" not in html_of(client, "list")
    assert not Comment.objects.exists()


def test_customer_sees_the_last_proposal_not_the_providers_newer_edits(
    client, proposed, alice_manager, carol_customer, tmp_path
):
    proposed.service_description = "Operation of the service, as proposed."
    proposed.save()
    lifecycle.propose(proposed, alice_manager)  # version 2
    # The provider keeps editing after proposing: a draft of version 3, not sent.
    proposed.service_description = "SECRET provider draft wording."
    proposed.title = "Renamed in the draft"
    proposed.save()
    target = proposed.targets.get(metric="response_time", priority="P1")
    target.target_value = 7
    target.save()

    client.force_login(carol_customer)
    document = html_of(client, "detail", proposed.pk)
    assert "as proposed." in document and "SECRET" not in document
    assert "Renamed in the draft" not in document
    assert "Version 2 as proposed on" in document
    assert "15\u00a0min" in document and "7\u00a0min" not in document
    pdf = pdf_text(client.get(reverse("agreements:pdf", args=[proposed.pk])).content, tmp_path)
    assert "as proposed." in pdf and "SECRET" not in pdf and "Renamed in the draft" not in pdf

    # The agreement API too: detail and list show version 2 as proposed, not the draft.
    detail = api(carol_customer).get(f"/api/agreements/{proposed.pk}/").json()
    assert detail["title"] == "Customer Portal – Gold"
    description = detail["sections"]["description"]["service_description"]
    assert description == "Operation of the service, as proposed."
    p1 = next(
        t
        for t in detail["sections"]["support"]["targets"]
        if (t["metric"], t["priority"]) == ("response_time", "P1")
    )
    assert p1["target_value"].startswith("15")
    assert detail["services"] == list(proposed.services.values_list("pk", flat=True))
    [listed] = api(carol_customer).get("/api/agreements/").json()["results"]
    assert listed["sections"] == detail["sections"] and listed["title"] == detail["title"]
    assert api(carol_customer).get("/api/targets/").json()["results"] == []
    assert "SECRET" in str(api(alice_manager).get(f"/api/agreements/{proposed.pk}/").json())

    versions = api(carol_customer).get(f"/api/agreements/{proposed.pk}/versions/").json()
    assert [v["number"] for v in versions["results"]] == [1, 2]
    latest = api(carol_customer).get(f"/api/agreements/{proposed.pk}/versions/2/").json()
    assert "SECRET" not in str(latest["snapshot"])

    # The provider reads its working copy.
    client.force_login(alice_manager)
    assert "SECRET provider draft wording." in html_of(client, "detail", proposed.pk)


def test_the_document_as_proposed_matches_the_working_copy_it_froze(
    proposed, alice_manager, carol_customer, calendars
):
    """Nothing is lost rebuilding the document from the version: the same sections, targets,
    calendars, signatories, channels and credit bands as the provider's copy of it."""
    from agreements.presentation import document_context

    proposed.service_calendars.set([calendars["office"]])
    proposed.support_calendar = calendars["office"]
    proposed.save()
    lifecycle.propose(proposed, alice_manager)
    mine = document_context(agreement_document(alice_manager, proposed.pk))
    theirs = document_context(agreement_document(carol_customer, proposed.pk))
    assert theirs["shown_version"].number == 2 and mine["shown_version"] is None
    for key in ("fee", "credit_bands", "service_calendars", "support_calendar", "rto"):
        assert theirs[key] == mine[key], key

    def rows(context: dict) -> list:
        # The snapshot spells "no calendar" and the calendar named 24x7 alike: same words,
        # only the link to the calendar may differ.
        return [
            replace(row, pk=None, calendar_pk=None)
            for section in context["sections"]
            for row in section.targets
        ]

    assert rows(theirs) == rows(mine) and rows(mine)
    provider, customer = (
        agreement_document(user, proposed.pk) for user in (alice_manager, carol_customer)
    )
    for relation in ("signatories", "support_channels", "priority_definitions", "services"):
        assert [str(row) for row in getattr(customer, relation).all()] == [
            str(row) for row in getattr(provider, relation).all()
        ], relation


# --- 3. Each side is offered only its own next step -----------------------------------------


def actions(client, pk: int) -> str:
    return html_of(client, "lifecycle", pk)


def test_after_proposing_the_manager_is_offered_neither_accept_nor_counter_proposal(
    client, proposed, alice_manager, carol_customer, victor_viewer, tom_team
):
    client.force_login(alice_manager)
    page = actions(client, proposed.pk)
    assert "Accept version 1" not in page
    assert "Send a counter-proposal" not in page
    assert "Version 1 is with Acme Logistics" in page and "Nothing is waiting for you" in page

    client.force_login(carol_customer)
    page = actions(client, proposed.pk)
    assert "Accept version 1" in page and "Request changes to version 1" in page

    for person in (victor_viewer, tom_team):
        client.force_login(person)
        page = actions(client, proposed.pk)
        assert "Accept version" not in page and "Request changes" not in page
        assert "Send a counter-proposal" not in page and "Sign version" not in page


def test_the_provider_gets_the_turn_back_with_a_change_request_or_its_own_edits(
    client, proposed, alice_manager, carol_customer
):
    lifecycle.request_changes(proposed, carol_customer, "Name the drivers too.")
    client.force_login(alice_manager)
    assert "Send a counter-proposal (version 2)" in actions(client, proposed.pk)

    proposed.scale = "40 sites"
    proposed.save()
    lifecycle.propose(proposed, alice_manager)
    assert "Send a counter-proposal" not in actions(client, proposed.pk)
    # Edits after proposing are a revision the provider may send.
    proposed.scale = "41 sites"
    proposed.save()
    assert "Send a counter-proposal (version 3)" in actions(client, proposed.pk)


def test_the_manager_cannot_accept_its_own_proposal_through_the_api(proposed, alice_manager):
    response = api(alice_manager).post(
        f"/api/agreements/{proposed.pk}/transitions/", {"action": "accept", "version": 1}
    )
    assert response.status_code == 403
    assert response.json() == {
        "action": [
            "Version 1 is the provider's own proposal: sending it was the provider's "
            "acceptance. The customer accepts it or asks for changes."
        ]
    }
    assert not AgreementVersion.objects.get(agreement=proposed).acceptances.exists()
    state = api(alice_manager).get(f"/api/agreements/{proposed.pk}/lifecycle/").json()
    assert state["available_actions"] == []


def test_a_viewer_and_a_team_member_get_no_actions_in_the_api(proposed, victor_viewer, tom_team):
    for person in (victor_viewer, tom_team):
        state = api(person).get(f"/api/agreements/{proposed.pk}/lifecycle/").json()
        assert state["available_actions"] == [], person


# --- 4. Comment threads: replies and a resolved state -------------------------------------


def test_a_reply_joins_the_thread_of_the_first_remark_on_its_section(
    proposed, alice_manager, carol_customer
):
    remark = comment_services.comment_add(proposed, carol_customer, "availability", "Why 99.9 %?")
    reply = comment_services.comment_add(proposed, alice_manager, body="Cost.", parent=remark)
    again = comment_services.comment_add(proposed, carol_customer, body="And 99.95?", parent=reply)
    assert (reply.parent, reply.section) == (remark, "availability")
    assert again.parent == remark  # threads are one level deep
    assert list(remark.replies.order_by("pk")) == [reply, again]


def test_resolving_and_reopening_a_thread_is_recorded_and_guarded(
    proposed, alice_manager, carol_customer, victor_viewer, tom_team
):
    remark = comment_services.comment_add(proposed, tom_team, "support", "Desk hours?")
    reply = comment_services.comment_add(proposed, carol_customer, body="Mon-Fri.", parent=remark)
    with pytest.raises(machine.NotYourStep, match="Only the thread's author"):
        comment_services.comment_resolve(proposed, victor_viewer, remark)

    thread = comment_services.comment_resolve(proposed, carol_customer, reply)  # any comment of it
    assert thread == remark and thread.resolved_by == carol_customer and thread.is_resolved
    with pytest.raises(machine.TransitionError, match="already resolved"):
        comment_services.comment_resolve(proposed, alice_manager, remark)
    with pytest.raises(machine.TransitionError, match="reopen it to reply"):
        comment_services.comment_add(proposed, alice_manager, body="One more thing", parent=remark)

    comment_services.comment_reopen(proposed, tom_team, remark)  # the thread's author
    remark.refresh_from_db()
    assert remark.resolved_at is None and remark.resolved_by is None
    events = list(
        proposed.audit_events.filter(
            action__in=["commented", "replied", "comment_resolved", "comment_reopened"]
        )
        .order_by("at", "id")
        .values_list("action", "message")
    )
    assert [action for action, _ in events] == [
        "commented",
        "replied",
        "comment_resolved",
        "comment_reopened",
    ]
    assert events[0][1] == "On 4. Support levels: Desk hours?"
    assert events[2][1] == "Thread on 4. Support levels by Tom Team resolved"


def test_what_was_said_stays_append_only_while_the_resolution_changes(proposed, carol_customer):
    remark = comment_services.comment_add(proposed, carol_customer, "general", "Fine by us")
    remark.body = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        remark.save()
    with pytest.raises(ValueError, match="append-only"):
        remark.save(update_fields=["body", "resolved_at"])
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        Comment.objects.filter(pk=remark.pk).update(body="rewritten")
    comment_services.comment_resolve(proposed, carol_customer, remark)  # the resolution may change


def test_threads_through_the_api(proposed, alice_manager, carol_customer, victor_viewer):
    base = f"/api/agreements/{proposed.pk}/comments/"
    created = api(carol_customer).post(
        base, {"section": "availability", "body": "Why 99.9 %?"}, format="json"
    )
    assert created.status_code == 201, created.content
    remark = created.json()
    assert remark["section_title"] == "3. Availability" and remark["parent"] is None

    reply = api(alice_manager).post(f"{base}{remark['id']}/reply/", {"body": "Cost."})
    assert reply.status_code == 201, reply.content
    assert (reply.json()["parent"], reply.json()["section"]) == (remark["id"], "availability")
    nested = api(carol_customer).post(
        base, {"body": "And 99.95?", "parent": reply.json()["id"]}, format="json"
    )
    assert nested.json()["parent"] == remark["id"]

    assert api(victor_viewer).post(f"{base}{remark['id']}/resolve/").status_code == 403
    resolved = api(carol_customer).post(f"{base}{remark['id']}/resolve/")
    assert resolved.status_code == 200
    assert resolved.json()["resolved_by"] == "carol_customer" and resolved.json()["resolved_at"]
    assert api(carol_customer).post(f"{base}{remark['id']}/resolve/").status_code == 409
    refused = api(alice_manager).post(f"{base}{remark['id']}/reply/", {"body": "More"})
    assert refused.status_code == 409
    reopened = api(alice_manager).post(f"{base}{remark['id']}/reopen/")
    assert reopened.status_code == 200 and reopened.json()["resolved_at"] is None

    listed = api(carol_customer).get(f"{base}?parent={remark['id']}").json()["results"]
    assert [c["body"] for c in listed] == ["Cost.", "And 99.95?"]
    missing = api(carol_customer).post(base, {"body": "x", "parent": 99999}, format="json")
    assert missing.status_code == 400 and "parent" in missing.json()


def test_comments_of_another_organisation_are_404(
    proposed, carol_customer, other_org_viewer, globex_agreement, alice_manager
):
    remark = comment_services.comment_add(proposed, carol_customer, "general", "Acme only")
    propose_to_customer(globex_agreement, alice_manager)
    theirs = api(other_org_viewer)
    for action in ("reply/", "resolve/", "reopen/", ""):
        url = f"/api/agreements/{proposed.pk}/comments/{remark.pk}/{action}"
        response = theirs.post(url, {"body": "x"}) if action else theirs.get(url)
        assert response.status_code == 404, url
    # Through their own agreement, Acme's comment cannot be named as a parent either.
    response = theirs.post(
        f"/api/agreements/{globex_agreement.pk}/comments/",
        {"body": "x", "parent": remark.pk},
        format="json",
    )
    assert response.status_code == 400
    assert not Comment.objects.filter(agreement=globex_agreement).exists()


def test_lifecycle_page_shows_threads_with_reply_and_resolve(
    client, proposed, alice_manager, carol_customer, victor_viewer
):
    open_remark = comment_services.comment_add(proposed, carol_customer, "support", "Desk hours?")
    done = comment_services.comment_add(proposed, carol_customer, "charges", "Fee in EUR?")
    comment_services.comment_add(proposed, alice_manager, body="Yes, EUR.", parent=done)
    comment_services.comment_resolve(proposed, carol_customer, done)

    client.force_login(alice_manager)
    page = html_of(client, "lifecycle", proposed.pk)
    thread = page[page.index(f'id="thread-{open_remark.pk}"') :]
    thread = thread[: thread.index("</article>")]
    assert 'name="comment-parent"' in thread and f'value="{open_remark.pk}"' in thread
    assert reverse("agreements:comment-thread", args=[proposed.pk, open_remark.pk, "resolve"]) in (
        thread
    )
    folded = re.search(
        rf'<details class="lc-thread lc-thread-resolved" id="thread-{done.pk}"', page
    )
    assert folded and " open" not in folded.group(0)
    assert "Resolved</span> by Carol Customer" in page
    assert "7. Charges" in page and "4. Support levels" in page

    # The viewer reads and replies, but resolves only threads of their own.
    client.force_login(victor_viewer)
    page = html_of(client, "lifecycle", proposed.pk)
    assert 'name="comment-parent"' in page and "/resolve/" not in page

    # Posting a reply and resolving through the page.
    client.force_login(carol_customer)
    url = reverse("agreements:comment", args=[proposed.pk])
    response = client.post(url, {"comment-body": "9 to 5?", "comment-parent": open_remark.pk})
    assert response.status_code == 303
    assert response["Location"].endswith(f"#thread-{open_remark.pk}")
    assert open_remark.replies.get().body == "9 to 5?"
    resolve = reverse("agreements:comment-thread", args=[proposed.pk, open_remark.pk, "resolve"])
    assert client.post(resolve).status_code == 303
    open_remark.refresh_from_db()
    assert open_remark.is_resolved
    bogus = reverse("agreements:comment-thread", args=[proposed.pk, open_remark.pk, "explode"])
    assert client.post(bogus).status_code == 303  # a message, never a 500


# --- 5. Sections by number and title ------------------------------------------------------


def test_change_request_email_names_the_section_by_number_and_title(
    proposed, alice_manager, carol_customer
):
    from sla_portal.core.models import Notification

    lifecycle.request_changes(proposed, carol_customer, "99.95 please", section="availability")
    email = Notification.objects.get(kind="agreement.changes_requested", user=alice_manager)
    for text in (email.subject, email.body_text, email.body_html):
        assert "3. Availability" in text
        assert "“availability”" not in text and '"availability"' not in text
    event = proposed.audit_events.get(action="changes_requested")
    assert event.message == "Changes requested on version 1 (3. Availability): 99.95 please"


def test_history_and_timeline_name_sections_by_number_and_title(
    client, proposed, alice_manager, carol_customer
):
    comment_services.comment_add(proposed, carol_customer, "continuity", "RTO 2 h?")
    client.force_login(alice_manager)
    history = html_of(client, "history", proposed.pk)
    assert "Carol Customer on 8. Continuity" in history
    assert " on continuity" not in history
    timeline = html_of(client, "lifecycle", proposed.pk)
    assert "On 8. Continuity: RTO 2 h?" in timeline
