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
from agreements.presentation import status_of
from agreements.selectors import agreement_document, agreements_visible_to
from agreements.services import lifecycle
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
    assert "Nothing is waiting for you" in page

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
