"""Set-based evaluation: what the bulk writes store, the quiet alerts that never queue, and the
coalesced ``evaluate_changed`` nudges (one task outstanding, no nudge lost)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.clock import BusinessCalendar
from monitoring.compliance.timers import TimerInput, ticket_timer
from monitoring.evaluation import trigger
from monitoring.evaluation.bulk import upsert_rows
from monitoring.evaluation.tickets import evaluate_pending_tickets, mark_for_evaluation
from monitoring.models import Alert, Breach, EvaluationRequest, PeriodResult, Ticket, TicketTimer
from monitoring.tasks import evaluate_changed
from tests.support.worker import WorkerProcess, own_queue
from tests.test_evaluation import NOW, ingest

pytestmark = pytest.mark.django_db


# --- Bulk writes --------------------------------------------------------------------------------


def test_upsert_rows_keeps_awkward_text_nulls_and_the_reviewers_note(
    active_acme_agreement, acme_desk
):
    ingest(acme_desk, active_acme_agreement, {"external_id": "t1", "opened_at": NOW})
    ticket = Ticket.objects.get()
    agreement = active_acme_agreement
    label = 'tab\there, newline\nthere, back\\slash, "quoted", comma, \\N'
    columns = ("ticket_id", "target_key", "agreement_id", "customer_id", "target_label")
    columns += ("level", "opened_at", "closed_at", "value_text", "root_cause")
    row = (ticket.pk, "k", agreement.pk, agreement.customer_id, label, "breached", NOW)
    upsert_rows(Breach, columns, [(*row, None, "", "")], conflict=("ticket_id", "target_key"))
    breach = Breach.objects.get()
    assert (breach.target_label, breach.closed_at, breach.value_text) == (label, None, "")

    Breach.objects.update(root_cause="the reviewers' note")
    update = ("level", "closed_at", "value_text")
    closed = NOW + timedelta(hours=1)
    changed = upsert_rows(
        Breach, columns, [(*row, closed, "late", "")], ("ticket_id", "target_key"), update
    )
    breach.refresh_from_db()
    assert (breach.closed_at, breach.value_text, breach.root_cause) == (
        closed,
        "late",
        "the reviewers' note",
    )
    if connection.vendor == "postgresql":
        assert changed == 1
        # The same values again: nothing to write.
        again = [(*row, closed, "late", "")]
        assert upsert_rows(Breach, columns, again, ("ticket_id", "target_key"), update) == 0


def test_reevaluating_an_unchanged_stopped_ticket_rewrites_no_timer(
    active_acme_agreement, acme_desk
):
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite fallback (bulk_create) rewrites every row it is given")
    opened = NOW - timedelta(hours=2)
    ingest(
        acme_desk,
        active_acme_agreement,
        {
            "external_id": "done",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "resolved_at": opened + timedelta(minutes=50),
            "state": "resolved",
        },
    )
    evaluate_pending_tickets(NOW)
    first = dict(TicketTimer.objects.values_list("metric", "evaluated_at"))
    assert set(first.values()) == {NOW}
    mark_for_evaluation(Ticket.objects.values_list("pk", flat=True))
    evaluate_pending_tickets(NOW + timedelta(hours=1))
    # Stopped timers did not change: their rows (and the moment they are from) stay.
    assert dict(TicketTimer.objects.values_list("metric", "evaluated_at")) == first


@pytest.mark.parametrize("model", [TicketTimer, Breach, Alert])
def test_rows_evaluation_writes_carry_no_redundant_index(model):
    """Each index is written for every row stored: a column whose index another index
    already starts with, or a mostly empty key indexed in full, only slows the writes."""
    if connection.vendor != "postgresql":
        pytest.skip("index definitions are read from PostgreSQL's catalogue")
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass "
            "AND indpred IS NOT NULL",
            [model._meta.db_table],
        )
        partial = {row[0] for row in cursor.fetchall()}
    indexes = {name: tuple(c["columns"]) for name, c in found.items() if c["index"]}
    leading = {cols[0] for name, cols in indexes.items() if len(cols) > 1}
    for name, cols in indexes.items():
        if len(cols) == 1 and name not in partial:
            assert cols[0] not in leading, f"{name} repeats the start of a composite index"
    nullable_keys = {f.column for f in model._meta.concrete_fields if f.is_relation and f.null}
    for name, cols in indexes.items():
        if len(cols) == 1 and cols[0] in nullable_keys:
            assert name in partial, f"{name} indexes a mostly empty key in full"


def test_alerts_about_long_past_moments_are_stored_notified_and_never_queue(
    active_acme_agreement, acme_desk
):
    """A year of imported history raises thousands of quiet alerts: nobody is emailed, so
    they must not wait in (and slow down) the queue of alerts to notify."""
    opened = NOW - timedelta(days=30)
    ingest(acme_desk, active_acme_agreement, {"external_id": "old", "opened_at": opened})
    # Not through deliver_new_alerts: the evaluation itself stores them as handled.
    with mock.patch("monitoring.evaluation.alert_emails.deliver_new_alerts", return_value=0):
        evaluate_pending_tickets(NOW)
    quiet = Alert.objects.filter(ticket__isnull=False)
    assert quiet.count() > 0
    assert not quiet.filter(emailed=True).exists()
    assert not Alert.objects.filter(notified_at__isnull=True).exists()


def test_one_run_notifies_every_new_alert_whatever_the_batches(
    active_acme_agreement, acme_desk, monkeypatch
):
    from monitoring.evaluation import tickets

    monkeypatch.setattr(tickets, "BATCH_SIZE", 2)
    opened = datetime.now(UTC) - timedelta(hours=30)
    ingest(
        acme_desk,
        active_acme_agreement,
        *({"external_id": f"late-{n}", "opened_at": opened} for n in range(5)),
    )
    now = datetime.now(UTC)
    with (
        mock.patch("monitoring.evaluation.alerts.max_age", return_value=timedelta(days=3)),
        mock.patch(
            "monitoring.evaluation.alert_emails.deliver_new_alerts", return_value=0
        ) as deliver,
    ):
        assert evaluate_pending_tickets(now) == 5
    # Three batches, one delivery at the end.
    assert deliver.call_count == 1
    evaluate_pending_tickets(now)  # nothing marked: nothing delivered
    assert deliver.call_count == 1
    mark_for_evaluation(Ticket.objects.values_list("pk", flat=True))
    with mock.patch("monitoring.evaluation.alerts.max_age", return_value=timedelta(days=3)):
        evaluate_pending_tickets(now)
    loud = Alert.objects.filter(emailed=True)
    assert loud.count() >= 5
    assert not loud.filter(notified_at__isnull=True).exists()


# --- Coalesced nudges ---------------------------------------------------------------------------


def test_nudges_queue_one_task_until_it_starts(active_acme_agreement, acme_desk):
    ingest(acme_desk, active_acme_agreement, {"external_id": "a", "opened_at": NOW})
    ticket = Ticket.objects.get()
    with mock.patch.object(evaluate_changed, "delay") as delay:
        for _ in range(5):
            trigger.request_evaluation("tickets", [ticket.pk])
        assert delay.call_count == 1
        taken = trigger.take_request()  # the task starts
        assert list(taken) == [str(active_acme_agreement.pk)]
        trigger.request_evaluation("tickets", [ticket.pk])  # data after the task's start
        assert delay.call_count == 2
        trigger.finish_request(taken)
        # Asked for again while the task ran: kept for the next task.
        again = EvaluationRequest.objects.get().agreements
        assert list(again) == list(taken) and again != taken
        trigger.finish_request(trigger.take_request())
        assert EvaluationRequest.objects.get().agreements == {}


def test_a_nudge_whose_task_was_lost_queues_another(active_acme_agreement, acme_desk):
    ingest(acme_desk, active_acme_agreement, {"external_id": "a", "opened_at": NOW})
    ticket = Ticket.objects.get()
    with mock.patch.object(evaluate_changed, "delay") as delay:
        trigger.request_evaluation("tickets", [ticket.pk])
        trigger.request_evaluation("tickets", [ticket.pk])
        assert delay.call_count == 1
        EvaluationRequest.objects.update(queued_at=datetime.now(UTC) - trigger.LOST_AFTER * 2)
        trigger.request_evaluation("tickets", [ticket.pk])
        assert delay.call_count == 2


def test_a_broker_that_refuses_the_task_leaves_no_task_outstanding(
    active_acme_agreement, acme_desk
):
    ingest(acme_desk, active_acme_agreement, {"external_id": "a", "opened_at": NOW})
    ticket = Ticket.objects.get()
    with mock.patch.object(evaluate_changed, "delay", side_effect=OSError("down")) as delay:
        trigger.request_evaluation("tickets", [ticket.pk])
        trigger.request_evaluation("tickets", [ticket.pk])
    assert delay.call_count == 2
    assert EvaluationRequest.objects.get().queued_at is None


def test_data_marked_after_the_task_started_is_evaluated_by_the_next_task(
    active_acme_agreement, acme_desk
):
    """The race: a task has cleared the flag and claimed its tickets when new data commits.
    That nudge finds no task outstanding, queues one, and that task evaluates the data."""
    now = datetime.now(UTC)
    ingest(acme_desk, active_acme_agreement, {"external_id": "first", "opened_at": now})
    queued = []
    with mock.patch.object(evaluate_changed, "delay", side_effect=lambda: queued.append(1)):
        trigger.request_evaluation("tickets", Ticket.objects.values_list("pk", flat=True))
        assert len(queued) == 1
        real_take = trigger.take_request

        def take_then_new_data() -> dict:
            taken = real_take()
            ingest(acme_desk, active_acme_agreement, {"external_id": "late", "opened_at": now})
            late = Ticket.objects.get(external_id="late")
            trigger.request_evaluation("tickets", [late.pk])
            return taken

        with mock.patch.object(trigger, "take_request", take_then_new_data):
            evaluate_changed()
        assert len(queued) == 2
        evaluate_changed()  # the second task
    assert not Ticket.objects.filter(evaluated_at__isnull=True).exists()
    assert set(TicketTimer.objects.values_list("ticket__external_id", flat=True)) == {
        "first",
        "late",
    }
    assert PeriodResult.objects.filter(agreement=active_acme_agreement).exists()
    assert EvaluationRequest.objects.get().agreements == {}


# --- Bounded runs --------------------------------------------------------------------------------


def test_evaluate_changed_stops_at_its_bound_and_queues_one_next_run(
    active_acme_agreement, acme_desk, monkeypatch, settings
):
    """A backlog is many short runs: each evaluates at most its batches, keeps the
    agreements for the run that finishes the tickets, and queues the next run only when no
    other is outstanding; the last run evaluates the periods and forgets the request."""
    from monitoring.evaluation import tickets

    monkeypatch.setattr(tickets, "BATCH_SIZE", 2)
    settings.EVALUATION_MAX_BATCHES_PER_RUN = 1
    opened = datetime.now(UTC) - timedelta(minutes=5)
    with mock.patch.object(evaluate_changed, "delay") as delay:
        ingest(
            acme_desk,
            active_acme_agreement,
            *({"external_id": f"t{n}", "opened_at": opened} for n in range(5)),
        )
        trigger.request_evaluation("tickets", Ticket.objects.values_list("pk", flat=True))
        assert delay.call_count == 1
        PeriodResult.objects.all().delete()

        assert evaluate_changed() == 2  # tickets, not periods: two left to go
        assert delay.call_count == 2  # the next run queued
        assert not PeriodResult.objects.exists()
        assert list(EvaluationRequest.objects.get().agreements) == [str(active_acme_agreement.pk)]

        # The queued run is outstanding: a nudge now queues nothing more.
        some = list(Ticket.objects.values_list("pk", flat=True)[:1])
        trigger.request_evaluation("tickets", some)
        assert delay.call_count == 2

        # The next run starts, and a nudge queues a run while it works: stopping at its
        # bound, it queues no second one.
        real_take = trigger.take_request

        def take_then_nudge() -> dict:
            taken = real_take()
            trigger.request_evaluation("tickets", some)
            return taken

        with mock.patch.object(trigger, "take_request", take_then_nudge):
            assert evaluate_changed() == 2
        assert delay.call_count == 3

        evaluate_changed()  # the last ticket, then the periods
        assert delay.call_count == 3
    assert not Ticket.objects.filter(evaluated_at__isnull=True).exists()
    assert PeriodResult.objects.filter(agreement=active_acme_agreement).exists()
    assert EvaluationRequest.objects.get().agreements == {}


def queued_slices(queue: str) -> list[tuple[dict, dict]]:
    """The messages waiting in ``queue`` (taken off it): their kwargs and headers."""
    from sla_portal.celery import app

    found = []
    with app.connection_for_write() as conn:
        simple = conn.SimpleQueue(queue)
        try:
            while True:
                try:
                    message = simple.get(timeout=0.5)
                except simple.Empty:
                    return found
                message.ack()
                found.append((message.payload[1], message.headers))
        finally:
            simple.close()


def test_evaluate_periods_does_a_bounded_slice_and_queues_the_rest(active_acme_agreement, settings):
    from monitoring.tasks import evaluate_periods as task

    settings.PERIODS_MAX_AGREEMENTS_PER_RUN = 1
    PeriodResult.objects.all().delete()
    with own_queue() as queue:
        assert task() > 0
        # The slice was full: the next run continues after the last agreement done, and
        # expires if it waits too long (the pass is then taken as lost, see below).
        [(kwargs, headers)] = queued_slices(queue)
        assert kwargs["after"] == active_acme_agreement.pk
        assert headers["expires"] is not None
        assert task(**kwargs) == 0
        assert queued_slices(queue) == []  # nothing after it: the round is over
    assert PeriodResult.objects.filter(agreement=active_acme_agreement).exists()


def test_beat_starts_no_second_pass_while_one_is_in_progress(active_acme_agreement, settings):
    """A pass slower than beat's minute used to have a second chain start beside it."""
    from monitoring.evaluation import passes
    from monitoring.tasks import evaluate_periods as task

    settings.PERIODS_MAX_AGREEMENTS_PER_RUN = 1
    with own_queue() as queue:
        assert task() > 0
        [(first, _)] = queued_slices(queue)
        # Beat's next minute, while the first pass's next slice waits: nothing starts.
        assert task() == 0
        assert queued_slices(queue) == []
        assert task(**first) == 0  # the pass ends
        # The next minute starts the next pass; a stray slice of the old one does nothing.
        assert task() > 0
        [(second, _)] = queued_slices(queue)
        assert second["number"] == first["number"] + 1
        assert task(after=0, number=first["number"]) == 0
        assert queued_slices(queue) == []
        # The second pass's slice is lost (expired): after LOST_AFTER beat starts again.
        EvaluationRequest.objects.filter(name=passes.NAME).update(
            queued_at=datetime.now(UTC) - passes.LOST_AFTER - timedelta(seconds=1)
        )
        assert task() > 0
        [(third, _)] = queued_slices(queue)
        assert third["number"] == second["number"] + 1
        assert task(**second) == 0  # the lost one, delivered late after all: dropped


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_thousand_single_ingests_leave_one_task_and_every_ticket_evaluated(
    active_acme_agreement, acme_desk, tmp_path
):
    from sla_portal.celery import app

    opened = datetime.now(UTC) - timedelta(minutes=5)
    with own_queue() as queue:
        for n in range(1000):
            ingest(acme_desk, active_acme_agreement, {"external_id": f"t{n}", "opened_at": opened})
        with app.connection_for_write() as conn:
            waiting = conn.default_channel.queue_declare(queue, passive=True).message_count
        assert 1 <= waiting <= 2
        assert Ticket.objects.filter(evaluated_at__isnull=True).count() == 1000
        worker = WorkerProcess(queue, tmp_path / "worker.log")
        worker.start()
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if not Ticket.objects.filter(evaluated_at__isnull=True).exists():
                    break
                time.sleep(0.5)
        finally:
            worker.stop()
    assert not Ticket.objects.filter(evaluated_at__isnull=True).exists()
    assert TicketTimer.objects.count() == 2000
    assert PeriodResult.objects.filter(agreement=active_acme_agreement).exists()


# --- The straight clock -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opened=st.datetimes(
        min_value=datetime(2015, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    target=st.integers(min_value=1, max_value=30 * 86400),
    extra=st.integers(min_value=0, max_value=30 * 86400),
    stop_after=st.one_of(st.none(), st.integers(min_value=0, max_value=80 * 86400)),
    now_after=st.integers(min_value=0, max_value=80 * 86400),
    warning=st.sampled_from([50.0, 75.0, 80.0, 90.0]),
)
def test_a_24x7_clock_without_pauses_gives_what_the_calendar_walk_gives(
    opened, zone, target, extra, stop_after, now_after, warning
):
    """``ticket_timer`` skips the calendar walk for a clock that always runs; a calendar with
    the same hours that is not marked 24x7 (a holiday long ago) takes the general path."""
    opened = opened.astimezone(ZoneInfo(zone))
    spec = TimerInput(
        start=opened,
        stop=None if stop_after is None else opened + timedelta(seconds=stop_after),
        pauses=[],
        target_seconds=float(target),
        threshold_seconds=float(target + extra),
        warning_percent=warning,
    )
    now = opened + timedelta(seconds=now_after)
    always = BusinessCalendar.always()
    walked = BusinessCalendar(
        "UTC", {day: [(dtime(0), dtime(0))] for day in range(7)}, {date(1900, 1, 1)}
    )
    assert always.is_always and not walked.is_always
    assert ticket_timer(always, spec, now) == ticket_timer(walked, spec, now)
