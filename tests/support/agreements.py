"""Fixtures for the agreements app: demo calendars and tiers, services, an agreement."""

from __future__ import annotations

from datetime import date

import pytest

from agreements.demo import seed_calendars, seed_services, seed_tiers
from agreements.models import TierTarget
from agreements.services.drafting import agreement_create_from_tier

# Whether this run has seeded the demo tiers once with every check of ``full_clean``.
_tiers_validated = False


def complete_for_proposal(agreement):
    """Fill what a tier cannot fill in for the customer, so that every section is complete
    (agreements/completeness.py) and the agreement can be proposed without confirming gaps.
    Saves ``agreement`` (with any change made to it in memory)."""
    agreement.service_description = agreement.service_description or (
        "Operation of the customer portal."
    )
    agreement.change_policy = agreement.change_policy or "Normal changes go through the CAB."
    agreement.rto_minutes = agreement.rto_minutes or 240
    agreement.rpo_minutes = agreement.rpo_minutes or 60
    agreement.dr_plan_reference = agreement.dr_plan_reference or "DR plan v3 (Confluence DR-3)"
    agreement.security_procedures = agreement.security_procedures or (
        "Least privilege; quarterly access reviews."
    )
    agreement.save()
    if not agreement.support_channels.exists():
        agreement.support_channels.create(kind="email", contact="desk@provider.example")
    return agreement


@pytest.fixture
def calendars(db) -> dict:
    return seed_calendars()


@pytest.fixture
def tiers(calendars) -> dict:
    """The demo tiers (Gold, Silver, Bronze) with their targets and credit bands.

    ``seed_tiers`` runs ``full_clean`` on each of the 42 targets, and Django validates each of
    their check and unique constraints with a query of its own: some 340 queries per seeding,
    the costliest fixture of the suite (some 940 tests use it). The first seeding of a run
    validates everything; the later ones, which save the same constant rows, leave those
    constraints to PostgreSQL, which checks the very same constraints on every INSERT (a
    violation still fails the test, as an IntegrityError). Field and model validation
    (``clean_fields``, ``clean``) runs every time, and seeding through ``seed_demo`` is untouched.
    """
    global _tiers_validated
    if not _tiers_validated:
        seeded = seed_tiers(calendars)
        _tiers_validated = True
        return seeded
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TierTarget, "validate_constraints", _constraints_left_to_postgresql)
        return seed_tiers(calendars)


def _constraints_left_to_postgresql(self, exclude=None) -> None:
    """``Model.validate_constraints`` for rows whose constraints the database checks."""


@pytest.fixture
def services(alice_manager) -> dict:
    return seed_services(alice_manager)


@pytest.fixture
def acme_agreement(tiers, services, acme, alice_manager, carol_customer):
    """A Gold draft for Acme, drafted by Alice, with Carol as the customer signatory."""
    return agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Customer Portal – Gold",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        effective_to=date(2027, 12, 31),
        created_by=alice_manager,
    )


def propose_to_customer(agreement, manager):
    """Fill the sections a tier cannot (complete_for_proposal) and send the agreement to its
    customer as the next version: a draft is the provider's until proposed, so customers see
    it only then."""
    from agreements.models import Signatory
    from agreements.services import lifecycle
    from sla_portal.core.models import User

    for side, users in (
        ("provider", User.objects.filter(pk=manager.pk)),
        ("customer", User.objects.filter(organisation=agreement.customer, is_active=True)),
    ):
        person = users.order_by("pk").first()
        if person is not None and not agreement.signatories.filter(side=side).exists():
            Signatory.objects.create(
                agreement=agreement,
                side=side,
                name=person.display_name,
                role="Signatory",
                organisation_name=person.organisation.name,
                email=person.email,
            )
    agreement.service_description = agreement.service_description or "Operation of the service."
    complete_for_proposal(agreement)
    return lifecycle.propose(agreement, manager)


@pytest.fixture
def active_acme_agreement(acme_agreement, alice_manager, carol_customer):
    """The Gold agreement for Acme, proposed, accepted and signed by both sides: in force
    since 2026-01-01 and measured against its version 1."""
    from agreements.services import lifecycle

    acme_agreement.service_description = "Operation of the customer portal."
    acme_agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(acme_agreement)
    version = lifecycle.propose(acme_agreement, alice_manager)
    lifecycle.accept(acme_agreement, carol_customer, version.number)
    lifecycle.sign(acme_agreement, alice_manager)
    lifecycle.sign(acme_agreement, carol_customer)
    acme_agreement.refresh_from_db()
    assert acme_agreement.status == "active"
    return acme_agreement


@pytest.fixture
def globex_agreement(tiers, services, globex, alice_manager):
    return agreement_create_from_tier(
        tier=tiers["silver"],
        customer=globex,
        title="Patient Records – Silver",
        services=[services["records"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )


__all__ = [
    "acme_agreement",
    "active_acme_agreement",
    "calendars",
    "complete_for_proposal",
    "globex_agreement",
    "propose_to_customer",
    "services",
    "tiers",
]
