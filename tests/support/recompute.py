"""Fixtures of the recompute tests: a Silver agreement in Berlin's extended hours, two P1
answers that missed their target, and the ``holidays`` package learning two holidays late
(``tests/test_recompute.py`` tells the story)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import agreements.public_holidays
from agreements.services.drafting import agreement_create_from_tier
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import PeriodResult, TicketTimer
from reporting.models import RecomputeRun
from reporting.recompute.runs import recompute_request
from reporting.recompute.steps import recompute_run_to_end
from reporting.services.reports import issue_due_reports
from tests.support.agreements import complete_for_proposal

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SEPTEMBER = date(2026, 9, 1)
# Berlin is UTC+2 until 25 October 2026: 19:50 Berlin is 17:50 UTC.
SEPT_OPENED = datetime(2026, 9, 16, 17, 50, tzinfo=UTC)  # Wednesday 19:50 Berlin
SEPT_ANSWERED = datetime(2026, 9, 17, 5, 25, tzinfo=UTC)  # Thursday 07:25 Berlin
OCT_OPENED = datetime(2026, 10, 13, 17, 50, tzinfo=UTC)  # Tuesday 19:50 Berlin
OCT_ANSWERED = datetime(2026, 10, 14, 5, 25, tzinfo=UTC)  # Wednesday 07:25 Berlin
LATE_HOLIDAYS = {date(2026, 9, 17): "Late holiday", date(2026, 10, 14): "Late holiday"}


@pytest.fixture(autouse=True)
def issue_without_review(settings):
    settings.REPORT_REVIEW_DAYS = 0


@pytest.fixture
def silver(tiers, services, acme, alice_manager, carol_customer):
    """Acme's Silver agreement, in force and monitored since 1 January 2026."""
    from agreements.services import lifecycle

    agreement = agreement_create_from_tier(
        tier=tiers["silver"],
        customer=acme,
        title="Customer Portal – Silver",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        effective_to=date(2027, 12, 31),
        created_by=alice_manager,
    )
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, carol_customer, version.number)
    lifecycle.sign(agreement, alice_manager)
    lifecycle.sign(agreement, carol_customer)
    type(agreement).objects.filter(pk=agreement.pk).update(
        activated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


def ingest(source, agreement, **tickets) -> None:
    rows = [
        {
            "external_id": name,
            "agreement": agreement.reference,
            "priority": "P1",
            "opened_at": opened.isoformat(),
            "first_response_at": answered.isoformat(),
            "resolved_at": (answered + timedelta(minutes=35)).isoformat(),
        }
        for name, (opened, answered) in tickets.items()
    ]
    tickets_ingest(source, rows)


@pytest.fixture
def measured(silver, acme_desk):
    """Two late answers, evaluated on 20 October; September's report issued."""
    ingest(
        acme_desk,
        silver,
        SEPT=(SEPT_OPENED, SEPT_ANSWERED),
        OCT=(OCT_OPENED, OCT_ANSWERED),
    )
    evaluate_pending_tickets(NOW)
    evaluate_periods(NOW)
    issue_due_reports(NOW)
    return silver


@pytest.fixture
def holiday_learned_late(monkeypatch):
    """The ``holidays`` package now knows two Berlin holidays it did not know before."""
    real = agreements.public_holidays.holidays_lib.country_holidays

    def updated(country, subdiv=None, years=()):
        found = dict(real(country, subdiv=subdiv, years=years).items())
        if country == "DE":
            found.update(LATE_HOLIDAYS)
        return found

    monkeypatch.setattr(agreements.public_holidays.holidays_lib, "country_holidays", updated)
    yield
    agreements.public_holidays.public_holidays.cache_clear()


def response_timer(external_id: str) -> TicketTimer:
    return TicketTimer.objects.get(ticket__external_id=external_id, metric="response_time")


def response_period(agreement, month: int) -> PeriodResult:
    return PeriodResult.objects.get(
        agreement=agreement,
        metric="response_time",
        target_key__contains="P1",
        period_start=datetime(2026, month, 1, tzinfo=BERLIN),
    )


def run_agreement(
    agreement, user, now=LATER, reason="Berlin declared two holidays"
) -> RecomputeRun:
    run = recompute_request(user, scope="agreement", agreement=agreement, reason=reason, now=now)
    return recompute_run_to_end(run.pk, now)
