"""Fixtures for the agreements app: demo calendars and tiers, services, an agreement."""

from __future__ import annotations

from datetime import date

import pytest

from agreements.demo import seed_calendars, seed_services, seed_tiers
from agreements.services import agreement_create_from_tier


@pytest.fixture
def calendars(db) -> dict:
    return seed_calendars()


@pytest.fixture
def tiers(calendars) -> dict:
    return seed_tiers(calendars)


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


__all__ = ["acme_agreement", "calendars", "globex_agreement", "services", "tiers"]
