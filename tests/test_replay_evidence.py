"""A replay of proposed targets judges the past with the evaluation's own code: the Gold
tier replayed on the imported devzero health checks gives, month by month, the verdicts the
period evaluation stores for an agreement with those targets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from monitoring.evaluation.periods import evaluate_agreement_periods
from monitoring.importers import healthcheck
from monitoring.imports import import_checks
from monitoring.models import PeriodResult, Source
from reporting.replay.runs import ReplayRequest, run_replay
from tests.support.agreements import complete_for_proposal
from tests.support.data import SHARED_DATA

DEVZERO = SHARED_DATA / "uptime" / "devzero-checks.csv.gz"


@pytest.fixture
def gold_on_devzero(tiers, services, acme, alice_manager, carol_customer):
    """A Gold agreement in force since 1 January 2025 whose portal is watched by the
    devzero health checks of its API (January and February 2025)."""
    agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Customer Portal – Gold",
        services=[services["portal"]],
        effective_from=date(2025, 1, 1),
        effective_to=date(2027, 12, 31),
        created_by=alice_manager,
    )
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, carol_customer, version.number)
    lifecycle.sign(agreement, alice_manager)
    lifecycle.sign(agreement, carol_customer)
    agreement.refresh_from_db()
    parsed = healthcheck.parse_checks(DEVZERO)
    parsed.checks.pop("homepage")
    parsed.checks.pop("dashboard")
    source = Source.objects.create(customer=acme, name="devzero", kind="healthcheck")
    import_checks(source, parsed, {"api": services["portal"]})
    return agreement


@pytest.mark.django_db
def test_gold_replay_on_devzero_gives_the_evaluations_verdicts(gold_on_devzero):
    agreement = gold_on_devzero
    evaluate_agreement_periods(agreement, timezone.now())
    request = ReplayRequest("1", 2, date(2025, 2, 28))
    replay = run_replay(agreement, agreement.in_force_version.snapshot, "Version 1", request)

    stored = {
        (row.target_key, row.period_start): (row.status, row.value)
        for row in PeriodResult.objects.filter(
            agreement=agreement,
            period_start__gte=datetime(2024, 12, 31, tzinfo=UTC),
            period_start__lt=datetime(2025, 3, 1, tzinfo=UTC),
            period="month",
        )
    }
    replayed = {
        (target["key"], datetime.fromisoformat(period["start"])): (
            period["status"],
            period["value"],
        )
        for target in replay["proposed"]["targets"]
        if target["period"] == "month"
        for period in target["periods"]
    }
    assert len(replayed) >= 2 * 10
    assert replayed == stored
    availability = [t for t in replay["proposed"]["targets"] if t["metric"] == "availability"]
    values = [p["value"] for p in availability[0]["periods"]]
    assert all(v is not None for v in values), values  # the checks were measured
