"""Experience targets in the agreement: SMART rules in the API and the editor, the signed
version's terms, and the review page that starts from the watermelon."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from agreements.smart import TargetSpec, smart_errors
from agreements.terms import measured_terms
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Survey, Ticket
from monitoring.services.experience import survey_answer
from reporting.models import Report
from reporting.services.reports import issue_due_reports
from tests.support.experience import sign_with_experience_targets

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_smart_rules_of_experience_targets():
    base = {"unit": "score", "direction": "higher", "period": "month", "min_responses": 5}
    ok = TargetSpec(
        metric="csat", target_value=4.2, threshold_value=3.8, data_source="tickets", **base
    )
    assert smart_errors(ok) == {}
    nps = TargetSpec(
        metric="nps", target_value=-120, threshold_value=10, data_source="tickets", **base
    )
    errors = smart_errors(nps)
    assert "between -100 and 100" in errors["target_value"][0]
    assert "surveys" in errors["data_source"][0]
    assert "threshold" in " ".join(errors["threshold_value"])
    lower = TargetSpec(
        metric="csat",
        target_value=4,
        threshold_value=3,
        data_source="tickets",
        **{**base, "direction": "lower"},
    )
    assert "higher is better" in smart_errors(lower)["direction"][0]
    elsewhere = TargetSpec(
        metric="availability",
        target_value=99.9,
        threshold_value=99.5,
        unit="percent",
        direction="higher",
        period="month",
        data_source="uptime",
        min_responses=3,
    )
    assert "CSAT and NPS only" in smart_errors(elsewhere)["min_responses"][0]


def test_api_creates_a_csat_target_with_defaults_and_requires_the_minimum_sample(
    alice_manager, acme_agreement
):
    payload = {
        "agreement": acme_agreement.pk,
        "metric": "csat",
        "target_value": "4.2",
        "threshold_value": "3.8",
    }
    refused = api(alice_manager).post("/api/targets/", payload, format="json")
    assert refused.status_code == 400
    assert "responses" in refused.json()["min_responses"][0]
    created = api(alice_manager).post(
        "/api/targets/", {**payload, "min_responses": 10}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["unit"], body["direction"], body["data_source"]) == ("score", "higher", "tickets")
    assert body["min_responses"] == 10
    bad = api(alice_manager).post(
        "/api/targets/", {**payload, "min_responses": "many"}, format="json"
    )
    assert bad.status_code == 400 and "min_responses" in bad.json()


def test_the_support_section_edits_csat_and_nps_with_their_minimum(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    page = client.get(f"/agreements/{acme_agreement.pk}/edit/support/")
    assert page.status_code == 200
    assert b"Min. responses" in page.content
    assert b"Customer satisfaction (CSAT)" in page.content


def test_the_signed_version_carries_the_minimum_sample(
    acme_agreement, alice_manager, carol_customer
):
    agreement = sign_with_experience_targets(acme_agreement, alice_manager, carol_customer)
    (csat,) = [t for t in measured_terms(agreement).targets if t.metric == "csat"]
    assert (csat.min_responses, csat.is_experience, csat.is_ticket_timer) == (3, True, False)
    others = [t for t in measured_terms(agreement).targets if not t.is_experience]
    assert others and all(t.min_responses is None for t in others)


def test_the_review_page_starts_from_the_watermelon(
    client, acme_agreement, alice_manager, carol_customer, acme_desk
):
    agreement = sign_with_experience_targets(
        acme_agreement, alice_manager, carol_customer, csat=("4.2", "3.8", 1)
    )
    # In force since November (the lifecycle stamps the wall clock; the test names the day).
    type(agreement).objects.filter(pk=agreement.pk).update(
        activated_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    # A P3 ticket of November that met its SLA targets, rated 1 with a comment.
    tickets_ingest(
        acme_desk,
        [
            {
                "agreement": agreement.reference,
                "external_id": "NOV-1",
                "priority": "P3",
                "opened_at": "2026-11-10T09:00:00Z",
                "first_response_at": "2026-11-10T09:05:00Z",
                "resolved_at": "2026-11-10T10:00:00Z",
            }
        ],
    )
    ticket = Ticket.objects.get(external_id="NOV-1")
    survey = Survey.objects.create(
        kind="csat", agreement=agreement, customer_id=agreement.customer_id, ticket=ticket
    )
    survey_answer(survey, 1, "The fix broke our invoices for a week.")
    evaluate_pending_tickets(datetime(2026, 11, 20, tzinfo=UTC))
    closed = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    evaluate_periods(closed)
    issue_due_reports(closed)
    report = Report.objects.get(agreement=agreement, month__month=11)
    client.force_login(alice_manager)
    page = client.get(f"/reports/{report.pk}/").content.decode()
    flag = page.index("Watermelon: every SLA target met")
    assert flag < page.index("Draft for the provider")
    assert "The fix broke our invoices for a week." in page
