"""REST endpoints of an agreement's periodic reviews."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from agreements.api.lifecycle import AGREEMENT_PK, NOT_FOUND, AgreementRowsMixin, response_examples
from agreements.models import Agreement, Review, ReviewAction
from agreements.serializers.lifecycle import ReviewSerializer

REVIEW_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Id of the review."
)
REVIEW_EXAMPLE = {
    "id": 4,
    "due_date": "2026-04-01",
    "period_start": "2026-01-01",
    "period_end": "2026-03-31",
    "status": "decided",
    "findings": "Availability missed in March (99.2%).",
    "root_causes": "A storage controller failed twice.",
    "lessons": "Spare controllers on site.",
    "decision": "renegotiate",
    "decided_by": "alice_manager",
    "decided_at": "2026-04-02T10:00:00Z",
    "actions": [
        {
            "id": 9,
            "description": "Add a second storage controller",
            "owner": "alice_manager",
            "due_date": "2026-06-30",
            "status": "open",
        }
    ],
}


@extend_schema_view(
    list=extend_schema(
        summary="Reviews of an agreement",
        description=(
            "Scheduled, running and decided reviews, latest due date first, each with its "
            "findings, root causes, lessons, decision and follow-up actions. Reviews are "
            "started and decided with the `start_review`, `continue`, `renegotiate` and "
            "`terminate` steps."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: ReviewSerializer(many=True), 404: NOT_FOUND},
        examples=response_examples("Decided review", REVIEW_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One review",
        parameters=[AGREEMENT_PK, REVIEW_ID],
        responses={200: ReviewSerializer, 404: NOT_FOUND},
        examples=response_examples("Decided review", REVIEW_EXAMPLE),
    ),
)
class AgreementReviewViewSet(AgreementRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Reviews of one agreement, read-only: the lifecycle steps write them."""

    queryset = Review.objects.none()
    serializer_class = ReviewSerializer
    lookup_value_regex = r"\d+"
    filter_backends: list = []

    def rows(self, agreement: Agreement) -> QuerySet[Review]:
        return (
            agreement.reviews.select_related("decided_by")
            .prefetch_related(
                Prefetch("actions", queryset=ReviewAction.objects.select_related("owner"))
            )
            .order_by("-due_date")
        )
