"""A replay of the version in force gives the stored evaluation's verdicts, also where the
term starts: tickets opened before it are not timed, a term starting mid-month is measured
from its first day; ``until`` is the end of that day in each target's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from agreements.terms import measured_terms
from monitoring.evaluation.periods import evaluate_agreement_periods
from monitoring.evaluation.replay import until_instant
from monitoring.evaluation.tickets import evaluate_tickets
from monitoring.models import Outage, PeriodResult, Source, Ticket, UptimeCheck
from reporting.replay.runs import ReplayRequest, run_replay
from reporting.views.replay import display_rows
from tests.support.agreements import complete_for_proposal
from tests.support.replay import *  # noqa: F403  (fixtures)

pytestmark = pytest.mark.django_db
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def _stored(agreement, month_end: datetime) -> dict:
    """The stored monthly results of the month ending at ``month_end`` (in any zone)."""
    return {
        row.target_key: (row.status, row.value)
        for row in PeriodResult.objects.filter(
            agreement=agreement,
            period="month",
            period_end__gt=month_end - timedelta(hours=14),
            period_end__lt=month_end + timedelta(hours=14),
        )
    }


def _replayed(side: dict, month: str) -> dict:
    return {
        target["key"]: (period["status"], period["value"])
        for target in side["targets"]
        if target["period"] == "month"
        for period in target["periods"]
        if period["month"] == month
    }


def _ticket(agreement, source, services, external_id, opened, response_minutes):
    return Ticket.objects.create(
        source=source,
        external_id=external_id,
        customer=agreement.customer,
        agreement=agreement,
        service=services["portal"],
        priority="P1",
        state="resolved",
        opened_at=opened,
        first_response_at=opened + timedelta(minutes=response_minutes),
        resolved_at=opened + timedelta(hours=2),
    )


def test_in_force_replay_ignores_tickets_opened_before_the_term(counter_proposal, acme, services):
    """In force from 1 January 2026 (local): a P1 ticket opened five minutes before and
    answered late is not the term's; one opened in January and answered in time is."""
    agreement = counter_proposal
    p1 = next(t for t in measured_terms(agreement).targets if t.label == "Response time (P1)")
    terms_zone = ZoneInfo(p1.zone)
    term_start = datetime(2026, 1, 1, tzinfo=terms_zone)
    source = Source.objects.create(customer=acme, name="Desk", timezone="UTC")
    early = _ticket(agreement, source, services, "INC-0", term_start - timedelta(minutes=5), 40)
    inside = _ticket(agreement, source, services, "INC-1", term_start + timedelta(days=9), 5)
    now = timezone.now()
    evaluate_tickets([early.pk, inside.pk], now)
    evaluate_agreement_periods(agreement, now)
    stored = _stored(agreement, FEB)

    request = ReplayRequest("1", 1, date(2026, 1, 31))
    replay = run_replay(agreement, agreement.in_force_version.snapshot, "Version 1", request)
    assert _replayed(replay["current"], "2026-01") == stored
    assert _replayed(replay["proposed"], "2026-01") == stored  # the same terms, as in force
    assert stored[p1.key] == ("met", 100)


@pytest.fixture
def mid_month(tiers, services, acme, alice_manager, carol_customer):
    """Gold in force from 15 January 2026; the portal went down for five hours on
    10 January, before the term, and was watched every hour."""
    agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Customer Portal – Gold",
        services=[services["portal"]],
        effective_from=date(2026, 1, 15),
        effective_to=date(2027, 12, 31),
        created_by=alice_manager,
    )
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, carol_customer, version.number)
    lifecycle.sign(agreement, alice_manager)
    lifecycle.sign(agreement, carol_customer)
    agreement.refresh_from_db()
    source = Source.objects.create(customer=acme, name="Monitor", timezone="UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    UptimeCheck.objects.bulk_create(
        UptimeCheck(
            service=services["portal"],
            source=source,
            checked_at=start + timedelta(hours=n),
            status="up",
        )
        for n in range(24 * 59)
    )
    down = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    Outage.objects.create(
        service=services["portal"],
        source=source,
        started_at=down,
        ended_at=down + timedelta(hours=5),
    )
    return agreement


def test_a_term_starting_mid_month_is_replayed_from_its_first_day(mid_month):
    agreement = mid_month
    evaluate_agreement_periods(agreement, timezone.now())
    stored = _stored(agreement, FEB)
    request = ReplayRequest("1", 2, date(2026, 2, 28))
    replay = run_replay(agreement, agreement.in_force_version.snapshot, "Version 1", request)
    january = _replayed(replay["current"], "2026-01")
    assert january == stored
    availability = next(t for t in replay["current"]["targets"] if t["metric"] == "availability")
    assert availability["periods"][0]["status"] == "met"  # the outage was before the term
    # The sides are matched by month in the table.
    rows = display_rows(replay)
    assert all(cell["current"] for row in rows for cell in row["cells"])


def test_until_is_the_end_of_that_day_in_the_targets_zone():
    berlin = until_instant(date(2026, 3, 31), "Europe/Berlin")
    assert berlin == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert until_instant(date(2026, 3, 31), "UTC") == datetime(2026, 4, 1, tzinfo=UTC)


def test_targets_of_different_lengths_share_one_span_of_months(counter_proposal, client):
    """A quarterly target replayed over 12 months gives 4 quarters (not 12 quarters, three
    years); the sentence says so; the credit row has a cell per month adding up to the
    total."""
    from decimal import Decimal

    from reporting.views.replay import credit_cells

    agreement = counter_proposal
    quarterly = agreement.targets.get(metric="availability")
    quarterly.period = "quarter"
    quarterly.target_value = Decimal("99.99")
    quarterly.save()
    from agreements.snapshot import build_snapshot

    request = ReplayRequest("draft", 12, date(2026, 3, 31))
    replay = run_replay(agreement, build_snapshot(agreement), "Working copy", request)
    assert replay["months"] == [f"2025-{m:02d}" for m in range(4, 13)] + [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    quarters = [t for t in replay["proposed"]["targets"] if t["period"] == "quarter"]
    assert quarters and all(len(t["periods"]) == 4 for t in quarters)
    assert [p["month"] for p in quarters[0]["periods"]] == [
        "2025-06",
        "2025-09",
        "2025-12",
        "2026-03",
    ]
    months = [t for t in replay["proposed"]["targets"] if t["period"] == "month"]
    assert all(len(t["periods"]) == 12 for t in months)
    sentence = next(s for s in replay["summary"] if "99.99 %" in s)
    assert "of the 4 quarters of the last 12 months" in sentence
    assert (
        replay["summary"][-1].startswith("The proposed credit schedule would have paid")
        and "over the 12 months replayed" in replay["summary"][-1]
    )
    cells = credit_cells(replay)
    assert len(cells) == 12
    total = sum(Decimal(c["amount"]) for c in cells if c)
    assert total == Decimal(replay["proposed"]["credits"]["total"]) > 0
    rows = display_rows(replay)
    quarter_row = next(r for r in rows if r["target"]["period"] == "quarter")
    assert [c is not None for c in quarter_row["cells"]] == [False, False, True] * 4
