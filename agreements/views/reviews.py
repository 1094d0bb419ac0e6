"""A periodic review of an agreement: period, findings, causes, lessons, actions, decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from agreements import lifecycle as machine
from agreements.forms.lifecycle import ReviewForm, review_actions_formset
from agreements.models import Review
from agreements.services import reviews as review_services
from agreements.services.lifecycle import TransitionError
from agreements.views.lifecycle import see_other, visible_agreement


def _review_actions(form: forms.BaseFormSet) -> list[dict[str, Any]]:
    return [
        {
            "description": row.cleaned_data["description"],
            "owner": row.cleaned_data.get("owner"),
            "due_date": row.cleaned_data.get("due_date"),
        }
        for row in form
        if row.cleaned_data
    ]


def review_page(
    request: HttpRequest,
    pk: int,
    review_id: int,
    *,
    period_reports: Callable[[Review], Any] | None = None,
) -> HttpResponse:
    """One review: period, findings, causes, lessons, actions and decision; a service manager
    records them while it is in progress.

    The page also lists the monthly reports of the review period, which reporting makes and
    agreements may not import (apps point down): the routed view, ``reporting.views
    .agreements.review_detail``, logs the user in and passes them as ``period_reports``."""
    agreement = visible_agreement(request, pk)
    review = get_object_or_404(agreement.reviews.select_related("decided_by"), pk=review_id)
    can_decide = (
        request.user.can_draft_agreements
        and review.status == Review.Status.IN_PROGRESS
        and agreement.status == machine.UNDER_REVIEW
    )
    form = formset = None
    status = 200
    if request.method == "POST":
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only service managers record a review.")
        if not can_decide:
            messages.error(request, "This review is not in progress; nothing was recorded.")
            return see_other(request.path)
        form = ReviewForm(request.POST)
        formset = review_actions_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            decision = request.POST.get("decision", "")
            try:
                review_services.review_decide(
                    agreement,
                    request.user,
                    decision,
                    actions=_review_actions(formset),
                    **form.cleaned_data,
                )
            except TransitionError as refusal:
                messages.error(request, str(refusal))
            else:
                messages.success(
                    request, f"Review recorded: {Review.Decision(decision).label.lower()}."
                )
                return see_other(request.path)
        else:
            messages.error(request, "Nothing was recorded: please correct the marked fields.")
        status = 400
    elif can_decide:
        form = ReviewForm(
            initial={
                "findings": review.findings,
                "root_causes": review.root_causes,
                "lessons": review.lessons,
            }
        )
        formset = review_actions_formset()
    return render(
        request,
        "agreements/lifecycle/review.html",
        {
            "agreement": agreement,
            "review": review,
            "actions": list(review.actions.select_related("owner")),
            "reports": period_reports(review) if period_reports is not None else [],
            "form": form if can_decide else None,
            "formset": formset if can_decide else None,
            "decisions": Review.Decision.choices,
        },
        status=status,
    )
