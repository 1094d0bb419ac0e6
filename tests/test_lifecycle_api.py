"""The lifecycle API: propose, negotiate, accept, sign, review, through the same services and
with the same scoping as the portal; versions that cannot be changed; the audit trail."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agreements.models import Acceptance, Agreement, AgreementVersion, Comment, Signature
from agreements.services import lifecycle
from agreements.services import parties as party_services
from agreements.services import reviews as review_services
from agreements.snapshot import content_hash
from tests.support.agreements import complete_for_proposal

pytestmark = pytest.mark.django_db

DESCRIPTION = "The provider runs the Customer Portal for Acme's dispatchers and customers."
CHANGE_POLICY = "Normal changes go through the change advisory board."


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(agreement: Agreement, tail: str = "") -> str:
    return f"/api/agreements/{agreement.pk}/{tail}"


def step(user, agreement: Agreement, action: str, **fields):
    """POST one lifecycle step as ``user``."""
    return api(user).post(
        url(agreement, "transitions/"), {"action": action, **fields}, format="json"
    )


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def actions_of(state: dict) -> list[str]:
    return [item["action"] for item in state["available_actions"]]


def patch_sections(user, agreement: Agreement, sections: dict):
    return api(user).patch(url(agreement), {"sections": sections}, format="json")


@pytest.fixture
def proposable(alice_manager, acme_agreement) -> Agreement:
    """Acme's Gold draft with the two sections a proposal still lacks filled in."""
    response = patch_sections(
        alice_manager,
        acme_agreement,
        {
            "description": {"service_description": DESCRIPTION},
            "changes": {"change_policy": CHANGE_POLICY},
            "continuity": {
                "rto_minutes": 240,
                "rpo_minutes": 60,
                "dr_plan_reference": "DR plan v3",
            },
            "security": {"security_procedures": "Least privilege; quarterly access reviews."},
        },
    )
    assert response.status_code == 200, response.content
    # The service-desk channel, a related row, completes section 4.
    acme_agreement.refresh_from_db()
    return complete_for_proposal(acme_agreement)


@pytest.fixture
def proposed(proposable, alice_manager) -> Agreement:
    """Version 1 sent to Acme."""
    lifecycle.propose(proposable, alice_manager, note="First proposal")
    return proposable


@pytest.fixture
def agreed(proposed, alice_manager, carol_customer) -> Agreement:
    """Version 1 proposed by the provider and accepted by the customer, awaiting signatures."""
    lifecycle.accept(proposed, carol_customer, 1)
    return proposed


@pytest.fixture
def active(agreed, alice_manager, carol_customer) -> Agreement:
    """Version 1 signed by Alice and Carol and in force."""
    lifecycle.sign(agreed, alice_manager)
    lifecycle.sign(agreed, carol_customer)
    agreed.refresh_from_db()
    assert agreed.status == Agreement.Status.ACTIVE
    return agreed


# --- The whole journey ---------------------------------------------------------------------


def test_an_agreement_is_negotiated_signed_and_reviewed_through_the_api(
    alice_manager, carol_customer, proposable
):
    # Draft: only the provider can send it; to the customer it does not exist yet.
    assert actions_of(ok(api(alice_manager).get(url(proposable, "lifecycle/")))) == ["propose"]
    assert api(carol_customer).get(url(proposable, "lifecycle/")).status_code == 404

    # Proposed: the proposal is with the customer; the provider has nothing to do but wait.
    state = ok(step(alice_manager, proposable, "propose", note="First proposal"))
    assert state == {
        "status": "in_negotiation",
        "status_label": "In negotiation",
        "signed": False,
        "takes_effect_on": None,
        "stage": "negotiate",
        "latest_version": 1,
        "in_force_version": None,
        "available_actions": [],
    }

    # The customer asks for a change to the service description.
    carol_state = ok(api(carol_customer).get(url(proposable, "lifecycle/")))
    assert actions_of(carol_state) == ["request_changes", "accept"]
    ok(
        step(
            carol_customer,
            proposable,
            "request_changes",
            section="description",
            body="Our drivers use the portal too; please name them.",
        )
    )
    # Changes requested: now it is the provider's turn to send a counter-proposal.
    assert actions_of(ok(api(alice_manager).get(url(proposable, "lifecycle/")))) == ["propose"]
    comments = ok(api(alice_manager).get(url(proposable, "comments/")))["results"]
    assert [(c["section"], c["version"], c["requests_change"], c["author"]) for c in comments] == [
        ("description", 1, True, "carol_customer")
    ]

    # The provider counter-proposes: edit the working copy, send version 2.
    revised = DESCRIPTION.replace("dispatchers and", "dispatchers, drivers and")
    patched = patch_sections(
        alice_manager, proposable, {"description": {"service_description": revised}}
    )
    assert patched.status_code == 200, patched.content
    state = ok(step(alice_manager, proposable, "propose", note="Drivers named"))
    assert state["latest_version"] == 2

    comparison = ok(api(carol_customer).get(url(proposable, "versions/compare/?a=1&b=2")))
    assert (comparison["a"], comparison["b"]) == (1, 2)
    assert [(s["key"], s["title"]) for s in comparison["sections"]] == [
        ("description", "1. Service description")
    ]
    [change] = comparison["sections"][0]["changes"]
    assert (change["kind"], change["path"]) == ("changed", "service description")
    assert (change["old"], change["new"]) == (DESCRIPTION, revised)
    assert {"op": "insert", "text": "dispatchers, drivers"} in change["words"]
    assert "".join(w["text"] for w in change["words"] if w["op"] != "delete") == revised

    # The provider accepted version 2 by proposing it; the customer accepts it too, and the
    # agreement waits for signatures. The provider cannot accept its own proposal.
    refused = step(alice_manager, proposable, "accept", version=2)
    assert refused.status_code == 403
    assert "the provider's own proposal" in refused.json()["action"][0]
    state = ok(step(carol_customer, proposable, "accept", version=2))
    assert (state["status"], state["stage"]) == ("agreed", "finalize")
    assert actions_of(state) == ["sign"]

    ok(step(alice_manager, proposable, "sign"))
    state = ok(step(carol_customer, proposable, "sign"))
    # Effective since 1 January 2026: the last signature puts version 2 in force at once.
    assert state == {
        "status": "active",
        "status_label": "Active",
        "signed": True,
        "takes_effect_on": None,
        "stage": "monitor",
        "latest_version": 2,
        "in_force_version": 2,
        "available_actions": [],
    }
    assert actions_of(ok(api(alice_manager).get(url(proposable, "lifecycle/")))) == ["start_review"]

    versions = ok(api(carol_customer).get(url(proposable, "versions/")))["results"]
    assert [(v["number"], v["finalized_at"] is not None) for v in versions] == [
        (1, False),
        (2, True),
    ]
    signed = versions[1]
    assert {(a["side"], a["user"]) for a in signed["acceptances"]} == {
        ("customer", "carol_customer"),
    }
    assert {s["side"] for s in signed["signatures"]} == {"provider", "customer"}
    assert {s["content_hash"] for s in signed["signatures"]} == {signed["content_hash"]}

    # Review, then renegotiate while version 2 stays in force.
    state = ok(step(alice_manager, proposable, "start_review"))
    assert (state["status"], state["stage"]) == ("under_review", "review")
    assert actions_of(state) == ["continue", "renegotiate", "terminate"]
    state = ok(
        step(
            alice_manager,
            proposable,
            "renegotiate",
            findings="Portal availability was met; P1 response missed twice.",
            root_causes="The night desk was understaffed.",
            lessons="Staff the night desk with two people.",
            actions=[
                {
                    "description": "Hire a second night operator",
                    "owner": "alice_manager",
                    "due_date": "2027-01-31",
                }
            ],
        )
    )
    assert (state["status"], state["in_force_version"]) == ("renegotiating", 2)
    assert actions_of(state) == ["propose"]

    [review] = ok(api(carol_customer).get(url(proposable, "reviews/")))["results"]
    assert (review["status"], review["decision"], review["decided_by"]) == (
        "decided",
        "renegotiate",
        "alice_manager",
    )
    assert review["actions"] == [
        {
            "id": review["actions"][0]["id"],
            "description": "Hire a second night operator",
            "owner": "alice_manager",
            "due_date": "2027-01-31",
            "status": "open",
        }
    ]
    assert (
        ok(api(carol_customer).get(url(proposable, f"reviews/{review['id']}/")))["id"]
        == (review["id"])
    )

    history = ok(api(carol_customer).get(url(proposable, "history/")))
    steps = [event["action"] for event in history["results"]]
    assert steps[0] == "review_renegotiate"
    for expected in (
        "proposed",
        "changes_requested",
        "accepted",
        "transition",
        "signed",
        "finalized",
        "activated",
        "review_started",
    ):
        assert expected in steps
    renegotiated = history["results"][0]
    assert renegotiated["before"] == {"status": "under_review"}
    assert renegotiated["after"] == {"status": "renegotiating"}
    assert renegotiated["actor_name"] == alice_manager.display_name


# --- Refused steps -------------------------------------------------------------------------


def test_a_viewer_cannot_accept(victor_viewer, proposed):
    response = step(victor_viewer, proposed, "accept", version=1)

    # Not the viewer's step to take: a 403 with the reason (was 409 before roles and sides
    # were told apart from steps that are merely not possible now).
    assert response.status_code == 403
    assert response.json() == {"action": ["Only a customer approver may accept this version."]}
    assert not Acceptance.objects.filter(version__agreement=proposed).exists()


def test_a_customer_cannot_propose(carol_customer, proposed):
    response = step(carol_customer, proposed, "propose")

    assert response.status_code == 403
    assert response.json()["action"] == [
        "Only a service manager of the provider may send proposal."
    ]
    assert AgreementVersion.objects.filter(agreement=proposed).count() == 1


def test_the_manager_cannot_sign_twice(alice_manager, agreed):
    assert step(alice_manager, agreed, "sign").status_code == 200

    response = step(alice_manager, agreed, "sign")

    assert response.status_code == 409
    assert response.json() == {"action": ["You have already signed version 1."]}
    assert Signature.objects.filter(version__agreement=agreed).count() == 1


def test_only_the_latest_version_can_be_accepted(alice_manager, carol_customer, proposed):
    patch_sections(alice_manager, proposed, {"charges": {"fee_amount": "11000.00"}})
    lifecycle.propose(proposed, alice_manager, note="Fee lowered")

    response = step(carol_customer, proposed, "accept", version=1)

    assert response.status_code == 409
    assert response.json() == {
        "action": ["Version 1 is not the one under negotiation (version 2)."]
    }
    assert not Acceptance.objects.filter(version__agreement=proposed).exists()


def test_a_step_out_of_order_says_when_it_is_possible(carol_customer, proposed):
    response = step(carol_customer, proposed, "sign")

    assert response.status_code == 409
    assert response.json() == {
        "action": ["There is no version accepted by both sides waiting to be signed."]
    }


def test_a_proposal_with_gaps_names_them(alice_manager, acme_agreement):
    response = step(alice_manager, acme_agreement, "propose")

    # Issue 13: what the agreement lacks is a 400 naming the field that would allow it.
    assert response.status_code == 400
    message = response.json()["confirm_incomplete"][0]
    assert message.startswith("Before proposing, complete Service description:")
    assert "Changes:" in message
    assert Agreement.objects.get(pk=acme_agreement.pk).status == Agreement.Status.DRAFT


def test_a_customer_cannot_decide_a_review(carol_customer, alice_manager, active):
    review_services.review_start(active, alice_manager)

    response = step(carol_customer, active, "terminate")

    assert response.status_code == 403  # not the customer's step (a role, not a state)
    assert response.json() == {"action": ["Only a service manager of the provider may terminate."]}
    assert Agreement.objects.get(pk=active.pk).status == Agreement.Status.UNDER_REVIEW


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"action": ["This field is required."]}),
        (
            {"action": "approve"},
            {
                "action": [
                    '"approve" is not an action; the actions are: propose, request_changes, '
                    "accept, sign, start_review, continue, renegotiate, terminate."
                ]
            },
        ),
        (
            {"action": "accept"},
            {"version": ["Required to accept: the number of the version you accept."]},
        ),
        (
            {"action": "request_changes"},
            {"body": ["Required to request changes: say which changes you need."]},
        ),
        (
            {"action": "sign", "note": "ok"},
            {"note": ["Not used by sign; it takes no other field."]},
        ),
        (
            {"action": "propose", "version": 1},
            {"version": ["Not used by propose; it takes note, confirm_incomplete."]},
        ),
        ({"action": "propose", "colour": "red"}, {"colour": None}),
        ({"action": "request_changes", "body": "x", "section": "pricing"}, {"section": None}),
    ],
)
def test_a_malformed_step_is_a_400_naming_the_field(carol_customer, proposed, body, errors):
    response = api(carol_customer).post(url(proposed, "transitions/"), body, format="json")

    assert response.status_code == 400
    answer = response.json()
    assert set(answer) == set(errors)
    for field, reasons in errors.items():
        assert reasons is None or answer[field] == reasons
    assert not Comment.objects.filter(agreement=proposed).exists()


def test_a_review_action_owner_must_be_a_user(alice_manager, active):
    review_services.review_start(active, alice_manager)

    response = step(
        alice_manager,
        active,
        "continue",
        actions=[{"description": "Follow up", "owner": "nobody"}],
    )

    assert response.status_code == 400
    assert response.json() == {"actions": {"0": {"owner": ["No user with the username nobody."]}}}
    assert Agreement.objects.get(pk=active.pk).status == Agreement.Status.UNDER_REVIEW


def test_a_viewer_sees_the_state_but_no_actions(victor_viewer, proposed):
    state = ok(api(victor_viewer).get(url(proposed, "lifecycle/")))
    assert (state["status"], state["latest_version"], state["available_actions"]) == (
        "in_negotiation",
        1,
        [],
    )


def test_a_side_that_accepted_is_not_offered_accept_again(carol_customer, proposed):
    ok(step(carol_customer, proposed, "accept", version=1))
    # Accepted by the customer, the provider's proposal is agreed: next is Carol's signature.
    assert actions_of(ok(api(carol_customer).get(url(proposed, "lifecycle/")))) == ["sign"]


# --- Scoping -------------------------------------------------------------------------------

READS = [
    "lifecycle/",
    "versions/",
    "versions/1/",
    "versions/compare/?a=1&b=1",
    "comments/",
    "history/",
    "reviews/",
]


@pytest.mark.parametrize("tail", READS)
def test_another_organisations_customer_gets_404_on_every_read(
    other_org_viewer, carol_customer, active, tail
):
    assert api(carol_customer).get(url(active, tail)).status_code == 200
    response = api(other_org_viewer).get(url(active, tail))
    assert response.status_code == 404
    assert response.json() == {"detail": "No Agreement matches the given query."}


def test_another_organisations_customer_gets_404_on_every_write(other_org_viewer, proposed):
    client = api(other_org_viewer)
    attempts = [
        client.post(url(proposed, "transitions/"), {"action": "accept", "version": 1}),
        client.post(url(proposed, "transitions/"), {"action": "nonsense"}),
        client.post(url(proposed, "comments/"), {"section": "general", "body": "Hello"}),
    ]
    assert [r.status_code for r in attempts] == [404, 404, 404]
    assert not Acceptance.objects.filter(version__agreement=proposed).exists()
    assert not Comment.objects.filter(agreement=proposed).exists()


def test_the_provider_reads_every_customers_lifecycle(tom_team, proposed, globex_agreement):
    assert ok(api(tom_team).get(url(proposed, "lifecycle/")))["latest_version"] == 1
    assert ok(api(tom_team).get(url(globex_agreement, "versions/")))["results"] == []


def test_unknown_agreement_is_404(alice_manager, db):
    assert api(alice_manager).get("/api/agreements/999999/lifecycle/").status_code == 404


def test_lifecycle_api_needs_authentication(client, proposed):
    assert client.get(url(proposed, "versions/")).status_code in (401, 403)


# --- Versions are facts --------------------------------------------------------------------


def test_a_signed_version_cannot_be_changed_through_the_api(alice_manager, active):
    version = AgreementVersion.objects.get(agreement=active, number=1)
    before = (version.snapshot, version.content_hash, version.finalized_at)
    client = api(alice_manager)
    detail = url(active, "versions/1/")
    changed = {"note": "rewritten", "content_hash": "0" * 64, "snapshot": {}}

    attempts = [
        client.put(detail, changed, format="json"),
        client.patch(detail, changed, format="json"),
        client.delete(detail),
        client.post(url(active, "versions/"), {"number": 3, **changed}, format="json"),
    ]

    assert [r.status_code for r in attempts] == [405, 405, 405, 405]
    version.refresh_from_db()
    assert (version.snapshot, version.content_hash, version.finalized_at) == before
    assert version.note == "First proposal"


def test_a_signed_versions_hash_is_the_hash_of_its_snapshot(carol_customer, active):
    body = ok(api(carol_customer).get(url(active, "versions/1/")))

    assert body["finalized_at"] is not None
    assert content_hash(body["snapshot"]) == body["content_hash"]
    assert body["content_hash"] == AgreementVersion.objects.get(agreement=active).content_hash
    assert {s["content_hash"] for s in body["signatures"]} == {body["content_hash"]}
    assert body["snapshot"]["sections"]["description"]["fields"]["service_description"] == (
        DESCRIPTION
    )


def test_an_unknown_version_is_404(alice_manager, proposed):
    assert api(alice_manager).get(url(proposed, "versions/7/")).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [("?b=1", "a"), ("?a=1", "b"), ("?a=one&b=1", "a"), ("?a=1&b=9", "b")],
)
def test_compare_names_the_wrong_version(alice_manager, proposed, query, field):
    response = api(alice_manager).get(url(proposed, f"versions/compare/{query}"))

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_comparing_a_version_with_itself_shows_nothing(alice_manager, proposed):
    body = ok(api(alice_manager).get(url(proposed, "versions/compare/?a=1&b=1")))
    assert body == {"a": 1, "b": 1, "sections": []}


def _counter_proposals(agreement: Agreement, manager, approver, count: int) -> None:
    """``count`` more versions, each answered by the customer with a change request."""
    for _ in range(count):
        latest = party_services.latest_version(agreement)
        lifecycle.request_changes(agreement, approver, "Another site, please.")
        Agreement.objects.filter(pk=agreement.pk).update(scale=f"{latest.number + 1} sites")
        lifecycle.propose(agreement, manager, note=f"Round {latest.number + 1}")


def test_version_list_queries_do_not_grow_with_versions(
    alice_manager, carol_customer, proposed, django_assert_max_num_queries
):
    client = api(carol_customer)
    _counter_proposals(proposed, alice_manager, carol_customer, 1)
    with django_assert_max_num_queries(5):
        assert len(ok(client.get(url(proposed, "versions/")))["results"]) == 2

    _counter_proposals(proposed, alice_manager, carol_customer, 4)
    lifecycle.accept(proposed, carol_customer, 6)
    lifecycle.sign(proposed, carol_customer)
    with django_assert_max_num_queries(5):
        versions = ok(client.get(url(proposed, "versions/")))["results"]
    assert [v["number"] for v in versions] == [1, 2, 3, 4, 5, 6]
    assert [len(v["acceptances"]) for v in versions] == [0, 0, 0, 0, 0, 1]
    assert [len(v["signatures"]) for v in versions] == [0, 0, 0, 0, 0, 1]
    assert "snapshot" not in versions[0]


# --- Comments ------------------------------------------------------------------------------


def test_either_side_comments_on_a_section(alice_manager, carol_customer, proposed):
    response = api(carol_customer).post(
        url(proposed, "comments/"),
        {"section": "charges", "body": "Can the fee be invoiced quarterly?"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["author"], body["version"], body["section"], body["requests_change"]) == (
        "carol_customer",
        1,
        "charges",
        False,
    )
    api(alice_manager).post(
        url(proposed, "comments/"), {"section": "general", "body": "Yes."}, format="json"
    )

    listed = ok(api(carol_customer).get(url(proposed, "comments/")))["results"]
    assert [(c["author"], c["body"]) for c in listed] == [
        ("carol_customer", "Can the fee be invoiced quarterly?"),
        ("alice_manager", "Yes."),
    ]
    charges = ok(api(carol_customer).get(url(proposed, "comments/?section=charges")))["results"]
    assert [c["author"] for c in charges] == ["carol_customer"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"section": "pricing", "body": "x"}, "section"),
        ({"section": "general", "body": "   "}, "body"),
        ({"section": "general"}, "body"),
        ({"section": "general", "body": "x", "colour": "red"}, "colour"),
    ],
)
def test_a_malformed_comment_names_the_field(carol_customer, proposed, payload, field):
    response = api(carol_customer).post(url(proposed, "comments/"), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Comment.objects.filter(agreement=proposed).exists()


def test_the_author_of_a_comment_is_always_the_signed_in_user(carol_customer, proposed):
    # Read-only fields sent with a write are refused, naming them, so a client never
    # believes it set them.
    response = api(carol_customer).post(
        url(proposed, "comments/"),
        {"section": "general", "body": "x", "author": "alice_manager", "requests_change": True},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "author" in response.json()
    assert not Comment.objects.filter(agreement=proposed).exists()

    response = api(carol_customer).post(
        url(proposed, "comments/"), {"section": "general", "body": "x"}, format="json"
    )
    assert response.status_code == 201, response.content
    comment = Comment.objects.get(agreement=proposed)
    assert (comment.author, comment.requests_change) == (carol_customer, False)


def test_an_ended_agreement_takes_no_comments(carol_customer, proposed):
    Agreement.objects.filter(pk=proposed.pk).update(status=Agreement.Status.TERMINATED)

    response = api(carol_customer).post(
        url(proposed, "comments/"), {"section": "general", "body": "Late"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {"status": ["The agreement has ended; it takes no more comments."]}


# --- History -------------------------------------------------------------------------------


def test_history_is_newest_first_and_paginated(alice_manager, carol_customer, proposed):
    step(carol_customer, proposed, "accept", version=1)

    page = ok(api(alice_manager).get(url(proposed, "history/")))

    assert set(page) == {"count", "next", "previous", "results"}
    # The customer's acceptance agreed the provider's proposal: accepted, then the transition.
    actions = [event["action"] for event in page["results"]]
    assert actions.index("transition") < actions.index("accepted")
    newest = page["results"][actions.index("accepted")]
    assert (newest["action"], newest["actor_name"], newest["object_repr"]) == (
        "accepted",
        carol_customer.display_name,
        f"{proposed.reference} v1",
    )
    times = [event["at"] for event in page["results"]]
    assert times == sorted(times, reverse=True)
    assert page["count"] == len(page["results"])
    accepted = ok(api(alice_manager).get(url(proposed, "history/?action=accepted")))
    assert [e["action"] for e in accepted["results"]] == ["accepted"]


# --- The schema ----------------------------------------------------------------------------

ENDPOINTS = {
    "/api/agreements/{agreement_pk}/lifecycle/": ["get"],
    "/api/agreements/{agreement_pk}/transitions/": ["post"],
    "/api/agreements/{agreement_pk}/versions/": ["get"],
    "/api/agreements/{agreement_pk}/versions/{number}/": ["get"],
    "/api/agreements/{agreement_pk}/versions/compare/": ["get"],
    "/api/agreements/{agreement_pk}/comments/": ["get", "post"],
    "/api/agreements/{agreement_pk}/history/": ["get"],
    "/api/agreements/{agreement_pk}/reviews/": ["get"],
    "/api/agreements/{agreement_pk}/reviews/{id}/": ["get"],
}


def test_schema_documents_the_lifecycle_endpoints_with_examples(client):
    schema = client.get("/api/schema/?format=json").json()

    for path, methods in ENDPOINTS.items():
        assert sorted(schema["paths"][path]) == sorted(methods), path
        for method in methods:
            operation = schema["paths"][path][method]
            assert operation["description"], f"{method} {path}"
            bodies = [
                media
                for part in (operation.get("requestBody", {}), *operation["responses"].values())
                for media in part.get("content", {}).values()
            ]
            assert any("examples" in media for media in bodies), f"{method} {path}"
    transition = schema["paths"]["/api/agreements/{agreement_pk}/transitions/"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(transition["responses"])
    state = schema["components"]["schemas"]["LifecycleState"]
    assert set(state["properties"]) == {
        "status",
        "status_label",
        "signed",
        "takes_effect_on",
        "stage",
        "latest_version",
        "in_force_version",
        "available_actions",
    }
