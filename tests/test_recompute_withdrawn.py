"""What a recompute does to ticket breaches and alerts it finds wrong, and the sweep that
resends a lost step.

A ticket breach found met after all is withdrawn, not deleted (it was announced): the row
says when and by which run; reports and dashboards leave it out and a report correction
names it. Alerts about the past are recorded through the engine's ``quiet_reason``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from monitoring.evaluation.tickets import evaluate_tickets
from monitoring.models import Alert, Breach, Ticket
from reporting.models import RecomputeRun, Report
from reporting.recompute import runs as recompute
from reporting.recompute.apply import recompute_apply
from reporting.recompute.runs import recompute_request
from reporting.selectors.recent import latest_breaches, with_counts
from sla_portal.celery import app
from tests.support.recompute import *  # noqa: F403  (fixtures)
from tests.support.recompute import LATER, SEPT_ANSWERED, SEPTEMBER, run_agreement

pytestmark = pytest.mark.django_db


def ticket_breaches(external_id: str) -> list[Breach]:
    return list(Breach.objects.filter(ticket__external_id=external_id))


def test_a_ticket_breach_found_met_is_withdrawn_with_the_run_that_found_it(
    measured, alice_manager, holiday_learned_late
):
    before = ticket_breaches("SEPT")
    assert before and all(b.withdrawn_at is None for b in before)

    run = run_agreement(measured, alice_manager)

    after = ticket_breaches("SEPT")
    assert [b.pk for b in after] == [b.pk for b in before]  # kept: events are rows
    for breach in after:
        assert breach.withdrawn_at == LATER
        assert f"Found met by recompute #{run.pk}" in breach.withdrawn_reason
        assert "Berlin declared two holidays" in breach.withdrawn_reason


def test_a_breach_whose_verdict_stands_is_not_withdrawn(measured, alice_manager):
    """Without a correction the misses stay misses; their breaches closed normally when the
    tickets were answered and resolved late, and that is no withdrawal."""
    assert Breach.objects.filter(ticket__isnull=False, closed_at__isnull=False).exists()
    run_agreement(measured, alice_manager)
    assert not Breach.objects.filter(withdrawn_at__isnull=False).exists()


def test_a_corrected_report_leaves_the_withdrawn_breach_out_and_says_so(
    measured, alice_manager, holiday_learned_late
):
    original = Report.objects.get(agreement=measured, month=SEPTEMBER)
    sept = ticket_breaches("SEPT")
    assert {b["id"] for b in original.content["breaches"]} >= {b.pk for b in sept}
    run = run_agreement(measured, alice_manager)

    recompute_apply(run, alice_manager, "Berlin declared 17 September a holiday", LATER)

    correction = Report.objects.get(agreement=measured, month=SEPTEMBER, revision=2)
    listed = {b["id"] for b in correction.content["breaches"]}
    assert not listed & {b.pk for b in sept}
    withdrawn = [c for c in correction.changes if c.startswith("Breach withdrawn")]
    assert len(withdrawn) == len(sept)
    assert all("(ticket " in c and f"recompute #{run.pk}" in c for c in withdrawn)


def test_dashboards_leave_withdrawn_breaches_out(measured, alice_manager, holiday_learned_late):
    agreements = [measured.pk]
    counted = with_counts(alice_manager, type(measured).objects.filter(pk=measured.pk))
    sept = {b.pk for b in ticket_breaches("SEPT")}
    assert sept <= set(latest_breaches(alice_manager, agreements, 50).values_list("pk", flat=True))
    count_before = counted.get().breach_count

    run_agreement(measured, alice_manager)

    shown = set(latest_breaches(alice_manager, agreements, 50).values_list("pk", flat=True))
    assert not shown & sept
    withdrawn = Breach.objects.filter(agreement=measured, withdrawn_at__isnull=False).count()
    assert withdrawn >= len(sept)
    assert counted.get().breach_count == count_before - withdrawn


# --- The engine's quiet hook -------------------------------------------------------------------


def test_the_engine_records_alerts_quietly_when_asked(measured):
    """A miss found within the alert age would be emailed; with ``quiet_reason`` it is
    recorded, not emailed, with that reason, and never joins the delivery queue."""
    Alert.objects.all().delete()
    ids = list(Ticket.objects.filter(external_id="SEPT").values_list("pk", flat=True))
    now = SEPT_ANSWERED + timedelta(minutes=5)  # right after SEPT's miss and answer
    raised = evaluate_tickets(ids, now, quiet_reason="Found by a test")
    alerts = list(Alert.objects.filter(ticket_id__in=ids))
    assert raised == len(alerts) > 0
    assert all(not a.emailed and a.quiet_reason == "Found by a test" for a in alerts)
    assert all(a.notified_at == now for a in alerts)


# --- The sweep for stalled runs ---------------------------------------------------------------


def test_the_sweep_resends_the_step_of_a_run_that_has_not_moved(
    measured, alice_manager, django_capture_on_commit_callbacks
):
    run = recompute_request(
        alice_manager, scope="agreement", agreement=measured, reason="First", now=LATER
    )
    with django_capture_on_commit_callbacks() as queued:
        assert recompute.recompute_resume_stalled(LATER) == []
    assert queued == []  # moving: nothing sent twice

    RecomputeRun.objects.filter(pk=run.pk).update(updated_at=LATER - timedelta(minutes=11))
    with django_capture_on_commit_callbacks() as queued:
        assert recompute.recompute_resume_stalled(LATER) == [run.pk]
    assert len(queued) == 1
    with django_capture_on_commit_callbacks() as queued:
        assert recompute.recompute_resume_stalled(LATER + timedelta(minutes=2)) == []
    assert queued == []  # sent again at most once per ten minutes

    RecomputeRun.objects.filter(pk=run.pk).update(
        status="succeeded", updated_at=LATER - timedelta(hours=1)
    )
    assert recompute.recompute_resume_stalled(LATER + timedelta(hours=1)) == []


def test_the_sweep_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["recompute-resume-stalled"]
    app.loader.import_default_modules()  # the worker's task discovery
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 600
