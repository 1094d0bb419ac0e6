"""Guards found in review: signatories cannot be impersonated, what is signed is what is
live, and every record of the negotiation stays as it was written."""

from datetime import date

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from rest_framework.test import APIClient

from agreements.lifecycle import TransitionError
from agreements.models import AgreementVersion, AuditEvent, Comment, Review
from agreements.services import comments as comment_services
from agreements.services import lifecycle
from agreements.services import reviews as review_services
from sla_portal.core.models import Role
from tests.support.actors import make_user
from tests.support.agreements import complete_for_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposable(acme_agreement):
    acme_agreement.service_description = "Operation of the customer portal."
    acme_agreement.change_policy = "Normal changes go through the CAB."
    return complete_for_proposal(acme_agreement)


def agree(agreement, manager, approver) -> AgreementVersion:
    version = lifecycle.propose(agreement, manager)
    lifecycle.accept(agreement, approver, version.number)
    return version


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_edited_signatory_is_linked_again_and_cannot_be_signed_by_the_old_person(
    proposable, alice_manager, carol_customer, victor_viewer
):
    lifecycle.propose(proposable, alice_manager)
    row = proposable.signatories.get(side="customer")
    row.name, row.email = "Victor Viewer", victor_viewer.email
    row.save()
    proposable.service_description += " Now signed by Victor."
    proposable.save()
    version = agree(proposable, alice_manager, carol_customer)
    with pytest.raises(TransitionError, match="Only a named signatory may sign"):
        lifecycle.sign(proposable, carol_customer)
    signature = lifecycle.sign(proposable, victor_viewer)
    assert (signature.name, signature.user) == ("Victor Viewer", victor_viewer)
    assert not version.signatures.filter(user=carol_customer).exists()


def test_a_renamed_signatory_still_has_to_sign(proposable, alice_manager, carol_customer):
    version = agree(proposable, alice_manager, carol_customer)
    carol_customer.username = "carol_renamed"
    carol_customer.save()
    lifecycle.sign(proposable, alice_manager)
    version.refresh_from_db()
    assert not version.is_final
    lifecycle.sign(proposable, carol_customer)
    version.refresh_from_db()
    assert version.is_final


def test_unsent_edits_block_acceptance(proposable, alice_manager, carol_customer):
    version = lifecycle.propose(proposable, alice_manager)
    proposable.fee_amount = 1
    proposable.save()
    with pytest.raises(TransitionError, match="changes not in version 1"):
        lifecycle.accept(proposable, carol_customer, version.number)


def test_calendars_of_signed_agreements_cannot_change(
    client, proposable, alice_manager, carol_customer
):
    agree(proposable, alice_manager, carol_customer)
    calendar = proposable.service_calendars.get()
    response = api(alice_manager).patch(
        f"/api/calendars/{calendar.pk}/", {"timezone": "Europe/Paris"}, format="json"
    )
    assert response.status_code == 409
    assert proposable.reference in response.json()["calendar"][0]
    client.force_login(alice_manager)
    response = client.get(f"/calendars/{calendar.pk}/edit/")
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.timezone != "Europe/Paris"


def test_a_version_record_cannot_be_rewritten(proposable, alice_manager):
    version = lifecycle.propose(proposable, alice_manager, note="original note")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AgreementVersion.objects.filter(pk=version.pk).update(note="rewritten")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AgreementVersion.objects.filter(pk=version.pk).update(finalized_at=version.proposed_at)
    version.refresh_from_db()
    assert version.note == "original note" and version.finalized_at is None


def test_comments_and_decided_reviews_are_frozen(proposable, alice_manager, carol_customer):
    comment = comment_services.comment_add(proposable, carol_customer, "general", "First remark")
    with pytest.raises(ValueError, match="append-only"):
        comment.save()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        Comment.objects.filter(pk=comment.pk).update(body="rewritten")
    agree(proposable, alice_manager, carol_customer)
    lifecycle.sign(proposable, alice_manager)
    lifecycle.sign(proposable, carol_customer)
    review_services.review_start(proposable, alice_manager)
    review = review_services.review_decide(
        proposable, alice_manager, "continue", findings="All met"
    )
    with pytest.raises(ValueError, match="decided review"):
        review.save()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(findings="rewritten")


def test_continuing_on_the_due_date_schedules_the_next_review(
    proposable, alice_manager, carol_customer
):
    agree(proposable, alice_manager, carol_customer)
    lifecycle.sign(proposable, alice_manager)
    lifecycle.sign(proposable, carol_customer)
    due = proposable.reviews.get().due_date
    review_services.review_start(proposable, None, today=due)
    review_services.review_decide(proposable, alice_manager, "continue", today=due)
    upcoming = proposable.reviews.filter(status="scheduled").get()
    assert upcoming.due_date > due


def test_customer_who_accepted_cannot_then_request_changes(
    proposable, alice_manager, carol_customer
):
    version = lifecycle.propose(proposable, alice_manager)
    lifecycle.accept(proposable, carol_customer, version.number)
    # The customer's acceptance of the provider's proposal agrees it: no more change requests.
    with pytest.raises(TransitionError, match="Cannot request changes: the agreement is agreed"):
        lifecycle.request_changes(proposable, carol_customer, "Actually, change X")


def test_a_provider_role_in_a_customer_organisation_grants_nothing(acme):
    impostor = make_user("impostor", acme, Role.CUSTOMER_VIEWER)
    impostor.role = Role.SERVICE_MANAGER  # bypassing validation, as a script might
    impostor.save()
    assert not impostor.can_draft_agreements


def test_calendar_patch_with_an_incomplete_row_is_a_clear_error(alice_manager, calendars):
    office = calendars["office"]
    response = api(alice_manager).patch(
        f"/api/calendars/{office.pk}/", {"hours": [{"weekday": 1}]}, format="json"
    )
    assert response.status_code == 400
    assert "start" in str(response.json())
    response = api(alice_manager).patch(
        f"/api/calendars/{office.pk}/", {"closures": [{"reason": "x"}]}, format="json"
    )
    assert response.status_code == 400


def test_hours_written_through_the_api_and_copied_targets_are_audited(
    alice_manager, calendars, acme_agreement
):
    office = calendars["office"]
    response = api(alice_manager).patch(
        f"/api/calendars/{office.pk}/",
        {"hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.filter(object_type="calendarhours", action="created").exists()
    copied = AuditEvent.objects.filter(agreement=acme_agreement, object_type="target")
    assert copied.count() == acme_agreement.targets.count()


def test_review_actions_are_owned_by_the_provider_only(
    proposable, alice_manager, carol_customer, other_org_viewer
):
    agree(proposable, alice_manager, carol_customer)
    lifecycle.sign(proposable, alice_manager)
    lifecycle.sign(proposable, carol_customer)
    review_services.review_start(proposable, alice_manager)
    response = api(alice_manager).post(
        f"/api/agreements/{proposable.pk}/transitions/",
        {
            "action": "continue",
            "actions": [
                {
                    "description": "x",
                    "owner": other_org_viewer.username,
                    "due_date": str(date.today()),
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "other_org_viewer" in str(response.json())


def test_saving_an_old_copy_never_rewinds_the_lifecycle(proposable, alice_manager):
    stale = type(proposable).objects.get(pk=proposable.pk)  # loaded while still a draft
    lifecycle.propose(proposable, alice_manager)
    stale.title = "Edited in another window"
    stale.save()
    stale.refresh_from_db()
    assert stale.status == "in_negotiation"
    assert stale.title == "Edited in another window"
