"""The periodic NPS survey and the agreement's experience page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from monitoring.evaluation.periods import evaluate_periods
from monitoring.experience import tokens
from monitoring.experience.nps import current_round, nps_schedule_set, nps_send_due
from monitoring.models import PeriodResult, Survey
from monitoring.tasks import send_nps_surveys
from sla_portal.core.models import Notification
from tests.support.experience import sign_with_experience_targets

pytestmark = pytest.mark.django_db


@pytest.fixture
def nps_agreement(acme_agreement, alice_manager, carol_customer, victor_viewer):
    return sign_with_experience_targets(
        acme_agreement,
        alice_manager,
        carol_customer,
        csat=None,
        nps=("30", "10", 2),
        effective_from=timezone.localdate().replace(day=1),
    )


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 1, 14), None),
        (date(2026, 1, 15), 1),
        (date(2026, 4, 14), 1),
        (date(2026, 4, 15), 2),
        (date(2027, 1, 15), 5),
    ],
)
def test_rounds_follow_the_schedule(today, expected):
    assert current_round(date(2026, 1, 15), 3, today) == expected


def test_each_contact_is_asked_once_per_round(nps_agreement, carol_customer, victor_viewer):
    nps_schedule_set(nps_agreement, 3, timezone.localdate() - timedelta(days=1))
    assert nps_send_due() == 2
    assert nps_send_due() == 0  # a repeated run asks nobody again
    assert send_nps_surveys() == 0  # nor beat's task
    recipients = Notification.objects.filter(kind="survey.nps").values_list("recipient", flat=True)
    assert sorted(recipients) == sorted([carol_customer.email, victor_viewer.email])
    assert set(Survey.objects.values_list("kind", "round")) == {("nps", 1)}
    body = Notification.objects.filter(kind="survey.nps").first().body_text
    assert body.count("/surveys/") == 11


def test_no_survey_before_the_first_round_or_without_schedule(nps_agreement):
    assert nps_send_due() == 0
    nps_schedule_set(nps_agreement, 1, timezone.localdate() + timedelta(days=2))
    assert nps_send_due() == 0
    nps_schedule_set(nps_agreement, None, None)
    assert not Survey.objects.exists()


def test_nps_answers_make_the_period_figure_after_the_minimum(client, nps_agreement):
    nps_schedule_set(nps_agreement, 1, timezone.localdate())
    nps_send_due()
    first, second = Survey.objects.order_by("pk")
    page = client.get(f"/surveys/{tokens.survey_token(first, 10)}/")
    assert b"recommend" in page.content
    client.post(f"/surveys/{tokens.survey_token(first, 10)}/", {"score": "10"})
    evaluate_periods(None, [nps_agreement.pk])
    result = PeriodResult.objects.filter(agreement=nps_agreement, metric="nps").latest(
        "period_start"
    )
    assert result.status == "no_data" and result.details["responses"] == 1
    client.post(f"/surveys/{tokens.survey_token(second, 3)}/", {"score": "3", "comment": "Slow"})
    evaluate_periods(None, [nps_agreement.pk])
    result.refresh_from_db()
    # One promoter, one detractor of two: 50 % - 50 % = 0, below the target 30.
    assert (result.value, result.status, result.details["responses"]) == (0.0, "breached", 2)


def test_experience_page_scoping_and_schedule_rights(
    client, nps_agreement, carol_customer, alice_manager, other_org_viewer
):
    url = f"/agreements/{nps_agreement.pk}/experience/"
    client.force_login(other_org_viewer)
    assert client.get(url).status_code == 404
    client.force_login(carol_customer)
    assert client.get(url).status_code == 200
    assert client.post(url, {"every_months": "1"}).status_code == 403
    client.force_login(alice_manager)
    bad = client.post(url, {"every_months": "7", "starts_on": "yesterday"})
    assert bad.status_code == 200 and b"Select a valid choice" in bad.content
    saved = client.post(url, {"every_months": "3", "starts_on": "2026-01-15"})
    assert saved.status_code == 302
    assert nps_agreement.nps_schedule.every_months == 3
    assert b"Every 3 months from 15 Jan 2026" in client.get(url).content


def test_nps_schedule_api(client, nps_agreement, alice_manager, carol_customer, other_org_viewer):
    url = f"/api/agreements/{nps_agreement.pk}/nps-schedule/"
    client.force_login(alice_manager)
    assert client.get(url).json() == {"every_months": 0, "starts_on": None, "current_round": None}
    for bad in (
        {"every_months": 13},
        {"every_months": "x"},
        {},
        {"every_months": 1, "starts_on": "soon"},
    ):
        response = client.put(url, bad, content_type="application/json")
        assert response.status_code == 400, bad
        assert set(response.json()) <= {"every_months", "starts_on"}
    saved = client.put(
        url, {"every_months": 3, "starts_on": "2026-01-15"}, content_type="application/json"
    )
    assert saved.status_code == 200
    assert saved.json()["every_months"] == 3 and saved.json()["current_round"] >= 1
    client.force_login(carol_customer)
    assert client.get(url).json()["every_months"] == 3
    assert client.put(url, {"every_months": 0}, content_type="application/json").status_code == 403
    client.force_login(other_org_viewer)
    assert client.get(url).status_code == 404
    client.force_login(alice_manager)
    removed = client.put(url, {"every_months": 0}, content_type="application/json")
    assert removed.json()["every_months"] == 0


def test_a_schedule_change_sends_no_second_round_within_the_period(nps_agreement):
    """Rounds are keyed by their due date: moving the schedule's anchor back makes the
    current round "round 2", but a round went out yesterday, so nobody is asked again until
    a whole period after it."""
    today = timezone.localdate()
    nps_schedule_set(nps_agreement, 3, today - timedelta(days=1))
    assert nps_send_due() == 2
    nps_schedule_set(nps_agreement, 3, today - timedelta(days=120))
    assert nps_send_due() == 0
    assert set(Survey.objects.values_list("round_on", flat=True)) == {today - timedelta(days=1)}
    # Ten and a half months after the anchor: the round due at nine months, more than one
    # period after the round sent, goes out.
    assert nps_send_due(timezone.now() + timedelta(days=200)) == 2


def test_no_nps_survey_without_an_nps_target(acme_agreement, alice_manager, carol_customer):
    from monitoring.models import NpsSchedule

    agreement = sign_with_experience_targets(acme_agreement, alice_manager, carol_customer)
    NpsSchedule.objects.create(
        agreement=agreement,
        customer_id=agreement.customer_id,
        every_months=1,
        starts_on=timezone.localdate() - timedelta(days=1),
    )
    assert nps_send_due() == 0
    assert not Survey.objects.exists()


def test_the_schedule_api_refuses_odd_intervals_and_far_dates(client, nps_agreement, alice_manager):
    url = f"/api/agreements/{nps_agreement.pk}/nps-schedule/"
    client.force_login(alice_manager)
    today = timezone.localdate()
    for bad in (
        {"every_months": 2},
        {"every_months": 5},
        {"every_months": -1},
        {"every_months": 1, "starts_on": "1999-12-31"},
        {"every_months": 1, "starts_on": "0001-01-01"},
        {"every_months": 1, "starts_on": (today + timedelta(days=400)).isoformat()},
    ):
        response = client.put(url, bad, content_type="application/json")
        assert response.status_code == 400, bad
        assert set(response.json()) <= {"every_months", "starts_on"}, response.json()


def test_the_schedule_api_refuses_an_agreement_without_nps_target(
    client, acme_agreement, alice_manager, carol_customer
):
    agreement = sign_with_experience_targets(acme_agreement, alice_manager, carol_customer)
    client.force_login(alice_manager)
    response = client.put(
        f"/api/agreements/{agreement.pk}/nps-schedule/",
        {"every_months": 3},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "NPS target" in response.json()["every_months"][0]
