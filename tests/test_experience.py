"""Experience targets evaluated per period, and the CSAT survey of a resolved ticket.

Data goes in through the real ingest; evaluation runs what the worker runs; emails go
through the outbox (``Notification`` rows). The figures are hand-computable: a CSAT target
of 4.2 with threshold 3.8 and a minimum of 3 responses, monthly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.utils import timezone

from agreements.models import Target
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.experience import tokens
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import PeriodResult, Survey, Ticket
from monitoring.services.experience import survey_answer
from sla_portal.core.models import Notification
from tests.support.experience import sign_with_experience_targets

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def xla_agreement(acme_agreement, alice_manager, carol_customer):
    return sign_with_experience_targets(acme_agreement, alice_manager, carol_customer)


def ingest(source, agreement, *rows):
    return tickets_ingest(
        source,
        [{"agreement": agreement.reference, "priority": "P3", **row} for row in rows],
    )


def csat_result(agreement, month_start: datetime) -> PeriodResult:
    return PeriodResult.objects.get(
        agreement=agreement, metric="csat", period_start__date=month_start.date()
    )


def test_csat_target_is_a_smart_target_with_a_minimum_sample(acme_agreement):
    target = Target(
        agreement=acme_agreement,
        metric="csat",
        target_value=6,
        threshold_value=3.8,
        unit="score",
        direction="higher",
        period="month",
        data_source="tickets",
    )
    with pytest.raises(Exception) as error:
        target.full_clean()
    messages = error.value.message_dict
    assert "lies between 1 and 5" in " ".join(messages["target_value"])
    assert "responses" in " ".join(messages["min_responses"])


def test_csat_per_period_counts_ratings_in_the_month_the_ticket_was_resolved(
    xla_agreement, acme_desk
):
    # Resolved in March, rated (imported) later: it counts in March.
    ingest(
        acme_desk,
        xla_agreement,
        {
            "external_id": "M1",
            "opened_at": "2026-03-02T09:00:00Z",
            "resolved_at": "2026-03-02T12:00:00Z",
            "csat": 5,
        },
        {
            "external_id": "M2",
            "opened_at": "2026-03-03T09:00:00Z",
            "resolved_at": "2026-03-03T12:00:00Z",
            "csat": 4,
        },
        # Opened in March, resolved in April: April's rating.
        {
            "external_id": "A1",
            "opened_at": "2026-03-30T09:00:00Z",
            "resolved_at": "2026-04-01T12:00:00Z",
            "csat": 1,
        },
    )
    evaluate_periods(utc(2026, 4, 20))
    march = csat_result(xla_agreement, utc(2026, 3, 1))
    # Two responses of the three needed: no verdict, whatever the figure.
    assert march.status == "no_data" and march.value is None
    assert march.details["responses"] == 2 and march.details["min_responses"] == 3
    assert "Not enough responses: 2 of the 3" in march.details["reason"]

    ingest(
        acme_desk,
        xla_agreement,
        {
            "external_id": "M3",
            "opened_at": "2026-03-04T09:00:00Z",
            "resolved_at": "2026-03-04T12:00:00Z",
            "csat": 2,
        },
    )
    # March is closed (frozen) already: the new rating belongs to it but is read by a
    # recompute only; an open period picks it up at once.
    ingest(
        acme_desk,
        xla_agreement,
        {
            "external_id": "A2",
            "opened_at": "2026-04-02T09:00:00Z",
            "resolved_at": "2026-04-02T12:00:00Z",
            "csat": 2,
        },
        {
            "external_id": "A3",
            "opened_at": "2026-04-03T09:00:00Z",
            "resolved_at": "2026-04-03T12:00:00Z",
            "csat": 3,
        },
    )
    evaluate_periods(utc(2026, 4, 21))
    april = csat_result(xla_agreement, utc(2026, 4, 1))
    assert april.details["responses"] == 3
    assert april.value == pytest.approx(2.0)  # (1 + 2 + 3) / 3
    assert april.status == "breached"  # below the 3.8 threshold
    assert april.value_unit == "score"


def test_a_resolved_ticket_gets_one_survey_email_per_contact_once(
    xla_agreement, acme_desk, carol_customer, victor_viewer, alice_manager
):
    now = timezone.now()
    row = {
        "external_id": "T-1",
        "title": "Printer on fire",
        "opened_at": (now - timedelta(hours=3)).isoformat(),
        "resolved_at": (now - timedelta(hours=1)).isoformat(),
    }
    ingest(acme_desk, xla_agreement, row)
    evaluate_pending_tickets(now)
    # Re-sent and resolved again: evaluated again, still one survey and one email each.
    ingest(acme_desk, xla_agreement, {**row, "category": "hardware"})
    evaluate_pending_tickets(now)
    surveys = Survey.objects.filter(ticket__external_id="T-1")
    assert surveys.count() == 1
    emails = Notification.objects.filter(kind="survey.csat")
    assert sorted(emails.values_list("recipient", flat=True)) == sorted(
        [carol_customer.email, victor_viewer.email]
    )
    assert alice_manager.email not in emails.values_list("recipient", flat=True)
    body = emails.first().body_text
    assert "T-1" in body and "Printer on fire" in body
    assert len(re.findall(r"http://\S+/surveys/\S+/", body)) == 5


def test_old_or_already_rated_tickets_and_agreements_without_csat_get_no_survey(
    xla_agreement, acme_desk, globex_agreement
):
    now = timezone.now()
    ingest(
        acme_desk,
        xla_agreement,
        # Last month's history, imported today: nobody is asked about it.
        {
            "external_id": "OLD",
            "opened_at": (now - timedelta(days=40)).isoformat(),
            "resolved_at": (now - timedelta(days=39)).isoformat(),
        },
        # Rated by the desk already.
        {
            "external_id": "RATED",
            "opened_at": (now - timedelta(hours=2)).isoformat(),
            "resolved_at": (now - timedelta(hours=1)).isoformat(),
            "csat": 4,
        },
        {"external_id": "OPEN", "opened_at": (now - timedelta(hours=2)).isoformat()},
    )
    evaluate_pending_tickets(now)
    assert not Survey.objects.exists()
    assert not Notification.objects.filter(kind="survey.csat").exists()


def _survey_for(agreement, source, external_id="T-9"):
    now = timezone.now()
    ingest(
        source,
        agreement,
        {
            "external_id": external_id,
            "opened_at": (now - timedelta(hours=3)).isoformat(),
            "resolved_at": (now - timedelta(hours=1)).isoformat(),
        },
    )
    evaluate_pending_tickets(now)
    return Survey.objects.get(ticket__external_id=external_id)


def test_answering_sets_the_ticket_csat_once_and_a_second_answer_is_refused_politely(
    client, xla_agreement, acme_desk
):
    survey = _survey_for(xla_agreement, acme_desk)
    url = f"/surveys/{tokens.survey_token(survey, 2)}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"How satisfied are you" in page.content
    # The GET (a mail scanner, a link preview) records nothing.
    survey.refresh_from_db()
    assert survey.answered_at is None

    answered = client.post(url, {"score": "2", "comment": "Took three days."})
    assert answered.status_code == 200 and b"Thank you" in answered.content
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (2, "Took three days.")
    assert Ticket.objects.get(pk=survey.ticket_id).csat == 2

    # Another link of the same email, clicked later by a colleague.
    again = client.post(f"/surveys/{tokens.survey_token(survey, 5)}/", {"score": "5"})
    assert again.status_code == 200 and b"already been answered" in again.content
    assert client.get(url).content.count(b"already been answered") == 1
    survey.refresh_from_db()
    assert survey.score == 2 and Ticket.objects.get(pk=survey.ticket_id).csat == 2


def test_a_comment_can_be_added_after_an_answer_without_one(client, xla_agreement, acme_desk):
    survey = _survey_for(xla_agreement, acme_desk)
    url = f"/surveys/{tokens.survey_token(survey, 1)}/"
    client.post(url, {"score": "1"})
    added = client.post(url, {"action": "comment", "comment": "Nobody called back."})
    assert b"So is your comment" in added.content
    # Only one comment: a second one changes nothing.
    client.post(url, {"action": "comment", "comment": "Overwritten?"})
    survey.refresh_from_db()
    assert survey.comment == "Nobody called back."


def test_forged_altered_and_foreign_tokens_are_refused(client, xla_agreement, acme_desk):
    survey = _survey_for(xla_agreement, acme_desk)
    other = _survey_for(xla_agreement, acme_desk, "T-10")
    good = tokens.survey_token(survey, 4)
    altered = good[:-3] + ("abc" if not good.endswith("abc") else "xyz")
    forged = signing.dumps({"s": survey.pk, "b": survey.ticket_id, "v": 1}, salt="other")
    # Signed correctly, but naming another ticket than the survey's.
    crossed = signing.dumps({"s": survey.pk, "b": other.ticket_id, "v": 1}, salt=tokens.SALT)
    out_of_range = signing.dumps({"s": survey.pk, "b": survey.ticket_id, "v": 9}, salt=tokens.SALT)
    for token in (altered, forged, crossed, out_of_range, "garbage", "a" * 300):
        response = client.post(f"/surveys/{token}/", {"score": "1"})
        assert response.status_code == 400, token
        assert b"not valid" in response.content
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_an_expired_link_says_so(client, xla_agreement, acme_desk):
    survey = _survey_for(xla_agreement, acme_desk)
    token = tokens.survey_token(survey, 3)
    with pytest.raises(tokens.SurveyLinkError) as error:
        tokens.read_survey_token(token, max_age=timedelta(seconds=-1))
    assert error.value.reason == "expired"


def test_an_invalid_score_posted_is_a_form_error_not_a_500(client, xla_agreement, acme_desk):
    survey = _survey_for(xla_agreement, acme_desk)
    url = f"/surveys/{tokens.survey_token(survey, 3)}/"
    for bad in ({"score": "9"}, {"score": "x"}, {}, {"score": "3", "comment": "y" * 3000}):
        response = client.post(url, bad)
        assert response.status_code == 400, bad
    survey.refresh_from_db()
    assert survey.answered_at is None
    assert client.put(url).status_code == 405


def test_answer_counts_in_the_open_period_of_the_resolution(xla_agreement, acme_desk):
    now = timezone.now()
    surveys = [_survey_for(xla_agreement, acme_desk, f"R{n}") for n in range(3)]
    for survey, score in zip(surveys, (2, 3, 4), strict=True):
        assert survey_answer(survey, score).outcome == "recorded"
    assert survey_answer(surveys[0], 5).outcome == "already"
    evaluate_periods(now)
    month = PeriodResult.objects.filter(agreement=xla_agreement, metric="csat").latest(
        "period_start"
    )
    assert month.details["responses"] == 3
    assert month.value == pytest.approx(3.0)
    assert month.status == "breached"


def test_answers_nudge_the_coalesced_evaluation_not_one_task_each(
    client, xla_agreement, acme_desk, monkeypatch
):
    """A burst of answers records the agreement in the evaluation request and queues one
    ``evaluate_changed`` while it is outstanding (``monitoring.evaluation.trigger``)."""
    from celery import current_app

    from monitoring.evaluation import trigger
    from monitoring.models import EvaluationRequest

    surveys = [_survey_for(xla_agreement, acme_desk, f"B{n}") for n in range(3)]
    EvaluationRequest.objects.all().delete()
    queued = []
    monkeypatch.setattr(trigger, "enqueue", lambda name, *args: queued.append(name))
    monkeypatch.setattr(
        current_app, "send_task", lambda name, **kwargs: queued.append(f"direct {name}")
    )
    for survey in surveys:
        url = f"/surveys/{tokens.survey_token(survey, 4)}/"
        assert client.post(url, {"score": "4"}).status_code == 200
    assert queued == ["monitoring.evaluate_changed"]
    request = EvaluationRequest.objects.get(name=trigger.NAME)
    assert str(xla_agreement.pk) in request.agreements


def test_a_comment_posted_before_any_answer_gets_the_answer_form(client, xla_agreement, acme_desk):
    """``action=comment`` on an unanswered survey records nothing and says nothing false: it
    is an answer without a score (the form again, 400), or with one, the answer."""
    survey = _survey_for(xla_agreement, acme_desk)
    url = f"/surveys/{tokens.survey_token(survey, 2)}/"
    response = client.post(url, {"action": "comment", "comment": "Slow."})
    assert response.status_code == 400
    assert b"already been answered" not in response.content
    assert b"How satisfied are you" in response.content
    survey.refresh_from_db()
    assert survey.answered_at is None
    answered = client.post(url, {"action": "comment", "score": "2", "comment": "Slow."})
    assert answered.status_code == 200 and b"Thank you" in answered.content
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (2, "Slow.")


def test_a_signed_in_respondent_is_recorded_as_the_one_who_answered(
    client, xla_agreement, acme_desk, carol_customer
):
    survey = _survey_for(xla_agreement, acme_desk)
    anonymous = _survey_for(xla_agreement, acme_desk, "T-11")
    client.post(f"/surveys/{tokens.survey_token(anonymous, 4)}/", {"score": "4"})
    client.force_login(carol_customer)
    client.post(f"/surveys/{tokens.survey_token(survey, 4)}/", {"score": "4"})
    survey.refresh_from_db()
    anonymous.refresh_from_db()
    assert (survey.answered_by, anonymous.answered_by) == (carol_customer.email, "")


def test_a_csat_target_of_one_service_asks_and_counts_only_that_services_tickets(
    acme_agreement, alice_manager, carol_customer, acme_desk, services
):
    from monitoring.experience.measure import csat_ratings

    acme_agreement.services.add(services["erp"])
    agreement = sign_with_experience_targets(
        acme_agreement, alice_manager, carol_customer, csat_service=services["erp"]
    )
    now = timezone.now()
    resolved = {
        "opened_at": (now - timedelta(hours=3)).isoformat(),
        "resolved_at": (now - timedelta(hours=1)).isoformat(),
    }
    ingest(
        acme_desk,
        agreement,
        {"external_id": "ERP-1", "service": "ERP Hosting", **resolved},
        {"external_id": "WEB-1", "service": "Customer Portal", **resolved},
    )
    evaluate_pending_tickets(now)
    assert list(Survey.objects.values_list("ticket__external_id", flat=True)) == ["ERP-1"]
    Ticket.objects.update(csat=2)
    erp = [services["erp"].pk]
    window = (now - timedelta(days=1), now + timedelta(days=1))
    assert csat_ratings(agreement.pk, window, erp) == [2]


def test_a_ticket_reopened_after_its_rating_leaves_the_figure(xla_agreement, acme_desk):
    from monitoring.experience.measure import csat_ratings

    now = timezone.now()
    rated = [_survey_for(xla_agreement, acme_desk, f"O{n}") for n in range(2)]
    for survey in rated:
        survey_answer(survey, 2)
    Ticket.objects.filter(pk=rated[0].ticket_id).update(state=Ticket.State.OPEN)
    window = (now - timedelta(days=1), now + timedelta(days=1))
    assert csat_ratings(xla_agreement.pk, window) == [2]


def test_a_late_rating_counts_in_the_resolution_month_until_the_links_expire(
    xla_agreement, acme_desk
):
    """The worked example of docs/experience.md: a ticket resolved on a month's last day and
    rated days later counts in that month, whose CSAT figure stays provisional (not final)
    until the survey links of its last tickets have expired."""
    ratings = (("N1", 10, 5), ("N2", 11, 4), ("N3", 12, 1))
    ingest(
        acme_desk,
        xla_agreement,
        *(
            {
                "external_id": name,
                "opened_at": f"2026-11-{day}T08:00:00Z",
                "resolved_at": f"2026-11-{day}T12:00:00Z",
                "csat": csat,
            }
            for name, day, csat in ratings
        ),
    )
    evaluate_periods(utc(2026, 12, 2))
    november = csat_result(xla_agreement, utc(2026, 11, 1))
    assert november.details["responses"] == 3 and not november.final
    ingest(
        acme_desk,
        xla_agreement,
        {
            "external_id": "N4",
            "opened_at": "2026-11-30T08:00:00Z",
            "resolved_at": "2026-11-30T12:00:00Z",
            "csat": 2,
        },
    )
    evaluate_periods(utc(2026, 12, 5))
    november.refresh_from_db()
    assert november.details["responses"] == 4
    assert november.value == pytest.approx(3.0)  # (5 + 4 + 1 + 2) / 4
    assert november.status == "breached" and not november.final
    evaluate_periods(utc(2027, 1, 5))
    november.refresh_from_db()
    assert november.final and november.closed_at is not None
