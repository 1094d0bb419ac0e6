"""The deadline loop's steps are independent and bounded, on PostgreSQL.

An agreement whose evaluation raises (a data bug, simulated by making the evaluation of
that one agreement raise) must not stop the other agreements' alerts, the other steps or
the heartbeat, nor fail again at every tick; an error that is not a lost connection is not
reported as "database unreachable"; and a tick evaluates a bounded number of agreements
whose availability moment came, leaving the rest to the next tick at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, timedelta

import pytest
from django.db import IntegrityError

from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from monitoring.evaluation import loop, period_deadlines
from monitoring.evaluation.loop import HEARTBEAT_NAME, DeadlineLoop, run_tick
from monitoring.evaluation.period_deadlines import RETRY_AFTER, claim_period_deadlines
from monitoring.evaluation.periods import evaluate_periods
from sla_portal.core.models import Notification, WorkerHeartbeat
from tests.support.agreements import complete_for_proposal
from tests.test_period_deadlines import OPENED, WARNING_AT, alerts, march, near, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_outages(
    active_acme_agreement, tiers, services, acme, acme_desk, alice_manager, carol_customer
):
    """Two Gold agreements of Acme, on the portal and on the records service, both down
    since 12:00 on 10 March: both cross their warning at the same moment."""
    other = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Records – Gold",
        services=[services["records"]],
        effective_from=date(2026, 1, 1),
        effective_to=date(2027, 12, 31),
        created_by=alice_manager,
    )
    complete_for_proposal(other)
    version = lifecycle.propose(other, alice_manager)
    lifecycle.accept(other, carol_customer, version.number)
    lifecycle.sign(other, alice_manager)
    lifecycle.sign(other, carol_customer)
    other.refresh_from_db()
    assert other.status == "active"
    for name in ("portal", "records"):
        send(acme_desk, services[name], (OPENED - timedelta(days=9), "up"), (OPENED, "down"))
    evaluate_periods(OPENED + timedelta(minutes=10))
    first, second = active_acme_agreement, other
    assert near(march(first).next_due, WARNING_AT) and near(march(second).next_due, WARNING_AT)
    return first, second


@pytest.fixture
def no_time_budget(monkeypatch):
    """Both agreements in one tick however slow the machine (the budget has its own test)."""
    monkeypatch.setattr(loop, "TICK_BUDGET", 60.0)


@pytest.fixture
def broken(monkeypatch):
    """Make the evaluation of the agreements put in the returned set raise; count calls."""
    failing: set[int] = set()
    calls: list[int] = []
    real = period_deadlines.evaluate_agreement_periods

    def evaluate(agreement, now, **options):
        calls.append(agreement.pk)
        if agreement.pk in failing:
            raise RuntimeError(f"bad data in agreement {agreement.pk}")
        return real(agreement, now, **options)

    monkeypatch.setattr(period_deadlines, "evaluate_agreement_periods", evaluate)
    return failing, calls


def test_a_failing_agreement_neither_stops_the_others_nor_fails_at_every_tick(
    two_outages, broken, no_time_budget, caplog
):
    bad, good = two_outages
    failing, calls = broken
    failing.add(bad.pk)
    now = WARNING_AT + timedelta(seconds=1)
    WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).delete()

    with caplog.at_level(logging.ERROR):
        result = run_tick(now)

    assert result.failed == ()
    assert result.claimed["availability moments"] == 1
    warning = alerts(march(good))["warning"]
    assert Notification.objects.filter(key=f"alert:{warning.pk}").exists()
    assert WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).exists()
    assert alerts(march(bad)) == {}
    assert march(bad).next_due == now + RETRY_AFTER  # put off, not rolled back to due
    logged = [r for r in caplog.records if f"agreement {bad.pk}" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None

    # The next ticks leave it alone until its retry; then it is evaluated again.
    run_tick(now + timedelta(seconds=1))
    run_tick(now + timedelta(seconds=2))
    assert calls.count(bad.pk) == 1
    failing.clear()
    run_tick(now + RETRY_AFTER)
    assert calls.count(bad.pk) == 2
    assert "warning" in alerts(march(bad))


def test_a_step_that_raises_leaves_the_other_steps_and_the_heartbeat_to_run(
    two_outages, monkeypatch, no_time_budget, caplog
):
    def broken_claim(now, limit):
        raise ValueError("a ticket timer with an impossible deadline")

    monkeypatch.setattr(loop, "claim_due_timer_tickets", broken_claim)
    WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).delete()
    with caplog.at_level(logging.ERROR):
        result = run_tick(WARNING_AT + timedelta(seconds=1))
        run_tick(WARNING_AT + timedelta(seconds=2))
    assert result.failed == ("ticket timers",)
    assert result.claimed["availability moments"] == 2
    first, second = two_outages
    assert "warning" in alerts(march(first)) and "warning" in alerts(march(second))
    assert WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).exists()
    # Logged with its traceback once, not at every tick.
    logged = [r for r in caplog.records if "impossible deadline" in str(r.exc_info)]
    assert len(logged) == 1


@pytest.mark.django_db(transaction=True)  # tick_once closes a connection inside a transaction
def test_an_integrity_error_is_not_reported_as_a_database_outage(monkeypatch, caplog):
    def clash(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(loop, "deliver_new_alerts", clash)
    ticker = DeadlineLoop(threading.Event())
    with caplog.at_level(logging.ERROR):
        result = ticker.tick_once()
    assert result is not None and result.failed == ("alert emails",)
    assert ticker.outage_since is None
    assert not any("unreachable" in r.getMessage() for r in caplog.records)
    assert any("alert emails" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_tick_evaluates_a_bounded_number_of_agreements_and_says_it_is_behind(
    two_outages, broken, no_time_budget, monkeypatch
):
    _, calls = broken
    now = WARNING_AT + timedelta(seconds=1)
    monkeypatch.setattr(period_deadlines, "TICK_LIMIT", 1)
    first = run_tick(now)
    assert first.claimed["availability moments"] == 1 and first.behind
    assert len(calls) == 1
    second = run_tick(now)
    assert second.claimed["availability moments"] == 1 and not second.behind
    assert sorted(calls) == sorted(agreement.pk for agreement in two_outages)


def test_the_time_budget_stops_after_the_first_agreement(two_outages, broken):
    _, calls = broken
    now = WARNING_AT + timedelta(seconds=1)
    assert claim_period_deadlines(now, budget=0.0) == (1, True)
    assert len(calls) == 1
    assert claim_period_deadlines(now, budget=0.0) == (1, False)
    assert len(calls) == 2
