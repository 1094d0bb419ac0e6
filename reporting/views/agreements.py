"""Agreement pages that show reporting data: the agreement document with how the agreement
performs, and a review with the monthly reports of its period.

The pages themselves belong to agreements (``agreements.views.document.agreement_page`` and
``agreements.views.reviews.review_page``); agreements may not import reporting (apps point
down), so these routed views compose the reporting part in. The URLs keep their names in the
``agreements`` namespace (see ``sla_portal/urls.py``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from agreements.models import Review
from agreements.views.document import agreement_page
from agreements.views.reviews import review_page
from reporting.selectors.overview import agreement_overview
from reporting.selectors.reviews import ReviewReports, review_reports


@login_required
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement document with its overview: stage, current compliance per target, open
    breaches and the latest review, as the user may see them."""
    return agreement_page(
        request,
        pk,
        extra_context=lambda agreement: {"overview": agreement_overview(agreement, request.user)},
    )


def _period_reports(review: Review) -> ReviewReports:
    """The monthly reports of the review period (current revisions, oldest first), with each
    target's trend over them (``.targets``) and the credits of the period (``.credit_total``).
    The agreement was scoped to the user already, and its reports share its customer."""
    return review_reports(review.agreement, review.period_start, review.period_end)


@login_required
def review_detail(request: HttpRequest, pk: int, review_id: int) -> HttpResponse:
    """One review with the reports of its period (see ``agreements.views.reviews
    .review_page`` for what a service manager records there)."""
    return review_page(request, pk, review_id, period_reports=_period_reports)
