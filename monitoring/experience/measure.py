"""What a period's experience target is measured on (read by ``monitoring.evaluation``).

* CSAT: the 1-5 rating of each ticket of the agreement **resolved** in the period (the
  ticket's ``csat``, from the desk's feed or the resolution survey), whenever it was given:
  a rating is about the resolution, so it belongs to the resolution's period. A target of
  one service counts that service's tickets only. A ticket reopened after its rating (state
  ``open`` again) is left out until it is resolved again: its rating was about a resolution
  that did not hold.
* NPS: the 0-10 answers of the agreement's NPS surveys **answered** in the period.

Since a CSAT rating may come after its period ended (a ticket resolved on the month's last
day is rated days later), a CSAT period closes only ``CSAT_GRACE`` after its end: the time
within which its last ticket is asked (``INVITE_RESOLVED_WITHIN``) plus the life of the
survey link (``tokens.MAX_AGE``). Until then its figure is provisional (not final) and is
recomputed with every late rating; after that no survey link of the period still works.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce

from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.experience import tokens
from monitoring.experience.arithmetic import experience_verdict
from monitoring.experience.contacts import INVITE_RESOLVED_WITHIN
from monitoring.models import Survey, Ticket

CSAT_GRACE: timedelta = INVITE_RESOLVED_WITHIN + tokens.MAX_AGE


def closes_at(metric: str, period_end: datetime) -> datetime:
    """When a period of a ``metric`` target ending at ``period_end`` closes (is final): a CSAT
    period ``CSAT_GRACE`` later, every other at its end."""
    return period_end + CSAT_GRACE if metric == "csat" else period_end


def experience_period(
    agreement_id: int,
    target,
    service_ids: list[int],
    window: tuple[datetime, datetime],
    goal: Goal,
    closed: bool,
) -> Verdict:
    """The verdict of a CSAT or NPS target (``agreements.terms.MeasuredTarget``) over one
    period window, with its response counts in the details."""
    if target.metric == "csat":
        scoped = service_ids if target.service else None
        scores = csat_ratings(agreement_id, window, scoped)
    else:
        scores = nps_scores(agreement_id, window)
    return experience_verdict(target.metric, scores, goal, target.min_responses, closed)


def csat_ratings(agreement_id: int, window: tuple[datetime, datetime], service_ids=None) -> list:
    """The CSAT ratings counted in ``window``, oldest resolution first."""
    start, end = window
    # A survey answer sets the ticket's csat; the survey's own score is the fallback for a
    # feed that later re-sends the ticket without a rating.
    answered = Survey.objects.filter(
        kind=Survey.Kind.CSAT, ticket=OuterRef("pk"), answered_at__isnull=False
    ).values("score")[:1]
    tickets = Ticket.objects.filter(
        agreement_id=agreement_id, resolved_at__gte=start, resolved_at__lt=end
    ).exclude(state=Ticket.State.OPEN)
    if service_ids is not None:
        tickets = tickets.filter(service_id__in=service_ids)
    rated = tickets.annotate(rating=Coalesce("csat", Subquery(answered))).filter(
        rating__isnull=False
    )
    return list(rated.order_by("resolved_at", "pk").values_list("rating", flat=True))


def nps_scores(agreement_id: int, window: tuple[datetime, datetime]) -> list:
    """The NPS answers given in ``window``, oldest first."""
    start, end = window
    return list(
        Survey.objects.filter(
            agreement_id=agreement_id,
            kind=Survey.Kind.NPS,
            answered_at__gte=start,
            answered_at__lt=end,
        )
        .order_by("answered_at", "pk")
        .values_list("score", flat=True)
    )
