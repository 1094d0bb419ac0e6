"""Writes of the experience surveys: asking (once) and answering (once).

* ``csat_invite_resolved`` runs in the ticket evaluation's own transaction
  (``monitoring.evaluation.tickets.evaluate_batch``), so every path by which a ticket
  arrives resolved (API, webhook, import, the probe's sweep) passes here, and a batch that
  rolls back leaves neither a survey nor an email behind. The survey row is unique per
  ticket and its email a ``Notification`` unique per (event, recipient), so a ticket
  resolved again, or evaluated twice, is asked once.
* ``survey_answer`` records an answer with a conditional UPDATE (``answered_at IS NULL``):
  two clicks racing, the second link of the email, a second contact: the first answer
  counts, every later one is told so. A CSAT answer also sets the ticket's ``csat``. The
  caller asks for the agreement's periods to be evaluated again once the answer committed,
  through the coalesced trigger (``monitoring.evaluation.trigger.request_evaluation``): the
  evaluation engine imports this package, so this package does not import it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements.models import Agreement
from monitoring.experience import tokens
from monitoring.experience.contacts import (
    ALL_SERVICES,
    CSAT_CHOICES,
    CSAT_KIND,
    INVITE_RESOLVED_WITHIN,
    experience_services,
    survey_contacts,
)
from monitoring.models import Survey, Ticket
from sla_portal.core.notifications import notify


def csat_invite_resolved(ticket_ids: Iterable[int], now: datetime) -> int:
    """Ask the customer about each of these tickets that is resolved (recently, without a
    rating yet) under an agreement with a CSAT target covering the ticket's service; return
    how many surveys were new.

    Call inside the transaction that evaluates the tickets: the emails are recorded with it."""
    candidates = list(
        Ticket.objects.filter(
            pk__in=list(ticket_ids),
            agreement__isnull=False,
            resolved_at__gte=now - INVITE_RESOLVED_WITHIN,
            resolved_at__lte=now,
            csat__isnull=True,
        )
        .exclude(state=Ticket.State.OPEN)
        .exclude(surveys__kind=Survey.Kind.CSAT)
        .select_related("agreement", "agreement__customer", "service")
    )
    asked: dict[int, frozenset[str] | None] = {}
    created = 0
    for ticket in candidates:
        agreement = ticket.agreement
        if agreement.pk not in asked:
            asked[agreement.pk] = experience_services(agreement, "csat")
        covered = asked[agreement.pk]
        if covered is None:
            continue
        # A CSAT target of one service asks about that service's tickets only.
        if covered is not ALL_SERVICES and (
            ticket.service is None or ticket.service.name not in covered
        ):
            continue
        survey = _new_csat_survey(ticket)
        if survey is None:
            continue
        created += 1
        _send_csat_email(survey, ticket, agreement)
    return created


def _new_csat_survey(ticket: Ticket) -> Survey | None:
    """A new survey for ``ticket``, or None when another transaction made one first."""
    try:
        with transaction.atomic():
            return Survey.objects.create(
                kind=Survey.Kind.CSAT,
                agreement_id=ticket.agreement_id,
                customer_id=ticket.customer_id,
                ticket=ticket,
            )
    except IntegrityError:
        return None


def _send_csat_email(survey: Survey, ticket: Ticket, agreement: Agreement) -> None:
    links = [(score, label, tokens.survey_url(survey, score)) for score, label in CSAT_CHOICES]
    notify(
        CSAT_KIND,
        f"survey:{survey.pk}",
        survey_contacts(agreement.customer_id),
        "emails/csat_survey",
        {"ticket": ticket, "agreement": agreement, "links": links},
        agreement_id=agreement.pk,
    )


@dataclass(frozen=True)
class Answer:
    """The outcome of an answer: ``recorded`` or ``already`` (the survey was answered)."""

    outcome: str
    survey: Survey


def survey_answer(survey: Survey, score: int, comment: str = "", answered_by: str = "") -> Answer:
    """Record ``score`` (and an optional comment) as the survey's one answer.

    A second answer changes nothing and says ``already``. A CSAT answer sets the ticket's
    rating: counted in the period its ticket was resolved (docs/experience.md). After a
    ``recorded`` answer the caller requests the evaluation of the survey's agreement."""
    now = timezone.now()
    with transaction.atomic():
        won = Survey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
            answered_at=now,
            score=score,
            comment=comment.strip()[:2000],
            answered_by=answered_by[:254],
        )
        survey.refresh_from_db()
        if not won:
            return Answer("already", survey)
        if survey.kind == Survey.Kind.CSAT:
            Ticket.objects.filter(pk=survey.ticket_id).update(csat=score, changed_at=now)
    return Answer("recorded", survey)


def survey_comment(survey: Survey, comment: str) -> bool:
    """Add the comment to an answered survey that has none yet; False when it had one."""
    comment = comment.strip()[:2000]
    if not comment:
        return False
    return bool(
        Survey.objects.filter(pk=survey.pk, answered_at__isnull=False, comment="").update(
            comment=comment
        )
    )
