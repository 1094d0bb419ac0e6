"""Agreements from tiers, the database's own guards, tier differences and completeness."""

import threading
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from agreements.facts import missing_sections
from agreements.models import Agreement, Target
from agreements.services.drafting import AgreementError, agreement_create_from_tier, next_reference
from agreements.tier_differences import tier_differences

pytestmark = pytest.mark.django_db


def test_new_agreement_from_tier_copies_targets_hours_and_charges(acme_agreement, tiers):
    gold = tiers["gold"]
    assert acme_agreement.status == Agreement.Status.DRAFT
    assert acme_agreement.targets.count() == gold.targets.count() > 10
    assert acme_agreement.credit_bands.count() == gold.credit_bands.count()
    assert acme_agreement.fee_amount == gold.fee_amount
    assert acme_agreement.review_interval_months == gold.review_interval_months
    assert list(acme_agreement.service_calendars.all()) == [gold.service_calendar]
    assert acme_agreement.priority_definitions.count() == 4
    sides = set(acme_agreement.signatories.values_list("side", "name"))
    assert sides == {("provider", "Alice Manager"), ("customer", "Carol Customer")}
    assert tier_differences(acme_agreement) == []


@pytest.mark.django_db(transaction=True)
def test_agreements_created_at_the_same_moment_get_different_references(
    tiers, services, acme, alice_manager
):
    """Two managers press "Create" at once: each agreement gets its own number instead of
    one of them failing on the unique reference."""
    barrier = threading.Barrier(4)
    made: list[str] = []
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            barrier.wait()
            agreement = agreement_create_from_tier(
                tier=tiers["gold"],
                customer=acme,
                title=f"Concurrent {i}",
                services=[services["portal"]],
                effective_from=date(2026, 1, 1),
                created_by=alice_manager,
            )
            made.append(agreement.reference)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    year = date.today().year
    assert sorted(made) == [f"SLA-{year}-{n:04d}" for n in range(1, 5)]


def test_references_are_numbered_per_year(acme_agreement):
    assert acme_agreement.reference.startswith(f"SLA-{date.today().year}-")
    assert next_reference() != acme_agreement.reference


def test_agreement_with_the_provider_is_refused(tiers, provider_org):
    with pytest.raises(AgreementError, match="customer organisation"):
        agreement_create_from_tier(
            tier=tiers["gold"],
            customer=provider_org,
            title="x",
            services=[],
            effective_from=date(2026, 1, 1),
        )


def test_agreement_must_end_after_it_starts(tiers, acme):
    with pytest.raises(ValidationError, match="end after it starts"):
        agreement_create_from_tier(
            tier=None,
            customer=acme,
            title="x",
            services=[],
            effective_from=date(2026, 5, 1),
            effective_to=date(2026, 4, 1),
        )
    assert not Agreement.objects.exists()


def test_changes_show_as_differences_from_the_tier(acme_agreement):
    target = acme_agreement.targets.get(metric="response_time", priority="P1")
    target.target_value = D(10)
    target.save()
    acme_agreement.fee_amount = D("9999.00")
    acme_agreement.save()
    diffs = {d.what: (d.tier_value, d.agreement_value) for d in tier_differences(acme_agreement)}
    assert diffs["Response time (P1): target value"] == (D(15), D(10))
    assert diffs["fee amount"] == (D("12000.00"), D("9999.00"))


@pytest.mark.parametrize(
    ("target_value", "threshold_value", "unit", "direction"),
    [
        (D(30), D(15), "minutes", "lower"),  # threshold better than target
        (D("99.5"), D("99.9"), "percent", "higher"),  # threshold better than target
        (D(101), D(99), "percent", "higher"),  # percentage out of range
        (D(0), D(0), "minutes", "lower"),  # time not positive
    ],
)
def test_database_refuses_unrealistic_targets(
    acme_agreement, target_value, threshold_value, unit, direction
):
    with pytest.raises(IntegrityError), transaction.atomic():
        Target.objects.create(
            agreement=acme_agreement,
            metric="response_time",
            priority="P1",
            target_value=target_value,
            threshold_value=threshold_value,
            unit=unit,
            direction=direction,
            period="month",
            data_source="tickets",
        )


def test_model_validation_explains_smart_failures(acme_agreement):
    target = Target(
        agreement=acme_agreement,
        metric="response_time",
        priority="",
        target_value=D(30),
        threshold_value=D(15),
        unit="minutes",
        direction="lower",
        period="month",
        data_source="tickets",
    )
    with pytest.raises(ValidationError) as caught:
        target.full_clean()
    errors = caught.value.message_dict
    assert "Specific" in errors["priority"][0]
    assert "Realistic" in errors["threshold_value"][0]


def test_missing_sections_lists_what_a_proposal_needs(acme_agreement):
    # Issue 13: a section is complete only with its essentials (docs/agreements.md), so
    # continuity needs RTO, RPO and the DR plan, support a desk channel, security its text.
    missing = missing_sections(acme_agreement)
    assert "description" in missing  # no service description yet
    assert "changes" in missing
    assert missing["continuity"] == [
        "RTO (recovery time objective)",
        "RPO (recovery point objective)",
        "disaster-recovery plan reference",
    ]
    assert missing["support"] == ["a service-desk channel (phone, email or portal)"]
    assert missing["security"] == ["security procedures"]
    assert "availability" not in missing  # Gold's availability target was copied
    acme_agreement.service_description = "Hosting and support of the portal."
    acme_agreement.change_policy = "Changes go through the CAB."
    acme_agreement.rto_minutes = 240
    acme_agreement.rpo_minutes = 60
    acme_agreement.dr_plan_reference = "DR-PLAN-7"
    acme_agreement.security_procedures = "ISO 27001 controls."
    acme_agreement.save()
    acme_agreement.support_channels.create(kind="email", contact="desk@example.com")
    assert missing_sections(acme_agreement) == {}


def test_customers_see_only_their_agreements(
    acme_agreement, globex_agreement, carol_customer, other_org_viewer, alice_manager
):
    assert list(Agreement.objects.visible_to(carol_customer)) == [acme_agreement]
    assert list(Agreement.objects.visible_to(other_org_viewer)) == [globex_agreement]
    assert Agreement.objects.visible_to(alice_manager).count() == 2
    assert set(Target.objects.visible_to(carol_customer).values_list("agreement", flat=True)) == {
        acme_agreement.pk
    }
