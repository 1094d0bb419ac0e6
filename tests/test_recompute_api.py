"""Recompute pages and API: who may start one, the progress a person and a script follow,
one run at a time per agreement, and corrections applied from the page or the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from reporting.models import PeriodCorrection, RecomputeRun, Report
from reporting.recompute.runs import recompute_request
from reporting.recompute.steps import recompute_run_to_end
from tests.support.recompute import *  # noqa: F403  (fixtures)
from tests.support.recompute import LATER, SEPTEMBER

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def start(agreement, user, reason="Berlin declared two holidays") -> RecomputeRun:
    return recompute_request(user, scope="agreement", agreement=agreement, reason=reason, now=LATER)


# --- Pages ---------------------------------------------------------------------------------------


def test_a_manager_starts_a_recompute_from_the_page(client, alice_manager, measured):
    client.force_login(alice_manager)
    form = client.get("/recompute/")
    assert form.status_code == 200 and "New recompute" in form.text

    response = client.post(
        "/recompute/",
        {"scope": "agreement", "agreement": measured.pk, "reason": "Holiday learned late"},
    )

    run = RecomputeRun.objects.get()
    assert response.status_code == 302 and response.url == f"/recompute/{run.pk}/"
    assert (run.requested_by, run.reason, run.status) == (
        alice_manager,
        "Holiday learned late",
        "queued",
    )
    page = client.get(response.url)
    assert page.status_code == 200
    assert f'hx-get="/recompute/{run.pk}/progress/"' in page.text
    assert 'role="progressbar"' in page.text


def test_the_progress_partial_stops_polling_when_the_run_is_done(
    client, alice_manager, measured, holiday_learned_late
):
    run = start(measured, alice_manager)
    client.force_login(alice_manager)
    running = client.get(f"/recompute/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in running.text and "HX-Refresh" not in running
    recompute_run_to_end(run.pk, LATER)
    done = client.get(f"/recompute/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in done.text
    assert 'aria-valuenow="100"' in done.text and done["HX-Refresh"] == "true"
    detail = client.get(f"/recompute/{run.pk}/")
    assert 'id="corrections"' in detail.text and "Apply 1 correction" in detail.text


def test_applying_from_the_page_issues_the_report_correction(
    client, alice_manager, measured, holiday_learned_late
):
    run = recompute_run_to_end(start(measured, alice_manager).pk, LATER)
    client.force_login(alice_manager)
    response = client.post(f"/recompute/{run.pk}/apply/", {"note": "Holiday on 17 September"})
    assert response.status_code == 302
    revision = Report.objects.get(agreement=measured, month=SEPTEMBER, revision=2)
    assert "Holiday on 17 September" in revision.change_note
    report_page = client.get(revision.get_absolute_url())
    assert "Holiday on 17 September" in report_page.text
    detail = client.get(f"/recompute/{run.pk}/")
    assert "revision 2" in detail.text


def test_a_second_request_from_the_page_leads_to_the_running_one(client, alice_manager, measured):
    running = start(measured, alice_manager)
    client.force_login(alice_manager)
    response = client.post(
        "/recompute/",
        {"scope": "agreement", "agreement": measured.pk, "reason": "Again"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/recompute/{running.pk}/"
    assert "one recompute at a time per agreement" in response.text
    assert RecomputeRun.objects.count() == 1


def test_the_form_says_what_is_missing(client, alice_manager, measured):
    client.force_login(alice_manager)
    response = client.post("/recompute/", {"scope": "calendar", "reason": ""})
    assert response.status_code == 400
    assert "Choose the calendar to recompute." in response.text
    assert not RecomputeRun.objects.exists()


def test_the_calendar_page_offers_to_recompute_the_agreements_measured_in_it(
    client, alice_manager, measured, calendars
):
    extended = calendars["extended"]
    client.force_login(alice_manager)
    page = client.get(f"/calendars/{extended.pk}/")
    assert f'href="/recompute/?calendar={extended.pk}"' in page.text
    form = client.get(f"/recompute/?calendar={extended.pk}")
    assert f'<option value="{extended.pk}" selected>' in form.text


@pytest.mark.parametrize(
    "actor, status", [("carol_customer", 404), ("other_org_viewer", 404), ("tom_team", 403)]
)
def test_only_provider_managers_see_the_recompute_pages(
    client, request, alice_manager, measured, actor, status
):
    run = start(measured, alice_manager)
    client.force_login(request.getfixturevalue(actor))
    for url in (
        "/recompute/",
        f"/recompute/{run.pk}/",
        f"/recompute/{run.pk}/progress/",
    ):
        assert client.get(url).status_code == status, url
    for url in ("/recompute/", f"/recompute/{run.pk}/cancel/", f"/recompute/{run.pk}/apply/"):
        assert client.post(url, {"reason": "x", "note": "x"}).status_code == status, url
    run.refresh_from_db()
    assert run.cancel_requested is False and RecomputeRun.objects.count() == 1


# --- API -----------------------------------------------------------------------------------------


def test_the_api_starts_a_run_and_reports_its_progress(
    alice_manager, measured, holiday_learned_late
):
    client = api(alice_manager)
    created = client.post(
        "/api/recompute/",
        {"scope": "agreement", "agreement": measured.pk, "reason": "Holiday"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "queued" and body["agreements"] == [measured.reference]
    assert body["tickets_total"] == 2 and body["percent"] == 0

    recompute_run_to_end(body["id"], LATER)
    done = client.get(f"/api/recompute/{body['id']}/").json()
    assert done["status"] == "succeeded" and done["percent"] == 100
    assert done["missed_to_met"] == 2
    [correction] = done["corrections"]
    assert (correction["new_value"], correction["new_status"]) == (100.0, "met")
    assert correction["applied_at"] is None

    applied = client.post(
        f"/api/recompute/{body['id']}/apply/", {"note": "Holiday on 17 Sep"}, format="json"
    )
    assert applied.status_code == 200
    assert applied.json()["corrections"][0]["report"] == (
        Report.objects.get(agreement=measured, month=SEPTEMBER, revision=2).pk
    )
    again = client.post(f"/api/recompute/{body['id']}/apply/", {"note": "x"}, format="json")
    assert again.status_code == 400 and "no correction left" in again.json()["detail"]


def test_the_api_answers_409_while_a_run_covers_the_agreement(alice_manager, measured):
    running = start(measured, alice_manager)
    answer = api(alice_manager).post(
        "/api/recompute/",
        {"scope": "agreement", "agreement": measured.pk, "reason": "Again"},
        format="json",
    )
    assert answer.status_code == 409
    assert answer.json()["run"] == running.pk
    assert RecomputeRun.objects.count() == 1


def test_the_api_cancels_a_run(alice_manager, measured):
    running = start(measured, alice_manager)
    answer = api(alice_manager).post(f"/api/recompute/{running.pk}/cancel/")
    assert answer.status_code == 200 and answer.json()["cancel_requested"] is True
    assert recompute_run_to_end(running.pk, LATER).status == "cancelled"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"scope": "agreement", "reason": "x"}, "scope"),
        ({"scope": "agreement", "agreement": 99999, "reason": "x"}, "agreement"),
        ({"scope": "planet", "reason": "x"}, "scope"),
        ({"scope": "agreement", "agreement": "AGREEMENT"}, "reason"),
        ({"scope": "agreement", "agreement": "AGREEMENT", "reason": "x", "colour": 1}, "colour"),
    ],
)
def test_the_api_says_which_field_is_wrong(alice_manager, measured, body, field):
    body = {k: measured.pk if v == "AGREEMENT" else v for k, v in body.items()}
    answer = api(alice_manager).post("/api/recompute/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not RecomputeRun.objects.exists()


@pytest.mark.parametrize("actor, status", [("carol_customer", 404), ("tom_team", 403)])
def test_only_provider_managers_use_the_recompute_api(
    request, alice_manager, measured, actor, status
):
    run = start(measured, alice_manager)
    client = api(request.getfixturevalue(actor))
    assert client.get("/api/recompute/").status_code == status
    assert client.get(f"/api/recompute/{run.pk}/").status_code == status
    body = {"scope": "agreement", "agreement": measured.pk, "reason": "x"}
    assert client.post("/api/recompute/", body, format="json").status_code == status
    assert client.post(f"/api/recompute/{run.pk}/cancel/").status_code == status
    assert RecomputeRun.objects.count() == 1
    assert not PeriodCorrection.objects.exists()


def test_the_schema_documents_the_recompute_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    assert sorted(schema["paths"]["/api/recompute/"]) == ["get", "post"]
    assert sorted(schema["paths"]["/api/recompute/{id}/"]) == ["get"]
    for path in ("/api/recompute/{id}/apply/", "/api/recompute/{id}/cancel/"):
        assert list(schema["paths"][path]) == ["post"]
    assert "succeeded" in schema["components"]["schemas"]["RecomputeStatusEnum"]["enum"]
