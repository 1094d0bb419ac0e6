"""``/api/agreements/<id>/experience/``: experience beside SLA compliance in one period.

The period containing the middle of ``?month=YYYY-MM`` (default: the current one), with the
experience targets' figures and response counts, the SLA targets' counts, the watermelon
flag (every SLA target met, an experience target below its threshold) and the latest low
comments. Scoped like the portal: another organisation's agreement answers 404. An
agreement without experience targets evaluated in that period answers with an empty list
and no period.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import NOT_FOUND
from agreements.selectors import agreements_visible_to
from reporting.selectors.experience import experience_of
from reporting.serializers.experience import ExperienceSerializer, MonthQuerySerializer

EXPERIENCE_EXAMPLE = {
    "agreement": 7,
    "period_start": "2026-12-01T00:00:00Z",
    "period_end": "2027-01-01T00:00:00Z",
    "sla": {"met": 3, "not_met": 0, "no_data": 11, "all_met": True},
    "experience": [
        {
            "metric": "csat",
            "label": "Customer satisfaction (CSAT)",
            "status": "breached",
            "value": 3.4,
            "responses": 12,
            "min_responses": 10,
            "target": 4.2,
            "threshold": 3.8,
            "below_threshold": True,
            "reason": "",
            "provisional": True,
            "closes_at": "2027-02-03T00:00:00Z",
        }
    ],
    "watermelon": True,
    "comments": [
        {
            "kind": "csat",
            "score": 1,
            "comment": "Fixed in an hour, but nobody told us for two days.",
            "answered_at": "2026-12-07T11:40:00Z",
            "ticket": "INC-4711",
        }
    ],
}
BAD_MONTH = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The month is not in the form YYYY-MM.",
    examples=[
        OpenApiExample(
            "Bad month", value={"month": ["Give the month as YYYY-MM, for example 2026-11."]}
        )
    ],
)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "month",
            OpenApiTypes.STR,
            description="The month as YYYY-MM; the current period when left out.",
        )
    ],
    responses={200: ExperienceSerializer, 400: BAD_MONTH, 404: NOT_FOUND},
    examples=[OpenApiExample("Watermelon", value=EXPERIENCE_EXAMPLE, response_only=True)],
)
@api_view(["GET"])
def agreement_experience(request: Request, agreement_pk: int) -> Response:
    """Experience (CSAT, NPS) beside SLA compliance for one agreement and period."""
    agreement = agreements_visible_to(request.user).filter(pk=agreement_pk).first()
    if agreement is None:
        raise NotFound("No Agreement matches the given query.")
    query = MonthQuerySerializer(data=request.query_params)
    if not query.is_valid():
        raise ValidationError(query.errors)
    month = query.validated_data.get("month")
    at = timezone.now()
    if month:
        at = datetime.combine(month.replace(day=15), time(12), tzinfo=UTC)
    found = experience_of(request.user, agreement.pk, at)
    if found is None:
        # No CSAT or NPS target evaluated then: nothing to show beside compliance.
        return Response(
            {
                "agreement": agreement.pk,
                "period_start": None,
                "period_end": None,
                "sla": None,
                "experience": [],
                "watermelon": False,
                "comments": [],
            }
        )
    return Response(ExperienceSerializer(found).data)
