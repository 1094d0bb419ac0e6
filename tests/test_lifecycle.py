"""The lifecycle services: negotiate, finalize, activate, review; frozen versions; audit."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from agreements import lifecycle as machine
from agreements.lifecycle import TransitionError
from agreements.models import Agreement, AgreementVersion, AuditEvent, FrozenVersionError, Review
from agreements.services import lifecycle
from agreements.services import reviews as review_services
from agreements.snapshot import content_hash
from sla_portal.core.models import Notification
from tests.support.agreements import complete_for_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposable(acme_agreement):
    acme_agreement.service_description = "Operation of the customer portal."
    acme_agreement.change_policy = "Normal changes go through the CAB."
    return complete_for_proposal(acme_agreement)


def walk_to_active(agreement, manager, approver) -> AgreementVersion:
    version = lifecycle.propose(agreement, manager)
    lifecycle.accept(agreement, approver, version.number)
    lifecycle.sign(agreement, manager)
    lifecycle.sign(agreement, approver)
    return version


# --- the pure state machine ---------------------------------------------------------------


def test_state_machine_names_who_may_act_and_when():
    assert machine.check("propose", "draft", {machine.MANAGER}) == "in_negotiation"
    with pytest.raises(TransitionError, match="Only a customer approver may request changes"):
        machine.check("request_changes", "in_negotiation", {machine.MANAGER})
    with pytest.raises(TransitionError, match="the agreement is active"):
        machine.check("propose", "active", {machine.MANAGER})
    with pytest.raises(TransitionError, match="not an action"):
        machine.check("explode", "draft", {machine.MANAGER})
    assert [a.name for a in machine.available("under_review", {machine.MANAGER})] == [
        "continue",
        "renegotiate",
        "terminate",
    ]


# --- negotiate ---------------------------------------------------------------------------


def test_an_incomplete_agreement_cannot_be_proposed(acme_agreement, alice_manager):
    with pytest.raises(TransitionError, match="Before proposing, complete Service description"):
        lifecycle.propose(acme_agreement, alice_manager)
    assert not acme_agreement.versions.exists()


def test_proposal_freezes_a_version_and_emails_the_approvers(
    proposable, alice_manager, carol_customer
):
    version = lifecycle.propose(proposable, alice_manager, note="First draft")
    proposable.refresh_from_db()
    assert proposable.status == "in_negotiation"
    assert version.number == 1
    assert version.content_hash == content_hash(version.snapshot)
    assert version.snapshot["terms"]["reference"] == proposable.reference
    emails = Notification.objects.filter(kind="agreement.proposal_sent")
    assert [n.recipient for n in emails] == [carol_customer.email]


def test_counter_proposal_creates_the_next_version_and_keeps_the_first(
    proposable, alice_manager, carol_customer
):
    first = lifecycle.propose(proposable, alice_manager)
    lifecycle.request_changes(
        proposable, carol_customer, "P1 response must be 10 minutes", "support"
    )
    assert Notification.objects.filter(kind="agreement.changes_requested").exists()
    with pytest.raises(TransitionError, match="Nothing changed since version 1"):
        lifecycle.propose(proposable, alice_manager)
    target = proposable.targets.get(metric="response_time", priority="P1")
    target.target_value = D(10)
    target.save()
    second = lifecycle.propose(proposable, alice_manager, note="P1 response now 10 minutes")
    first.refresh_from_db()
    assert second.number == 2
    assert first.content_hash == content_hash(first.snapshot)
    p1 = next(t for t in first.snapshot["targets"] if t["key"] == "response_time|P1||")
    assert p1["target_value"] == "15"


def test_only_the_latest_version_can_be_accepted_and_only_once_per_side(
    proposable, alice_manager, carol_customer, victor_viewer
):
    lifecycle.propose(proposable, alice_manager)
    proposable.service_description += " Extra."
    proposable.save()
    lifecycle.propose(proposable, alice_manager)
    with pytest.raises(TransitionError, match="Version 1 is not the one under negotiation"):
        lifecycle.accept(proposable, carol_customer, 1)
    with pytest.raises(TransitionError, match="Only a customer approver may accept"):
        lifecycle.accept(proposable, victor_viewer, 2)
    # The provider accepted by proposing: its own proposal is not its to accept.
    with pytest.raises(machine.NotYourStep, match="the provider's own proposal"):
        lifecycle.accept(proposable, alice_manager, 2)
    lifecycle.accept(proposable, carol_customer, 2)
    with pytest.raises(TransitionError, match="the agreement is agreed"):
        lifecycle.accept(proposable, carol_customer, 2)
    proposable.refresh_from_db()
    assert proposable.status == "agreed"  # the provider's proposal, the customer's acceptance


def test_both_acceptances_agree_and_all_signatures_activate(
    proposable, alice_manager, carol_customer
):
    version = lifecycle.propose(proposable, alice_manager)
    lifecycle.accept(proposable, carol_customer, 1)
    proposable.refresh_from_db()
    assert proposable.status == "agreed"
    with pytest.raises(TransitionError, match="Cannot send proposal"):
        lifecycle.propose(proposable, alice_manager)
    lifecycle.sign(proposable, alice_manager)
    with pytest.raises(TransitionError, match="already signed"):
        lifecycle.sign(proposable, alice_manager)
    proposable.refresh_from_db()
    assert proposable.status == "agreed"
    lifecycle.sign(proposable, carol_customer)
    proposable.refresh_from_db()
    version.refresh_from_db()
    assert version.is_final
    assert proposable.status == "active"  # effective since 2026-01-01
    assert proposable.in_force_version == version
    assert proposable.reviews.get().due_date > date.today()
    kinds = set(Notification.objects.values_list("kind", flat=True))
    assert {"agreement.accepted", "agreement.signed", "agreement.activated"} <= kinds


def test_someone_not_named_cannot_sign(proposable, alice_manager, carol_customer, victor_viewer):
    version = lifecycle.propose(proposable, alice_manager)
    lifecycle.accept(proposable, carol_customer, version.number)
    with pytest.raises(TransitionError, match="Only a named signatory may sign"):
        lifecycle.sign(proposable, victor_viewer)


def test_future_agreement_waits_for_its_effective_date(proposable, alice_manager, carol_customer):
    Agreement.objects.filter(pk=proposable.pk).update(
        effective_from=date.today() + timedelta(days=10)
    )
    proposable.refresh_from_db()
    walk_to_active(proposable, alice_manager, carol_customer)
    proposable.refresh_from_db()
    assert proposable.status == "agreed"
    assert lifecycle.activate_due(date.today()) == 0
    assert lifecycle.activate_due(date.today() + timedelta(days=10)) == 1
    assert lifecycle.activate_due(date.today() + timedelta(days=10)) == 0  # idempotent
    proposable.refresh_from_db()
    assert proposable.status == "active"


# --- frozen versions ---------------------------------------------------------------------


def test_a_final_version_cannot_be_changed_through_the_orm(
    proposable, alice_manager, carol_customer
):
    version = walk_to_active(proposable, alice_manager, carol_customer)
    version.refresh_from_db()
    version.snapshot["terms"]["title"] = "Something else"
    with pytest.raises(FrozenVersionError):
        version.save()
    with pytest.raises(FrozenVersionError):
        version.delete()


def test_the_database_refuses_to_change_a_version(proposable, alice_manager, carol_customer):
    version = walk_to_active(proposable, alice_manager, carol_customer)
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AgreementVersion.objects.filter(pk=version.pk).update(content_hash="0" * 64)
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AgreementVersion.objects.filter(pk=version.pk).update(finalized_at=None)
    with (
        pytest.raises((DatabaseError, IntegrityError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE agreements_agreementversion SET snapshot = %s WHERE id = %s",
            ['{"schema": 1}', version.pk],
        )
    version.refresh_from_db()
    assert version.content_hash == content_hash(version.snapshot)


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="SQLite guards deletes in the model"
)
def test_postgres_refuses_to_delete_a_version(proposable, alice_manager):
    version = lifecycle.propose(proposable, alice_manager)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM agreements_agreementversion WHERE id = %s", [version.pk])


def test_the_working_copy_of_an_active_agreement_is_not_editable(
    proposable, alice_manager, carol_customer
):
    walk_to_active(proposable, alice_manager, carol_customer)
    proposable.refresh_from_db()
    assert not proposable.is_editable


# --- review ------------------------------------------------------------------------------


def test_review_continue_renegotiate_terminate(proposable, alice_manager, carol_customer):
    first = walk_to_active(proposable, alice_manager, carol_customer)
    review = review_services.review_start(proposable, alice_manager)
    proposable.refresh_from_db()
    assert proposable.status == "under_review"
    review_services.review_decide(
        proposable, alice_manager, "renegotiate", findings="P1 missed twice",
        root_causes="On-call rota gap", lessons="Add a second on-call engineer",
        actions=[{"description": "Fix the rota", "owner": alice_manager, "due_date": date.today()}],
    )  # fmt: skip
    proposable.refresh_from_db()
    review.refresh_from_db()
    assert proposable.status == "renegotiating"
    assert proposable.in_force_version == first  # the signed version stays in force
    assert review.decision == "renegotiate" and review.actions.count() == 1
    assert proposable.is_editable
    proposable.maintenance_max_minutes = 180
    proposable.save()
    second = lifecycle.propose(proposable, alice_manager, note="Less maintenance")
    assert second.number == 2
    lifecycle.accept(proposable, carol_customer, 2)
    lifecycle.sign(proposable, alice_manager)
    lifecycle.sign(proposable, carol_customer)
    proposable.refresh_from_db()
    assert proposable.status == "active"
    assert proposable.in_force_version == second


def test_review_reminders_go_out_once_per_review_and_recipient(
    proposable, alice_manager, carol_customer
):
    walk_to_active(proposable, alice_manager, carol_customer)
    review = proposable.reviews.get()
    early = review.due_date - timedelta(days=20)
    assert review_services.send_review_reminders(early) == 0
    day = review.due_date - timedelta(days=14)
    assert review_services.send_review_reminders(day) == 1
    review_services.send_review_reminders(day + timedelta(days=1))
    reminders = Notification.objects.filter(kind="agreement.review_due")
    assert sorted(reminders.values_list("recipient", flat=True)) == sorted(
        [alice_manager.email, carol_customer.email]
    )


def test_due_reviews_start_and_ended_agreements_expire(proposable, alice_manager, carol_customer):
    walk_to_active(proposable, alice_manager, carol_customer)
    due = proposable.reviews.get().due_date
    assert review_services.start_due_reviews(due - timedelta(days=1)) == 0
    assert review_services.start_due_reviews(due) == 1
    proposable.refresh_from_db()
    assert proposable.status == "under_review"
    assert review_services.expire_ended(date(2028, 1, 1)) == 1
    proposable.refresh_from_db()
    assert proposable.status == "expired"
    assert Review.objects.filter(agreement=proposable, status="in_progress").exists()


# --- audit -------------------------------------------------------------------------------


def test_changes_and_transitions_are_in_the_append_only_trail(
    proposable, alice_manager, carol_customer
):
    target = proposable.targets.get(metric="availability")
    target.threshold_value = D("99.4")
    target.save()
    lifecycle.propose(proposable, alice_manager)
    changed = AuditEvent.objects.get(
        object_type="target", action="changed", object_id=str(target.pk)
    )
    assert changed.before == {"threshold_value": "99.5"}
    assert changed.after == {"threshold_value": "99.4"}
    assert changed.agreement_id == proposable.pk
    proposed = AuditEvent.objects.get(action="proposed", agreement=proposable)
    assert proposed.actor == alice_manager
    assert proposed.before == {"status": "draft"}
    with pytest.raises(ValueError, match="append-only"):
        proposed.save()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEvent.objects.filter(pk=proposed.pk).update(message="rewritten")


def test_calendar_changes_are_audited(calendars):
    office = calendars["office"]
    office.timezone = "Europe/Paris"
    office.save()
    event = AuditEvent.objects.filter(object_type="calendar", object_id=str(office.pk)).first()
    assert event.after == {"timezone": "Europe/Paris"}
