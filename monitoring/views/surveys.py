"""The public survey page: the link of a survey email, answered without a login.

GET shows the question with the score of the clicked link chosen and a box for an optional
comment; only the POST of that page records the answer. Mail scanners and link previews
open every link of an email (as for alert acknowledgements, ``monitoring.views.evaluation``),
and a GET must not answer for the customer: five links opened by a scanner would otherwise
record a "1". A tampered or expired link, and a survey answered already, get a page that
says so, never an error.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from monitoring.evaluation.trigger import request_evaluation
from monitoring.experience import tokens
from monitoring.experience.contacts import CSAT_CHOICES
from monitoring.models import Survey
from monitoring.services.experience import survey_answer, survey_comment

NPS_CHOICES = tuple((score, str(score)) for score in range(11))


class AnswerForm(forms.Form):
    # Bootstrap's toggle buttons: the radios stay real (keyboard, screen readers), drawn as
    # the buttons of their labels.
    score = forms.TypedChoiceField(
        coerce=int, widget=forms.RadioSelect(attrs={"class": "btn-check"})
    )
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
        label="Anything you would like to tell us? (optional)",
    )

    def __init__(self, *args, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = CSAT_CHOICES if kind == Survey.Kind.CSAT else NPS_CHOICES
        self.fields["score"].choices = [(score, label) for score, label in choices]


class CommentForm(forms.Form):
    comment = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
        label="Add a comment (optional)",
    )


@never_cache
def survey_answer_page(request: HttpRequest, token: str) -> HttpResponse:
    """Answer a CSAT or NPS survey from the link of its email (see the module docstring)."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        claim = tokens.read_survey_token(token)
        survey = tokens.survey_for_claim(claim)
    except tokens.SurveyLinkError as error:
        status = 400 if error.reason == "invalid" else 410
        return _page(request, error.reason, status=status)
    # The comment path is for an answered survey only: before the answer, a comment posted
    # is an answer (its score missing: the form again), never "already answered".
    if survey.is_answered and request.method == "POST" and request.POST.get("action") == "comment":
        form = CommentForm(request.POST)
        if form.is_valid() and survey_comment(survey, form.cleaned_data["comment"]):
            survey.refresh_from_db()
            return _page(request, "commented", survey=survey)
        return _page(request, "already", survey=survey)
    if survey.is_answered:
        return _page(request, "already", survey=survey)
    if request.method == "POST":
        form = AnswerForm(request.POST, kind=survey.kind)
        if form.is_valid():
            # The link needs no login; a respondent who is signed in is known by name.
            by = request.user.email if request.user.is_authenticated else ""
            answer = survey_answer(
                survey, form.cleaned_data["score"], form.cleaned_data["comment"], answered_by=by
            )
            if answer.outcome == "recorded":
                # Committed: nudge the coalesced evaluation (one task outstanding however
                # many answers arrive); a database or broker that is down only delays it,
                # every open period is recomputed each minute anyway.
                request_evaluation("agreements", [survey.agreement_id])
            return _page(
                request,
                "done" if answer.outcome == "recorded" else "already",
                survey=answer.survey,
                comment_form=CommentForm(),
            )
        return _page(request, "ask", survey=survey, form=form, status=400)
    form = AnswerForm(initial={"score": claim.score}, kind=survey.kind)
    return _page(request, "ask", survey=survey, form=form)


def _page(
    request: HttpRequest,
    outcome: str,
    survey: Survey | None = None,
    status: int = 200,
    **extra,
) -> HttpResponse:
    context = {"outcome": outcome, "survey": survey, **extra}
    return render(request, "monitoring/surveys/answer.html", context, status=status)
