"""Recompute on demand: a public holiday the portal learned late, or ticket data corrected
at the source, measured again. Open timers and periods change in place; a closed period
stays frozen and gets a correction proposal, applied through a report correction.

Scenario (Silver, "Extended hours" Mon–Fri 07:00–12:00 and 13:00–20:00 Berlin, P1 response
target 30 min, threshold 60 min): a P1 ticket opened at 19:50 and answered at 07:25 the next
morning used 10 + 25 = 35 business minutes, a missed target. Once that next morning is a
public holiday, it used 10: met, and its deadline moves to the day after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agreements.models import AuditEvent
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.models import Alert, Ticket, TicketTimer
from reporting.models import PeriodCorrection, RecomputeRun, Report
from reporting.recompute.apply import recompute_apply
from reporting.recompute.runs import (
    RecomputeBusy,
    RecomputeError,
    recompute_cancel,
    recompute_request,
)
from reporting.recompute.steps import recompute_run_to_end, recompute_step
from sla_portal.core.models import Notification
from tests.support.recompute import *  # noqa: F403  (fixtures)
from tests.support.recompute import (
    LATER,
    SEPTEMBER,
    ingest,
    response_period,
    response_timer,
    run_agreement,
)

pytestmark = pytest.mark.django_db


# --- A holiday learned late ---------------------------------------------------------------------


def test_before_the_holiday_is_known_both_answers_missed_their_target(measured):
    assert response_timer("SEPT").state == "missed_target"
    assert response_timer("OCT").state == "missed_target"
    assert response_timer("SEPT").used_seconds == 35 * 60
    september = response_period(measured, 9)
    assert september.is_closed and september.status != "met"
    assert Report.objects.get(agreement=measured, month=SEPTEMBER).status == "issued"


def test_a_holiday_learned_late_moves_the_deadline_and_the_timer_meets_its_target(
    measured, alice_manager, holiday_learned_late
):
    due_before = response_timer("SEPT").due_at
    run = run_agreement(measured, alice_manager)

    assert run.status == "succeeded" and run.stage == "done" and run.percent == 100
    timer = response_timer("SEPT")
    assert timer.state == "met" and timer.used_seconds == 10 * 60
    # The 20 minutes left at 20:00 on Wednesday now run on Friday morning from 07:00.
    assert due_before == datetime(2026, 9, 17, 5, 20, tzinfo=UTC)
    assert timer.due_at == datetime(2026, 9, 18, 5, 20, tzinfo=UTC)
    assert response_timer("OCT").state == "met"
    assert (run.tickets_done, run.tickets_total) == (2, 2)
    assert run.missed_to_met == 2 and run.met_to_missed == 0
    assert run.timers_changed == 4  # response and resolution of both tickets
    changed = {(c["ticket"], c["old_state"], c["new_state"]) for c in run.timer_changes}
    assert ("SEPT", "missed_target", "met") in changed
    assert run.periods_done == run.periods_total > 0


def test_the_open_period_is_recomputed_in_place(measured, alice_manager, holiday_learned_late):
    before = response_period(measured, 10)
    assert not before.is_closed and before.value == 0
    run = run_agreement(measured, alice_manager)
    after = response_period(measured, 10)
    assert after.pk == before.pk
    assert after.value == 100 and after.status == "met"
    assert run.open_periods_changed >= 1


def test_a_closed_period_gets_a_proposal_and_stays_unchanged_until_applied(
    measured, alice_manager, holiday_learned_late
):
    september = response_period(measured, 9)
    run = run_agreement(measured, alice_manager)

    frozen = response_period(measured, 9)
    assert (frozen.value, frozen.status, frozen.evaluated_at) == (
        september.value,
        september.status,
        september.evaluated_at,
    )
    proposal = PeriodCorrection.objects.get(run=run)
    assert proposal.period_result_id == september.pk
    assert (proposal.old_value, proposal.old_status) == (september.value, september.status)
    assert (proposal.new_value, proposal.new_status) == (100.0, "met")
    assert proposal.applied_at is None and proposal.report is None
    # Nothing reached the report: still revision 1, with the old figure.
    reports = Report.objects.filter(agreement=measured, month=SEPTEMBER)
    assert [r.revision for r in reports] == [1]


def test_applying_the_proposal_issues_a_report_correction_that_says_what_changed(
    measured, alice_manager, holiday_learned_late
):
    september = response_period(measured, 9)
    original = Report.objects.get(agreement=measured, month=SEPTEMBER)
    run = run_agreement(measured, alice_manager)

    issued = recompute_apply(run, alice_manager, "Berlin declared 17 September a holiday", LATER)

    correction = Report.objects.get(agreement=measured, month=SEPTEMBER, revision=2)
    assert issued == [correction]
    assert correction.supersedes_id == original.pk
    assert "Berlin declared 17 September a holiday" in correction.change_note
    assert f"recompute #{run.pk}" in correction.change_note
    assert any(september.target_label in change and "→" in change for change in correction.changes)
    # The period's breach goes with the miss; the ticket's own breach stays (see the docs).
    assert any(
        change.startswith("Breach removed") and "(period " in change
        for change in correction.changes
    )
    line = next(x for x in correction.content["lines"] if x["target_key"] == september.target_key)
    assert (line["value"], line["status"]) == (100.0, "met")
    # The frozen row keeps what was known at period close; the correction row says what changed.
    assert response_period(measured, 9).value == september.value
    proposal = PeriodCorrection.objects.get(run=run)
    assert proposal.applied_by == alice_manager and proposal.report == correction
    run.refresh_from_db()
    assert run.applied_by == alice_manager
    with pytest.raises(RecomputeError, match="no correction left"):
        recompute_apply(run, alice_manager, "again", LATER)


def test_a_second_recompute_proposes_nothing_once_the_correction_is_applied(
    measured, alice_manager, holiday_learned_late
):
    run = run_agreement(measured, alice_manager)
    recompute_apply(run, alice_manager, "Holiday", LATER)
    again = run_agreement(measured, alice_manager, now=LATER + timedelta(minutes=5))
    assert again.status == "succeeded"
    assert not PeriodCorrection.objects.filter(run=again).exists()


def test_without_a_correction_a_recompute_changes_nothing(measured, alice_manager):
    timers = {
        (t.ticket_id, t.target_key): (t.state, t.due_at, t.used_seconds)
        for t in TicketTimer.objects.all()
    }
    run = run_agreement(measured, alice_manager)
    assert run.timers_changed == 0 and run.missed_to_met == 0
    assert not PeriodCorrection.objects.exists()
    after = {
        (t.ticket_id, t.target_key): (t.state, t.due_at, t.used_seconds)
        for t in TicketTimer.objects.all()
    }
    assert after == timers


# --- Alerts ---------------------------------------------------------------------------------------


def test_a_recompute_does_not_alert_again_about_breaches_already_alerted(
    measured, alice_manager, holiday_learned_late
):
    """The two misses were alerted (quietly: found a month late) and closed with the answer;
    the recompute makes them met, and nobody hears about them again."""
    alerts = set(Alert.objects.values_list("pk", "level", "emailed"))
    emails = Notification.objects.count()
    run = run_agreement(measured, alice_manager)
    assert set(Alert.objects.values_list("pk", "level", "emailed")) == alerts
    assert run.alerts_recorded == 0
    evaluate_periods(LATER)
    assert Notification.objects.count() == emails


def test_a_new_breach_found_by_a_recompute_is_recorded_not_emailed(
    silver, acme_desk, alice_manager
):
    """Corrected at the source: the answer came at 10:45, not 10:05. The miss is 30 minutes
    old, recent enough that ordinary evaluation would email it; a recompute records it."""
    now = datetime(2026, 10, 21, 9, 0, tzinfo=UTC)  # Wednesday 11:00 Berlin
    opened = datetime(2026, 10, 21, 8, 0, tzinfo=UTC)
    ingest(acme_desk, silver, LATE=(opened, opened + timedelta(minutes=5)))
    evaluate_pending_tickets(now)
    assert response_timer("LATE").state == "met"
    Ticket.objects.filter(external_id="LATE").update(
        first_response_at=opened + timedelta(minutes=45),
        resolved_at=opened + timedelta(minutes=50),
    )
    last_email = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    run = recompute_request(
        alice_manager, scope="source", source=acme_desk, reason="Desk re-sent answers", now=now
    )
    run = recompute_run_to_end(run.pk, now)

    assert response_timer("LATE").state == "missed_target"
    assert run.met_to_missed == 1
    alert = Alert.objects.get(ticket__external_id="LATE", level="missed_target")
    assert alert.reached_at > now - timedelta(hours=1)
    assert not alert.emailed and "recompute" in alert.quiet_reason
    evaluate_periods(now)  # delivers whatever is waiting: still no email about the ticket
    ticket_alerts = Alert.objects.filter(ticket__external_id="LATE")
    assert not ticket_alerts.filter(emailed=True).exists()
    keys = [f"alert:{pk}" for pk in ticket_alerts.values_list("pk", flat=True)]
    assert not Notification.objects.filter(key__in=keys).exists()
    # The open period is the present: its warning (at risk now) is sent as usual.
    warning = Notification.objects.exclude(pk__lte=last_email).get()
    assert warning.kind == "alert.warning" and "period" in warning.subject


# --- One at a time, resumable, cancellable, recorded ---------------------------------------------


def test_a_second_request_while_one_runs_names_the_running_one(measured, alice_manager):
    first = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="First", now=LATER
    )
    with pytest.raises(RecomputeBusy) as refused:
        recompute_request(
            alice_manager, scope="agreement", agreement=measured, reason="Again", now=LATER
        )
    assert refused.value.run == first
    assert f"#{first.pk}" in str(refused.value)
    assert RecomputeRun.objects.count() == 1
    recompute_run_to_end(first.pk, LATER)
    second = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="Again", now=LATER
    )
    assert second.pk != first.pk


def test_a_run_resumes_from_its_cursor(measured, alice_manager, holiday_learned_late, monkeypatch):
    monkeypatch.setattr("reporting.recompute.steps.TICKET_STEP", 1)
    run = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="Holiday", now=LATER
    )
    assert recompute_step(run.pk, LATER)
    run.refresh_from_db()
    assert (run.status, run.tickets_done, run.tickets_total) == ("running", 1, 2)
    assert run.ticket_cursor == Ticket.objects.get(external_id="SEPT").pk
    assert run.tickets_percent == 50 and run.periods_percent == 0
    # A new worker picks the run up where the cursor stands: the first ticket is not redone.
    run = recompute_run_to_end(run.pk, LATER)
    assert run.status == "succeeded" and run.tickets_done == 2 and run.missed_to_met == 2


def test_a_cancelled_run_stops_at_its_next_step(measured, alice_manager):
    run = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="Oops", now=LATER
    )
    recompute_cancel(run, alice_manager)
    run = recompute_run_to_end(run.pk, LATER)
    assert run.status == "cancelled" and run.finished_at == LATER
    with pytest.raises(RecomputeError, match="nothing to cancel"):
        recompute_cancel(run, alice_manager)


def test_a_failing_step_records_the_error(measured, alice_manager, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("reporting.recompute.steps.evaluate_tickets", broken)
    run = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="Holiday", now=LATER
    )
    run = recompute_run_to_end(run.pk, LATER)
    assert run.status == "failed" and "database went away" in run.error
    assert run.tickets_done == 0  # the step rolled back


def test_the_request_is_in_the_agreements_audit_trail_with_the_reason(measured, alice_manager):
    run = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="Holiday on 17 Sep", now=LATER
    )
    event = AuditEvent.objects.get(agreement=measured, action="recompute requested")
    assert event.actor == alice_manager and "Holiday on 17 Sep" in event.message
    assert event.object_id == str(run.pk)


def test_a_calendar_recompute_covers_the_agreements_measured_in_it(
    measured, alice_manager, calendars
):
    run = recompute_request(
        alice_manager,
        scope="calendar",
        calendar=calendars["extended"],
        reason="Holiday",
        now=LATER,
    )
    assert list(run.agreements.all()) == [measured]
    with pytest.raises(RecomputeError, match="No agreement in force"):
        recompute_request(
            alice_manager, scope="calendar", calendar=calendars["london"], reason="x", now=LATER
        )


@pytest.mark.parametrize("actor", ["tom_team", "carol_customer"])
def test_only_provider_managers_recompute(measured, actor, request):
    user = request.getfixturevalue(actor)
    with pytest.raises(RecomputeError, match="service managers and admins"):
        recompute_request(user, scope="agreement", agreement=measured, reason="x", now=LATER)


def test_a_reason_is_required(measured, alice_manager):
    with pytest.raises(RecomputeError, match="Say why"):
        recompute_request(
            alice_manager, scope="agreement", agreement=measured, reason=" ", now=LATER
        )


def test_asking_again_resumes_a_run_whose_next_step_was_lost(
    measured, alice_manager, django_capture_on_commit_callbacks
):
    stalled = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="First", now=LATER
    )
    with django_capture_on_commit_callbacks() as queued, pytest.raises(RecomputeBusy):
        recompute_request(
            alice_manager, scope="agreement", agreement=measured, reason="x", now=LATER
        )
    assert queued == []  # it is moving (just asked for): nothing is sent twice
    RecomputeRun.objects.filter(pk=stalled.pk).update(updated_at=LATER - timedelta(minutes=11))
    with (
        django_capture_on_commit_callbacks() as queued,
        pytest.raises(RecomputeBusy) as refused,
    ):
        recompute_request(
            alice_manager, scope="agreement", agreement=measured, reason="x", now=LATER
        )
    assert refused.value.run == stalled and len(queued) == 1
    assert RecomputeRun.objects.count() == 1
