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
from tests.support.replay import *  # noqa: F403  (fixtures)

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


@pytest.mark.slow  # imports 61,000 real health checks (about 13 s)
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


@pytest.mark.django_db
def test_tickets_are_timed_with_the_proposed_target(
    counter_proposal, alice_manager, acme, services
):
    """In force P1 response is 15 minutes: a ticket answered after 20 misses it, as the
    stored evaluation says; the working copy's 30 minutes, timed by the same timer code,
    would have met it."""
    from datetime import timedelta

    from monitoring.evaluation.tickets import evaluate_tickets
    from monitoring.models import Ticket
    from reporting.replay.runs import run_replay as replay_of

    agreement = counter_proposal
    source = Source.objects.create(customer=acme, name="Desk", timezone="UTC")
    opened = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
    ticket = Ticket.objects.create(
        source=source,
        external_id="INC-1",
        customer=acme,
        agreement=agreement,
        service=services["portal"],
        priority="P1",
        state="resolved",
        opened_at=opened,
        first_response_at=opened + timedelta(minutes=20),
        resolved_at=opened + timedelta(hours=2),
    )
    now = timezone.now()
    evaluate_tickets([ticket.pk], now)
    evaluate_agreement_periods(agreement, now)
    row = agreement.targets.get(metric="response_time", priority="P1")
    row.target_value = 30
    row.save()
    from agreements.snapshot import build_snapshot

    request = ReplayRequest("draft", 1, date(2026, 2, 28))
    replay = replay_of(agreement, build_snapshot(agreement), "Working copy", request)
    key = next(
        t["key"] for t in replay["proposed"]["targets"] if t["label"] == "Response time (P1)"
    )
    stored = PeriodResult.objects.get(
        agreement=agreement, target_key=key, period_start=datetime(2026, 2, 1, tzinfo=UTC)
    )
    current = next(t for t in replay["current"]["targets"] if t["key"] == key)
    proposed = next(t for t in replay["proposed"]["targets"] if t["key"] == key)
    assert (current["periods"][0]["status"], current["periods"][0]["value"]) == (
        stored.status,
        stored.value,
    )
    assert stored.status == "breached" and stored.value == 0
    assert (proposed["periods"][0]["status"], proposed["periods"][0]["value"]) == ("met", 100)
