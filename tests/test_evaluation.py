"""The evaluation engine on PostgreSQL: ticket timers, the deadline loop and period results.

Data goes in through the real ingest services; evaluation runs the services the worker
runs (``evaluate_pending_tickets``, ``claim_due_timers``, ``evaluate_periods``,
``monitoring.evaluate_changed``) at chosen instants, so every figure is hand-computable.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from agreements.models import Agreement
from agreements.terms import measured_terms
from monitoring.evaluation.deadlines import claim_due_timers
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import (
    evaluate_pending_tickets,
    evaluate_tickets,
    mark_for_evaluation,
)
from monitoring.ingest.events import errors_ingest
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import Alert, Breach, PeriodResult, Ticket, TicketTimer
from monitoring.tasks import evaluate_changed
from sla_portal.core.models import Notification
from tests.support.agreements import complete_for_proposal

pytestmark = pytest.mark.django_db

MINUTE = 60
HOUR = 3600
DAY = 86400
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def ingest(source, agreement, *tickets: dict):
    """Send tickets through ``tickets_ingest`` (datetimes as ISO strings, like a feed)."""
    rows = []
    for ticket in tickets:
        row = {"agreement": agreement.reference, "priority": "P1"}
        row.update({key: _iso(value) for key, value in ticket.items()})
        if "status_history" in ticket:
            row["status_history"] = [
                {key: _iso(value) for key, value in entry.items()}
                for entry in ticket["status_history"]
            ]
        rows.append(row)
    return tickets_ingest(source, rows)


def timers() -> dict[tuple[str, str], TicketTimer]:
    return {
        (timer.ticket.external_id, timer.metric): timer
        for timer in TicketTimer.objects.select_related("ticket")
    }


def target_key(agreement: Agreement, metric: str, priority: str = "") -> str:
    found = [
        target.key
        for target in measured_terms(agreement).targets
        if target.metric == metric and target.priority == priority
    ]
    assert len(found) == 1, found
    return found[0]


# --- Ticket timers ----------------------------------------------------------------------------


def test_response_and_resolution_timers_follow_the_priority(active_acme_agreement, acme_desk):
    ingest(
        acme_desk,
        active_acme_agreement,
        {"external_id": "P1-open", "priority": "P1", "opened_at": NOW - timedelta(minutes=10)},
        {
            "external_id": "P3-answered",
            "priority": "P3",
            "opened_at": NOW - timedelta(hours=3),
            "first_response_at": NOW - timedelta(hours=2),
        },
        {
            "external_id": "P2-late",
            "priority": "P2",
            "opened_at": NOW - timedelta(hours=10),
            "first_response_at": NOW - timedelta(hours=10) + timedelta(minutes=45),
            "resolved_at": NOW - timedelta(hours=1),
        },
    )
    assert evaluate_pending_tickets(NOW) == 3
    found = timers()
    assert len(found) == 6

    p1 = found[("P1-open", "response_time")]
    opened = NOW - timedelta(minutes=10)
    assert p1.target_key == target_key(active_acme_agreement, "response_time", "P1")
    assert (p1.target_seconds, p1.threshold_seconds) == (15 * MINUTE, 30 * MINUTE)
    assert p1.state == "running"
    assert p1.used_seconds == 10 * MINUTE
    assert p1.warning_at == opened + timedelta(minutes=11, seconds=15)
    assert p1.due_at == opened + timedelta(minutes=15)
    assert p1.threshold_due_at == opened + timedelta(minutes=30)
    assert p1.next_due == p1.warning_at
    p1_resolution = found[("P1-open", "resolution_time")]
    assert p1_resolution.due_at == opened + timedelta(hours=4)
    assert p1_resolution.threshold_due_at == opened + timedelta(hours=8)
    assert p1_resolution.state == "running"

    p3 = found[("P3-answered", "response_time")]
    assert p3.state == "met"
    assert p3.stopped_at == NOW - timedelta(hours=2)
    assert p3.decided_at == p3.stopped_at
    assert p3.next_due is None
    assert found[("P3-answered", "resolution_time")].due_at == NOW + timedelta(hours=21)

    late_response = found[("P2-late", "response_time")]
    assert late_response.state == "missed_target"  # 45 min against 30 (threshold 60)
    assert late_response.decided_at == NOW - timedelta(hours=10) + timedelta(minutes=30)
    late_resolution = found[("P2-late", "resolution_time")]
    assert late_resolution.state == "missed_target"  # 9 h against 8 (threshold 16)
    assert late_resolution.used_seconds == 9 * HOUR
    assert Breach.objects.filter(ticket__external_id="P2-late").count() == 2
    response_breach = Breach.objects.get(target_key=late_response.target_key)
    assert response_breach.level == "missed_target"
    assert response_breach.opened_at == late_response.decided_at
    assert response_breach.closed_at == late_response.stopped_at
    assert Ticket.objects.filter(evaluated_at__isnull=True).count() == 0


def test_pauses_from_the_status_history_stop_the_clock(active_acme_agreement, acme_desk):
    opened = NOW - timedelta(hours=2)
    ingest(
        acme_desk,
        active_acme_agreement,
        {
            "external_id": "paused-then-resumed",
            "priority": "P2",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "status_history": [
                {"at": opened, "status": "New"},
                {"at": opened + timedelta(minutes=30), "status": "Waiting", "pauses_clock": True},
                {"at": opened + timedelta(minutes=90), "status": "In progress"},
            ],
        },
        {
            "external_id": "still-waiting",
            "priority": "P2",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "status_history": [
                {"at": opened + timedelta(minutes=20), "status": "Waiting", "pauses_clock": True},
            ],
        },
    )
    evaluate_pending_tickets(NOW)
    found = timers()
    resumed = found[("paused-then-resumed", "resolution_time")]
    assert resumed.used_seconds == HOUR
    assert resumed.due_at == opened + timedelta(hours=9)
    assert resumed.state == "running"
    waiting = found[("still-waiting", "resolution_time")]
    assert waiting.state == "paused"
    assert waiting.used_seconds == 20 * MINUTE
    assert (waiting.due_at, waiting.next_due) == (None, None)


def test_reopened_ticket_does_not_count_the_time_it_spent_resolved(
    active_acme_agreement, acme_desk
):
    opened = NOW - timedelta(hours=12)
    history = [
        {"at": opened, "status": "New"},
        {"at": opened + timedelta(hours=3), "status": "Resolved", "resolves": True},
        {"at": opened + timedelta(hours=6), "status": "Reopened"},
        {"at": opened + timedelta(hours=7), "status": "Resolved", "resolves": True},
    ]
    ingest(
        acme_desk,
        active_acme_agreement,
        {
            "external_id": "reopened",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "resolved_at": opened + timedelta(hours=7),
            "reopen_count": 1,
            "status_history": history,
        },
        {
            "external_id": "reopened-open",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "reopen_count": 1,
            "status_history": history[:3],
        },
    )
    evaluate_pending_tickets(NOW)
    found = timers()
    resolution = found[("reopened", "resolution_time")]
    # 3 h before the first resolution + 1 h after reopening = 4 h: exactly the P1 target.
    assert resolution.used_seconds == 4 * HOUR
    assert resolution.state == "met"
    assert resolution.stopped_at == opened + timedelta(hours=7)
    assert resolution.decided_at == opened + timedelta(hours=7)
    still_open = found[("reopened-open", "resolution_time")]
    assert still_open.stopped_at is None
    assert still_open.used_seconds == 12 * HOUR - 3 * HOUR
    assert still_open.state == "breached"  # 9 h against a threshold of 8 h
    assert still_open.decided_at == opened + timedelta(hours=7)  # 4 h of clock, 3 h gap


def test_response_of_a_reopened_ticket_resolved_without_one_stops_at_the_first_resolution(
    active_acme_agreement, acme_desk
):
    opened = NOW - timedelta(hours=2)
    ingest(
        acme_desk,
        active_acme_agreement,
        {
            "external_id": "reopened-unanswered",
            "opened_at": opened,
            "reopen_count": 1,
            "status_history": [
                {"at": opened + timedelta(minutes=10), "status": "Resolved", "resolves": True},
                {"at": opened + timedelta(minutes=50), "status": "Reopened"},
            ],
        },
    )
    evaluate_pending_tickets(NOW)
    response = timers()[("reopened-unanswered", "response_time")]
    assert response.state == "met"
    assert response.stopped_at == opened + timedelta(minutes=10)


def test_tickets_before_the_effective_date_get_no_timers(active_acme_agreement, acme_desk):
    ingest(
        acme_desk,
        active_acme_agreement,
        {"external_id": "old", "opened_at": utc(2025, 12, 31, 23, 59)},
        {"external_id": "first-day", "opened_at": utc(2026, 1, 1, 0, 0)},
    )
    evaluate_pending_tickets(NOW)
    assert {key[0] for key in timers()} == {"first-day"}


def test_an_agreement_not_in_force_gets_no_timers(acme_agreement, acme_desk):
    assert acme_agreement.status == "draft"
    ingest(acme_desk, acme_agreement, {"external_id": "draft", "opened_at": NOW})
    assert evaluate_pending_tickets(NOW) == 1
    assert TicketTimer.objects.count() == 0
    assert Ticket.objects.get().evaluated_at == NOW


def test_priority_change_removes_the_stale_timer(active_acme_agreement, acme_desk):
    ingest(acme_desk, active_acme_agreement, {"external_id": "T", "opened_at": NOW})
    evaluate_pending_tickets(NOW)
    p1_keys = {
        target_key(active_acme_agreement, "response_time", "P1"),
        target_key(active_acme_agreement, "resolution_time", "P1"),
    }
    assert set(TicketTimer.objects.values_list("target_key", flat=True)) == p1_keys
    ingest(
        acme_desk, active_acme_agreement, {"external_id": "T", "opened_at": NOW, "priority": "P3"}
    )
    evaluate_pending_tickets(NOW + timedelta(minutes=1))
    p3_keys = {
        target_key(active_acme_agreement, "response_time", "P3"),
        target_key(active_acme_agreement, "resolution_time", "P3"),
    }
    assert set(TicketTimer.objects.values_list("target_key", flat=True)) == p3_keys


# --- The deadline loop ------------------------------------------------------------------------


def test_deadline_loop_claims_each_due_timer_once_and_raises_the_next_level(
    active_acme_agreement, acme_desk
):
    opened = NOW - timedelta(minutes=5)
    ingest(acme_desk, active_acme_agreement, {"external_id": "loop", "opened_at": opened})
    evaluate_pending_tickets(NOW)
    response_key = target_key(active_acme_agreement, "response_time", "P1")
    timer = TicketTimer.objects.get(target_key=response_key)
    assert timer.next_due == opened + timedelta(minutes=11, seconds=15)
    assert claim_due_timers(NOW) == 0

    expected = []
    for moment, level in (
        (opened + timedelta(minutes=11, seconds=15), "warning"),
        (opened + timedelta(minutes=15), "missed_target"),
        (opened + timedelta(minutes=30), "breached"),
    ):
        assert claim_due_timers(moment) == 1
        assert claim_due_timers(moment) == 0  # claimed already
        assert Ticket.objects.get().evaluated_at is None
        assert evaluate_pending_tickets(moment) == 1
        assert evaluate_pending_tickets(moment) == 0
        timer.refresh_from_db()
        expected.append(level)
        alerts = Alert.objects.filter(target_key=response_key).order_by("id")
        assert [a.level for a in alerts] == expected
        assert alerts.last().reached_at == moment
        assert alerts.last().emailed
    timer.refresh_from_db()
    assert timer.state == "breached"
    assert timer.next_due is None
    # The resolution timer's warning comes later (75 % of 4 h).
    assert TicketTimer.objects.get(metric="resolution_time").next_due == opened + timedelta(hours=3)


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_produce_one_set_of_timers_and_one_alert_per_level(
    active_acme_agreement, acme_desk
):
    tickets = [
        {"external_id": f"C{i}", "opened_at": NOW - timedelta(minutes=40 + i)} for i in range(30)
    ]
    ingest(acme_desk, active_acme_agreement, *tickets)
    errors: list[BaseException] = []

    def race(work) -> None:
        barrier = threading.Barrier(2)

        def run() -> None:
            try:
                barrier.wait()
                work()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    race(lambda: evaluate_pending_tickets(NOW))
    assert TicketTimer.objects.count() == 60
    mark_for_evaluation(Ticket.objects.values_list("pk", flat=True))
    race(lambda: evaluate_pending_tickets(NOW + timedelta(seconds=1)))
    assert TicketTimer.objects.count() == 60
    # Each response timer is 40+ minutes past its P1 threshold of 30: one breach alert each.
    response_key = target_key(active_acme_agreement, "response_time", "P1")
    assert Alert.objects.filter(target_key=response_key, level="breached").count() == 30
    assert Alert.objects.count() == 30
    assert Alert.objects.filter(notified_at__isnull=True).count() == 0
    # Tom is nobody's contact here; the breach goes to Alice (team, manager, signatory) and
    # Carol (customer signatory): two emails per alert, not four.
    assert Notification.objects.filter(kind="alert.breached").count() == 60

    race(lambda: evaluate_periods(NOW))
    march = PeriodResult.objects.filter(period_start=utc(2026, 3, 1))
    keys = list(march.values_list("target_key", flat=True))
    assert len(keys) == len(set(keys)) == len(measured_terms(active_acme_agreement).targets)
    assert PeriodResult.objects.filter(target_key=response_key).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_claim_does_not_deadlock_with_an_evaluation_holding_the_ticket(
    active_acme_agreement, acme_desk
):
    opened = NOW - timedelta(minutes=5)
    ingest(acme_desk, active_acme_agreement, {"external_id": "held", "opened_at": opened})
    evaluate_pending_tickets(NOW)
    due = opened + timedelta(minutes=15)
    TicketTimer.objects.filter(metric="response_time").update(next_due=due)
    holding, claim_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    claimed: list[int] = []

    def evaluation() -> None:
        """A batch of evaluate_batch: tickets locked, timers written, in one transaction."""
        try:
            with transaction.atomic():
                tickets = list(Ticket.objects.select_for_update().filter(external_id="held"))
                holding.set()
                claim_done.wait(timeout=5)
                evaluate_tickets(tickets, due)
                Ticket.objects.filter(pk=tickets[0].pk).update(evaluated_at=due)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def claim() -> None:
        try:
            holding.wait(timeout=5)
            claimed.append(claim_due_timers(due))
        except BaseException as exc:
            errors.append(exc)
        finally:
            claim_done.set()
            connection.close()

    threads = [threading.Thread(target=evaluation), threading.Thread(target=claim)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert claimed == [0]  # the ticket was being evaluated: skipped, not waited for
    timer = TicketTimer.objects.get(metric="response_time")
    assert timer.state == "missed_target"
    assert timer.next_due == opened + timedelta(minutes=30)
    assert claim_due_timers(opened + timedelta(minutes=30)) == 1


# --- Period results ---------------------------------------------------------------------------


def test_ticket_share_per_month_and_closing_freezes_the_period(active_acme_agreement, acme_desk):
    rows = []
    for i, answered_after in enumerate((10, 20, 25, 45)):  # P2 response target 30 min
        opened = utc(2026, 2, 10 + i, 9, 0)
        rows.append(
            {
                "external_id": f"FEB-{i}",
                "priority": "P2",
                "opened_at": opened,
                "first_response_at": opened + timedelta(minutes=answered_after),
            }
        )
    rows.append({"external_id": "MAR-0", "priority": "P2", "opened_at": NOW - timedelta(minutes=1)})
    ingest(acme_desk, active_acme_agreement, *rows)
    evaluate_pending_tickets(NOW)
    evaluate_periods(NOW)
    key = target_key(active_acme_agreement, "response_time", "P2")

    february = PeriodResult.objects.get(target_key=key, period_start=utc(2026, 2, 1))
    assert february.period_end == utc(2026, 3, 1)
    assert february.value == pytest.approx(75.0)  # 3 of 4 met; goal 95 %, threshold 90 %
    assert february.status == "breached"
    assert february.final
    assert february.closed_at == NOW
    assert february.details["met"] == 3 and february.details["missed"] == 1
    breach = Breach.objects.get(period_result=february)
    assert breach.level == "breached"
    # The period ended nine days before it was evaluated: recorded, nobody woken.
    alert = Alert.objects.get(period_result=february)
    assert (alert.level, alert.emailed) == ("breached", False)
    assert not Notification.objects.filter(key=alert.notification_key).exists()

    march = PeriodResult.objects.get(target_key=key, period_start=utc(2026, 3, 1))
    assert march.closed_at is None
    assert (march.value, march.status) == (None, "met")  # one ticket still running
    assert march.details["pending"] == 1
    assert PeriodResult.objects.get(target_key=key, period_start=utc(2026, 1, 1)).status == (
        "no_data"
    )

    # Closed periods are frozen: the database refuses an UPDATE...
    with pytest.raises(DatabaseError), transaction.atomic():
        PeriodResult.objects.filter(pk=february.pk).update(value=100)
    # ...and late data does not change them.
    ingest(
        acme_desk,
        active_acme_agreement,
        {
            "external_id": "FEB-late",
            "priority": "P2",
            "opened_at": utc(2026, 2, 20, 9, 0),
            "first_response_at": utc(2026, 2, 20, 9, 5),
        },
    )
    evaluate_pending_tickets(NOW + timedelta(minutes=1))
    evaluate_periods(NOW + timedelta(minutes=1))
    february.refresh_from_db()
    assert february.value == pytest.approx(75.0)
    assert february.evaluated_at == NOW


def checks(*spans: tuple[datetime, str]) -> list[dict]:
    return [{"checked_at": at.isoformat(), "status": status} for at, status in spans]


def test_availability_with_outages_and_announced_maintenance(
    active_acme_agreement, acme_desk, services
):
    portal = services["portal"]
    checks_ingest(
        acme_desk,
        portal,
        checks(
            (utc(2026, 3, 1), "up"),
            (utc(2026, 3, 3, 0, 0), "down"),  # during maintenance announced too late
            (utc(2026, 3, 3, 0, 30), "up"),
            (utc(2026, 3, 5, 10, 0), "down"),
            (utc(2026, 3, 5, 12, 0), "up"),
            (utc(2026, 3, 10, 1, 30), "down"),  # during excluded maintenance
            (utc(2026, 3, 10, 2, 0), "up"),
            (utc(2026, 3, 20, 8, 0), "down"),
            (utc(2026, 3, 20, 8, 30), "up"),
        ),
    )
    maintenance_ingest(
        acme_desk,
        [
            {
                "external_id": "late",
                "service": portal.name,
                "starts_at": utc(2026, 3, 3, 0, 0).isoformat(),
                "ends_at": utc(2026, 3, 3, 1, 0).isoformat(),
                "announced_at": utc(2026, 3, 2, 0, 0).isoformat(),  # 1 day; 5 are required
            },
            {
                "external_id": "planned",
                "service": portal.name,
                "starts_at": utc(2026, 3, 10, 1, 0).isoformat(),
                "ends_at": utc(2026, 3, 10, 4, 0).isoformat(),  # 3 h, of which 2 h allowed
                "announced_at": utc(2026, 2, 20, 0, 0).isoformat(),
            },
        ],
    )
    evaluate_periods(utc(2026, 4, 2))
    key = target_key(active_acme_agreement, "availability")
    march = PeriodResult.objects.get(target_key=key, period_start=utc(2026, 3, 1))
    service = 31 * DAY  # 2,678,400 s, 24x7 in UTC
    excluded = 2 * HOUR  # Gold allows 120 minutes of announced maintenance a month
    counted = service - excluded
    down = 30 * MINUTE + 2 * HOUR + 30 * MINUTE  # the outage at 01:30 on the 10th is excluded
    assert march.details["excluded_seconds"] == excluded
    assert march.details["down_seconds"] == down
    assert march.value == pytest.approx((counted - down) / counted * 100)  # 99.5957 %
    assert march.status == "missed_target"  # target 99.9 %, threshold 99.5 %
    assert march.closed_at is not None
    assert Breach.objects.get(period_result=march).level == "missed_target"
    # February had no checks at all: no data rather than a guessed 100 %.
    february = PeriodResult.objects.get(target_key=key, period_start=utc(2026, 2, 1))
    assert (february.value, february.status) == (None, "no_data")


def test_error_counts_per_category(active_acme_agreement, acme_desk, services):
    portal = services["portal"].name
    errors_ingest(
        acme_desk,
        [
            {
                "external_id": f"E{i}",
                "service": portal,
                "category": "Failed transactions",
                "occurred_at": utc(2026, 3, 2 + i).isoformat(),
            }
            for i in range(3)
        ]
        + [
            {
                "external_id": "E-other",
                "service": portal,
                "category": "Data loss or corruption",
                "occurred_at": utc(2026, 2, 2).isoformat(),
            }
        ],
    )
    evaluate_periods(NOW)
    terms = measured_terms(active_acme_agreement)
    failed = next(t.key for t in terms.targets if t.error_category == "Failed transactions")
    data_loss = next(t.key for t in terms.targets if t.error_category == "Data loss or corruption")
    march = PeriodResult.objects.get(target_key=failed, period_start=utc(2026, 3, 1))
    assert (march.value, march.status, march.final) == (3, "missed_target", True)  # target 2
    feb_loss = PeriodResult.objects.get(target_key=data_loss, period_start=utc(2026, 2, 1))
    assert (feb_loss.value, feb_loss.status) == (1, "missed_target")  # target 0, threshold 1
    assert PeriodResult.objects.get(target_key=failed, period_start=utc(2026, 2, 1)).value == 0


def test_evaluate_changed_reevaluates_only_the_affected_agreements(
    active_acme_agreement, globex_agreement, acme_desk, services, alice_manager, other_org_viewer
):
    from agreements.services import lifecycle

    globex_agreement.service_description = "Operation of patient records."
    globex_agreement.change_policy = "Normal changes go through the CAB."
    globex_agreement.save()
    globex_agreement.signatories.create(
        side="customer",
        name="Grace Globex",
        role="CIO",
        organisation_name="Globex Health",
        email=other_org_viewer.email,
    )
    complete_for_proposal(globex_agreement)
    version = lifecycle.propose(globex_agreement, alice_manager)
    Agreement.objects.filter(pk=globex_agreement.pk).update(
        status="active", in_force_version=version
    )
    opened = datetime.now(UTC) - timedelta(minutes=5)
    ingest(acme_desk, active_acme_agreement, {"external_id": "changed", "opened_at": opened})
    ticket = Ticket.objects.get()
    assert evaluate_changed("tickets", [ticket.pk]) > 0
    assert TicketTimer.objects.filter(ticket=ticket).count() == 2
    agreements = set(PeriodResult.objects.values_list("agreement_id", flat=True))
    assert agreements == {active_acme_agreement.pk}

    acme_open = set(
        PeriodResult.objects.filter(closed_at__isnull=True).values_list("pk", "evaluated_at")
    )
    assert evaluate_changed("checks", [services["records"].pk]) > 0
    assert PeriodResult.objects.filter(agreement=globex_agreement).exists()
    assert (
        set(
            PeriodResult.objects.filter(
                agreement=active_acme_agreement, closed_at__isnull=True
            ).values_list("pk", "evaluated_at")
        )
        == acme_open
    )
