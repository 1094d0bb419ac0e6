"""Signed survey links: one per answer choice, bound to one survey and its ticket or round.

A link carries ``{"s": survey id, "b": ticket id or round, "v": score}`` signed with the
site's secret key and a salt of its own (``django.core.signing``), so no other signed value
of the portal passes for it, a score cannot be changed in the link, and a link made for one
ticket never answers another. Links work without a login for a few weeks; answering once is
guarded by the survey row itself (``services.survey_answer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from monitoring.models import Survey

SALT = "monitoring.experience.survey"
# Long enough for a holiday; an answer after this says little about the ticket any more.
MAX_AGE = timedelta(days=30)


class SurveyLinkError(Exception):
    """Why a link answers nothing: ``invalid`` (altered, forged, malformed) or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SurveyClaim:
    survey_id: int
    bound_to: int
    score: int


def _bound_to(survey: Survey) -> int:
    return survey.ticket_id if survey.kind == Survey.Kind.CSAT else survey.round


def survey_token(survey: Survey, score: int) -> str:
    """The token of the link that answers ``survey`` with ``score``."""
    return signing.dumps({"s": survey.pk, "b": _bound_to(survey), "v": score}, salt=SALT)


def survey_url(survey: Survey, score: int) -> str:
    """The absolute link for the email."""
    path = reverse("monitoring:survey-answer", args=[survey_token(survey, score)])
    return settings.SITE_URL + path


def read_survey_token(token: str, max_age: timedelta = MAX_AGE) -> SurveyClaim:
    """What a token claims; raises ``SurveyLinkError`` when it was altered or is too old."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise SurveyLinkError("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise SurveyLinkError("invalid") from None
    if not isinstance(data, dict):
        raise SurveyLinkError("invalid")
    values = (data.get("s"), data.get("b"), data.get("v"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SurveyLinkError("invalid")
    return SurveyClaim(*values)


def survey_for_claim(claim: SurveyClaim) -> Survey:
    """The survey a claim names, checked against what it is bound to."""
    survey = Survey.objects.select_related("ticket", "agreement").filter(pk=claim.survey_id).first()
    if survey is None or _bound_to(survey) != claim.bound_to:
        raise SurveyLinkError("invalid")
    low, high = (1, 5) if survey.kind == Survey.Kind.CSAT else (0, 10)
    if not low <= claim.score <= high:
        raise SurveyLinkError("invalid")
    return survey
