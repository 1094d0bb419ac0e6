"""Recompute through a real Celery worker: each step re-queues the next until the run is done,
a run asked for while the worker is down starts when it is back, and in the browser the
progress bar fills without a reload and the closed-period correction is applied."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Ticket
from reporting.models import PeriodCorrection, RecomputeRun, Report
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot
from tests.support.recompute import *  # noqa: F403  (fixtures)
from tests.support.recompute import SEPT_OPENED, SEPTEMBER, response_timer

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"condition not met within {timeout}s")


def keep(page, name: str) -> None:
    path = screenshot(page, name)
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, DOCS_SCREENSHOTS / f"{name}.png")


def answered_on_time(agreement) -> None:
    """The desk's data was wrong: September's ticket was answered five minutes after it
    opened. Changed in the database, so only a recompute sees it."""
    Ticket.objects.filter(external_id="SEPT").update(
        first_response_at=SEPT_OPENED + timedelta(minutes=5)
    )


def test_a_worker_runs_a_recompute_to_the_end_even_when_asked_while_it_was_down(
    alice_manager, measured, celery_worker
):
    # ``measured`` first: its evaluation is done before the worker could evaluate anything.
    answered_on_time(measured)
    celery_worker.stop()
    client = APIClient()
    client.force_authenticate(alice_manager)
    created = client.post(
        "/api/recompute/",
        {"scope": "agreement", "agreement": measured.pk, "reason": "Desk data corrected"},
        format="json",
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    time.sleep(1)
    assert RecomputeRun.objects.get(pk=run_id).status == "queued"

    celery_worker.start()
    run = wait_for(lambda: RecomputeRun.objects.filter(pk=run_id, status="succeeded").first())
    assert (run.tickets_done, run.tickets_total, run.percent) == (2, 2, 100)
    assert run.missed_to_met == 1
    assert response_timer("SEPT").state == "met"
    correction = PeriodCorrection.objects.get(run=run)
    assert (correction.new_value, correction.new_status) == (100.0, "met")


@pytest.mark.browser
def test_the_progress_bar_fills_and_the_correction_is_applied_in_the_browser(
    alice_manager, measured, acme_desk, calendars, new_page, celery_worker
):
    answered_on_time(measured)
    # Enough tickets for several steps, so the bar is seen moving.
    opened = SEPT_OPENED + timedelta(days=30)
    tickets_ingest(
        acme_desk,
        [
            {
                "external_id": f"BULK-{n}",
                "agreement": measured.reference,
                "priority": "P3",
                "opened_at": (opened + timedelta(minutes=n)).isoformat(),
                "first_response_at": (opened + timedelta(minutes=n + 20)).isoformat(),
                "resolved_at": (opened + timedelta(minutes=n + 90)).isoformat(),
            }
            for n in range(2500)
        ],
    )
    page = new_page()
    login(page, alice_manager.username, PASSWORD)
    page.goto(reverse("reporting:recompute-list") + f"?agreement={measured.pk}")
    page.get_by_label("Reason").fill("The desk re-sent September's first responses")
    keep(page, "recompute-form")
    assert_no_axe_violations(page, "recompute form")
    page.get_by_role("button", name="Recompute").click()
    page.wait_for_url("**/recompute/*/")

    bar = page.get_by_role("progressbar", name="Recompute progress")
    page.wait_for_function(
        "() => document.querySelector('#recompute-status').dataset.status === 'running' && "
        "Number(document.querySelector('[role=progressbar]').getAttribute('aria-valuenow')) > 0",
        timeout=120_000,
    )
    keep(page, "recompute-running")
    assert_no_axe_violations(page, "recompute running")

    page.locator('#recompute-status[data-status="succeeded"]').wait_for(timeout=240_000)
    page.locator("#corrections").wait_for()
    assert bar.get_attribute("aria-valuenow") == "100"
    assert page.locator('[data-count="tickets"]').inner_text().startswith("2502 of 2502")
    keep(page, "recompute-finished")
    assert_no_axe_violations(page, "recompute finished with a correction to apply")

    page.get_by_label("Why the reports are corrected").fill("Desk data corrected for September")
    page.get_by_role("button", name="Apply 1 correction").click()
    page.get_by_text("Correction revisions issued").wait_for()
    keep(page, "recompute-applied")
    assert_no_axe_violations(page, "recompute applied")
    revision = Report.objects.get(agreement=measured, month=SEPTEMBER, revision=2)
    assert "Desk data corrected for September" in revision.change_note
    page.get_by_role("link", name="revision 2").click()
    page.get_by_text("Desk data corrected for September").first.wait_for()
    keep(page, "recompute-report-correction")

    page.goto(reverse("agreements:calendar-detail", args=[calendars["extended"].pk]))
    page.get_by_role("link", name="Recompute affected agreements").click()
    assert page.get_by_label("Calendar", exact=True).input_value() == str(calendars["extended"].pk)
    assert page.get_by_role("radio", name="Agreements measured in a calendar").is_checked()
    keep(page, "recompute-from-calendar")

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, alice_manager.username, PASSWORD)
    phone.goto(page.url)
    keep(phone, "recompute-phone")
    assert_no_axe_violations(phone, "recompute page at phone width")
