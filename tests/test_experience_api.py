"""The experience API: surveys and experience beside compliance, scoped by organisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Survey
from monitoring.services.experience import survey_answer
from tests.support.experience import sign_with_experience_targets

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(acme_agreement, alice_manager, carol_customer, acme_desk):
    """Acme's agreement with a CSAT target deciding from one response, one P3 ticket that
    met its SLA targets, rated 1 with a comment: a watermelon."""
    agreement = sign_with_experience_targets(
        acme_agreement,
        alice_manager,
        carol_customer,
        csat=("4.2", "3.8", 1),
        effective_from=timezone.localdate().replace(day=1),
    )
    now = timezone.now()
    tickets_ingest(
        acme_desk,
        [
            {
                "agreement": agreement.reference,
                "external_id": "INC-1",
                "priority": "P3",
                "opened_at": (now - timedelta(minutes=50)).isoformat(),
                "first_response_at": (now - timedelta(minutes=45)).isoformat(),
                "resolved_at": (now - timedelta(minutes=20)).isoformat(),
            }
        ],
    )
    evaluate_pending_tickets(timezone.now())
    survey = Survey.objects.get()
    survey_answer(survey, 1, "Nobody told us.")
    evaluate_periods(None, [agreement.pk])
    return agreement


def test_customer_reads_experience_with_the_watermelon_and_the_comment(
    client, answered, carol_customer
):
    client.force_login(carol_customer)
    response = client.get(f"/api/agreements/{answered.pk}/experience/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["watermelon"] is True
    assert body["sla"]["all_met"] is True and body["sla"]["met"] >= 1
    (csat,) = body["experience"]
    assert (csat["metric"], csat["value"], csat["responses"]) == ("csat", 1.0, 1)
    assert csat["below_threshold"] is True
    assert body["comments"][0]["comment"] == "Nobody told us."
    assert body["comments"][0]["ticket"] == "INC-1"


def test_other_organisations_get_404_for_experience_and_surveys(client, answered, other_org_viewer):
    client.force_login(other_org_viewer)
    assert client.get(f"/api/agreements/{answered.pk}/experience/").status_code == 404
    survey = Survey.objects.get()
    assert client.get(f"/api/surveys/{survey.pk}/").status_code == 404
    assert client.get("/api/surveys/").json()["count"] == 0


def test_customer_and_provider_list_surveys_with_filters(
    client, answered, carol_customer, alice_manager
):
    client.force_login(carol_customer)
    listed = client.get("/api/surveys/?kind=csat&answered=true").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert (row["score"], row["comment"], row["ticket_external_id"]) == (
        1,
        "Nobody told us.",
        "INC-1",
    )
    assert client.get("/api/surveys/?answered=false").json()["count"] == 0
    client.force_login(alice_manager)
    assert client.get(f"/api/surveys/?agreement={answered.pk}").json()["count"] == 1


@pytest.mark.parametrize(
    "month", ["2026-13", "december", "2026-1", "'; drop", "2026-12-01", "0000-05", "2026-00"]
)
def test_a_bad_month_is_a_400_naming_the_field(client, answered, carol_customer, month):
    client.force_login(carol_customer)
    response = client.get(f"/api/agreements/{answered.pk}/experience/", {"month": month})
    assert response.status_code == 400
    assert "YYYY-MM" in response.json()["month"][0]


def test_the_agreement_filter_of_surveys_is_no_existence_oracle(client, answered, other_org_viewer):
    """Another organisation's agreement and one that does not exist answer alike."""
    client.force_login(other_org_viewer)
    theirs = client.get("/api/surveys/", {"agreement": answered.pk})
    missing = client.get("/api/surveys/", {"agreement": answered.pk + 100000})
    assert (theirs.status_code, missing.status_code) == (200, 200)
    assert theirs.json()["count"] == missing.json()["count"] == 0


def test_a_month_without_experience_results_has_no_figures(client, answered, carol_customer):
    client.force_login(carol_customer)
    response = client.get(f"/api/agreements/{answered.pk}/experience/", {"month": "2020-01"})
    assert response.status_code == 200
    body = response.json()
    assert (body["experience"], body["watermelon"], body["period_start"]) == ([], False, None)


def test_anonymous_callers_are_refused(client, answered):
    assert client.get(f"/api/agreements/{answered.pk}/experience/").status_code in (401, 403)
    assert client.get("/api/surveys/").status_code in (401, 403)


def test_the_customer_dashboard_card_says_how_many_responses(client, answered, carol_customer):
    client.force_login(carol_customer)
    page = client.get("/dashboard/").content.decode()
    assert "From 1 response" in page
    assert f'data-watermelon="{answered.pk}"' in page
