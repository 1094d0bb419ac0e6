"""The low comments beside an experience figure: of the figure's own period, read at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring.models import PeriodResult, Status, Survey
from reporting.selectors.experience import experience_from_results

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def figure(agreement, metric: str, start: datetime, end: datetime, status: str) -> PeriodResult:
    """A period result as the dashboards read it (not saved: the selector only reads it)."""
    return PeriodResult(
        agreement_id=agreement.pk,
        metric=metric,
        target_label=metric.upper(),
        status=status,
        value=1.0,
        details={"responses": 3, "min_responses": 1},
        goal_target=4.2,
        goal_threshold=3.8,
        period_start=start,
        period_end=end,
    )


def nps_answer(agreement, score: int, comment: str, at: datetime) -> Survey:
    return Survey.objects.create(
        kind=Survey.Kind.NPS,
        agreement=agreement,
        customer_id=agreement.customer_id,
        round=1,
        round_on=at.date(),
        recipient=f"{comment[:5].lower().replace(' ', '')}@acme.example",
        answered_at=at,
        score=score,
        comment=comment,
    )


def test_each_figure_has_the_comments_of_its_own_period(acme_agreement, alice_manager):
    """A monthly CSAT target beside a quarterly NPS one: the NPS comment of October belongs
    to the quarter's figure even though the CSAT month is December."""
    nps_answer(acme_agreement, 2, "Nobody calls back.", utc(2026, 10, 20, 9))
    results = {
        acme_agreement.pk: [
            figure(acme_agreement, "csat", utc(2026, 12, 1), utc(2027, 1, 1), Status.BREACHED),
            figure(acme_agreement, "nps", utc(2026, 10, 1), utc(2027, 1, 1), Status.BREACHED),
        ]
    }
    view = experience_from_results(alice_manager, results)[acme_agreement.pk]
    assert [c.comment for c in view.comments] == ["Nobody calls back."]


def test_comments_are_read_once_for_all_agreements_and_only_for_a_missed_figure(
    acme_agreement, globex_agreement, alice_manager, django_assert_max_num_queries
):
    december = (utc(2026, 12, 1), utc(2027, 1, 1))
    nps_answer(acme_agreement, 1, "Acme unhappy.", utc(2026, 12, 3))
    nps_answer(globex_agreement, 0, "Globex unhappy.", utc(2026, 12, 4))
    missed = {
        a.pk: [figure(a, "nps", *december, status)]
        for a, status in (
            (acme_agreement, Status.BREACHED),
            (globex_agreement, Status.MISSED_TARGET),
        )
    }
    with django_assert_max_num_queries(1):
        found = experience_from_results(alice_manager, missed)
    assert [c.comment for c in found[acme_agreement.pk].comments] == ["Acme unhappy."]
    assert [c.comment for c in found[globex_agreement.pk].comments] == ["Globex unhappy."]
    # Too few responses, at risk or met: no verdict against the customer's experience, so
    # nothing to explain and nothing read.
    quiet = {
        a.pk: [figure(a, "nps", *december, status)]
        for a, status in ((acme_agreement, Status.NO_DATA), (globex_agreement, Status.MET))
    }
    with django_assert_max_num_queries(0):
        found = experience_from_results(alice_manager, quiet)
    assert found[acme_agreement.pk].comments == found[globex_agreement.pk].comments == []


def test_a_csat_figure_is_provisional_until_its_late_ratings_are_in(acme_agreement, alice_manager):
    november = (utc(2026, 11, 1), utc(2026, 12, 1))
    results = {
        acme_agreement.pk: [
            figure(acme_agreement, "csat", *november, Status.BREACHED),
            figure(acme_agreement, "nps", *november, Status.BREACHED),
        ]
    }
    early = experience_from_results(alice_manager, results, now=utc(2026, 12, 20))
    csat, nps = early[acme_agreement.pk].figures
    assert (csat.provisional, nps.provisional) == (True, False)
    assert csat.closes_at == utc(2027, 1, 3)
    late = experience_from_results(alice_manager, results, now=utc(2027, 1, 3))
    assert not late[acme_agreement.pk].figures[0].provisional


def test_a_comment_shows_only_while_its_score_is_in_the_figure(
    acme_agreement, alice_manager, acme_desk
):
    from monitoring.models import Ticket

    ticket = Ticket.objects.create(
        source=acme_desk,
        external_id="C-1",
        agreement=acme_agreement,
        customer_id=acme_agreement.customer_id,
        opened_at=utc(2026, 11, 2, 8),
        resolved_at=utc(2026, 11, 2, 12),
        state=Ticket.State.RESOLVED,
        csat=1,
    )
    Survey.objects.create(
        kind=Survey.Kind.CSAT,
        agreement=acme_agreement,
        customer_id=acme_agreement.customer_id,
        ticket=ticket,
        answered_at=utc(2026, 11, 3),
        score=1,
        comment="Slow.",
    )
    results = {
        acme_agreement.pk: [
            figure(acme_agreement, "csat", utc(2026, 11, 1), utc(2026, 12, 1), Status.BREACHED)
        ]
    }

    def shown() -> list[str]:
        found = experience_from_results(alice_manager, results)
        return [c.comment for c in found[acme_agreement.pk].comments]

    assert shown() == ["Slow."]
    Ticket.objects.filter(pk=ticket.pk).update(csat=4)  # the desk's feed rated it again
    assert shown() == []
    Ticket.objects.filter(pk=ticket.pk).update(csat=1, state=Ticket.State.OPEN)  # reopened
    assert shown() == []
