"""Availability alerts at the moment the budget is crossed, on PostgreSQL.

An outage goes in through the real ingest service (an uptime check that says "down"), the
period evaluation stores the next crossing in ``PeriodResult.next_due``, and the deadline
loop's ``claim_due_period_deadlines`` claims it at that moment. The Gold agreement measures
availability monthly on a 24x7 UTC calendar: target 99.9 %, threshold 99.5 %, warning at
75 % of the budget. March has 2,678,400 s, so the outage open since 12:00 on the 10th
crosses the warning after 2,008.8 s (12:33:28.8), the target after 2,678.4 s (12:44:38.4)
and the threshold after 13,392 s (15:43:12).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agreements.models import Agreement
from agreements.terms import measured_terms
from monitoring.evaluation.period_deadlines import claim_due_period_deadlines
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Alert, Breach, PeriodResult
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db

OPENED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WARNING_AT = OPENED + timedelta(seconds=2008.8)
MISSED_AT = OPENED + timedelta(seconds=2678.4)
BREACHED_AT = OPENED + timedelta(seconds=13392)
CLOSE = timedelta(microseconds=100)  # Goal.status's tolerance is about 27 us of a month


def near(moment: datetime | None, expected: datetime) -> bool:
    return moment is not None and abs(moment - expected) <= CLOSE


def send(source, service, *checks: tuple[datetime, str]) -> None:
    rows = [{"checked_at": at.isoformat(), "status": status} for at, status in checks]
    checks_ingest(source, service, rows)


@pytest.fixture
def outage(active_acme_agreement, acme_desk, services):
    """The portal up since the 1st and down since 12:00 on the 10th, still down."""
    send(acme_desk, services["portal"], (datetime(2026, 3, 1, tzinfo=UTC), "up"), (OPENED, "down"))
    return active_acme_agreement


def march(agreement: Agreement) -> PeriodResult:
    key = next(t.key for t in measured_terms(agreement).targets if t.metric == "availability")
    return PeriodResult.objects.get(
        agreement=agreement, target_key=key, period_start=datetime(2026, 3, 1, tzinfo=UTC)
    )


def alerts(row: PeriodResult) -> dict[str, Alert]:
    # The period's own levels; burn-rate alerts (a rule each) have tests of their own.
    found = list(Alert.objects.filter(period_result=row, burn_rule=""))
    levels = [alert.level for alert in found]
    assert len(levels) == len(set(levels)), levels  # never two alerts of one level
    return {alert.level: alert for alert in found}


def test_an_open_outage_stores_its_next_crossing_in_the_deadline_column(outage):
    evaluate_periods(OPENED + timedelta(minutes=10))
    row = march(outage)
    assert row.status == "met"
    assert near(row.next_due, WARNING_AT)
    assert alerts(row) == {}


def test_claimed_at_each_moment_the_alert_is_stamped_with_it_exactly_once(outage):
    evaluate_periods(OPENED + timedelta(minutes=10))
    row = march(outage)
    warning_due = row.next_due

    assert claim_due_period_deadlines(warning_due - timedelta(milliseconds=1)) == 0
    assert claim_due_period_deadlines(warning_due) == 1
    row.refresh_from_db()
    assert row.status == "at_risk"
    warning = alerts(row)["warning"]
    assert warning.reached_at == warning_due
    assert warning.raised_at == warning_due
    assert near(row.next_due, MISSED_AT)
    assert Notification.objects.filter(key=f"alert:{warning.pk}").exists()

    # A second claim, and the periodic evaluation half a minute later: nothing new.
    assert claim_due_period_deadlines(warning_due) == 0
    evaluate_periods(warning_due + timedelta(seconds=30))
    assert set(alerts(row)) == {"warning"}

    missed_due = row.next_due
    assert claim_due_period_deadlines(missed_due) == 1
    row.refresh_from_db()
    missed = alerts(row)["missed_target"]
    assert missed.reached_at == missed_due
    assert Breach.objects.get(period_result=row).opened_at == missed_due
    assert near(row.next_due, BREACHED_AT)

    breached_due = row.next_due
    evaluate_periods(breached_due - timedelta(seconds=1))  # the minute's evaluation, just before
    assert claim_due_period_deadlines(breached_due) == 1
    row.refresh_from_db()
    assert alerts(row)["breached"].reached_at == breached_due
    assert row.next_due is None  # nothing more to cross
    emails = Notification.objects.count()
    evaluate_periods(breached_due + timedelta(minutes=5))
    assert set(alerts(row)) == {"warning", "missed_target", "breached"}
    assert Notification.objects.count() == emails


def test_a_periodic_evaluation_after_the_moment_stamps_the_crossing_not_its_own_time(outage):
    """The issue's figures: crossed at 12:33:28.8, evaluated at 12:34:00. The alert says
    12:33:28.8; the miss found later (12:50) says 12:44:38.4."""
    evaluate_periods(OPENED + timedelta(minutes=34))
    row = march(outage)
    assert near(alerts(row)["warning"].reached_at, WARNING_AT)
    evaluate_periods(OPENED + timedelta(minutes=50))
    assert near(alerts(row)["missed_target"].reached_at, MISSED_AT)
    assert near(Breach.objects.get(period_result=row).opened_at, MISSED_AT)


def test_the_deadline_is_cleared_when_the_outage_ends(outage, acme_desk, services):
    evaluate_periods(OPENED + timedelta(minutes=10))
    assert march(outage).next_due is not None
    send(acme_desk, services["portal"], (OPENED + timedelta(minutes=15), "up"))
    evaluate_periods(OPENED + timedelta(minutes=16))
    row = march(outage)
    assert row.next_due is None
    assert claim_due_period_deadlines(WARNING_AT + timedelta(hours=1)) == 0
    assert alerts(row) == {}


def test_a_new_outage_in_the_period_brings_the_deadline_back_sooner(outage, acme_desk, services):
    """15 minutes down (900 s) then up; down again at 13:00 with 1,108.8 s of warning budget
    left: the warning is due at 13:18:28.8."""
    send(acme_desk, services["portal"], (OPENED + timedelta(minutes=15), "up"))
    evaluate_periods(OPENED + timedelta(minutes=16))
    assert march(outage).next_due is None
    again = OPENED + timedelta(hours=1)
    send(acme_desk, services["portal"], (again, "down"))
    evaluate_periods(again + timedelta(seconds=5))
    assert near(march(outage).next_due, again + timedelta(seconds=1108.8))


def test_an_agreement_no_longer_monitored_has_its_deadline_dropped(outage):
    evaluate_periods(OPENED + timedelta(minutes=10))
    row = march(outage)
    Agreement.objects.filter(pk=outage.pk).update(status="terminated")
    assert claim_due_period_deadlines(row.next_due) == 1
    row.refresh_from_db()
    assert row.next_due is None
    assert alerts(row) == {}


def deadline_tick() -> None:
    """One tick of the deadline loop with the real clock: ``run_tick`` where the loop runs
    on its own (``monitoring.evaluation.loop``), else the ``monitoring.tick`` task."""
    try:
        from monitoring.evaluation.loop import run_tick
    except ImportError:
        from monitoring.tasks import tick

        tick()
    else:
        run_tick(timezone.now())


def test_the_deadline_loop_claims_period_deadlines(outage):
    """The deadline loop's tick runs the claim with the real clock: a period due in the
    past is claimed and alerted at once."""
    evaluate_periods(OPENED + timedelta(minutes=10))
    row = march(outage)
    assert row.next_due is not None
    deadline_tick()
    row.refresh_from_db()
    # The real clock is long past March: the period closes, every level is stamped with
    # its moment in March, recorded quietly (older than the alert age limit).
    levels = alerts(row)
    assert near(levels["breached"].reached_at, BREACHED_AT)
    assert row.next_due is None


@pytest.mark.django_db(transaction=True)
def test_two_loops_claim_a_due_period_once(outage, acme_desk, services):
    evaluate_periods(OPENED + timedelta(minutes=10))
    due = march(outage).next_due
    # Committed data stamps the source's evidence: a source silent for 15 minutes is stale
    # and its open outage ends at the evidence (``monitoring.silence``). The monitor still
    # reports the portal down at 12:30, so the outage is going on at the warning moment.
    send(acme_desk, services["portal"], (OPENED + timedelta(minutes=30), "down"))
    barrier = threading.Barrier(2)
    claimed: list[int] = []
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            barrier.wait()
            claimed.append(claim_due_period_deadlines(due))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    row = march(outage)
    assert sorted(claimed) == [0, 1]
    assert list(alerts(row)) == ["warning"]
    assert alerts(row)["warning"].reached_at == due


@pytest.mark.django_db(transaction=True)
def test_a_source_gone_silent_before_the_moment_raises_nothing(outage):
    """The last evidence is the "down" check at 12:00; the source is stale from 12:15, so
    the outage ends at the evidence and the time after is unmeasured: at the moment stored
    at 12:10 nothing is crossed, the claim raises nothing and leaves no deadline."""
    evaluate_periods(OPENED + timedelta(minutes=10))
    due = march(outage).next_due
    assert near(due, WARNING_AT)
    assert claim_due_period_deadlines(due) == 1
    row = march(outage)
    assert row.status == "met" and row.next_due is None
    assert alerts(row) == {}


def test_an_evaluation_with_an_older_clock_does_not_undo_the_loops_breach(outage):
    """A periodic pass takes its clock (12:20) for a slice of agreements; meanwhile the
    loop claims the miss at 12:44:38.4 and opens the breach. The pass then gets the
    agreement's lock: it evaluates no earlier than the loop did, so the breach stays open
    and nobody hears that it closed."""
    evaluate_periods(OPENED + timedelta(minutes=10))
    row = march(outage)
    assert claim_due_period_deadlines(row.next_due) == 1  # the warning
    row.refresh_from_db()
    missed_due = row.next_due
    assert claim_due_period_deadlines(missed_due) == 1
    breach = Breach.objects.get(period_result=row)
    assert breach.opened_at == missed_due and breach.closed_at is None
    emails = Notification.objects.count()

    evaluate_periods(OPENED + timedelta(minutes=20))  # the slice's older clock

    breach.refresh_from_db()
    assert breach.closed_at is None
    assert "closed" not in alerts(row)
    assert Notification.objects.count() == emails
    row.refresh_from_db()
    assert row.status == "missed_target"
    assert row.evaluated_at == missed_due
    assert near(row.next_due, BREACHED_AT)
