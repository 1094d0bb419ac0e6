"""``/api/surveys/``: the CSAT and NPS surveys sent and their answers (read-only), and
``/api/agreements/<id>/nps-schedule/``: when an agreement's NPS survey goes out.

Scoped like the portal: the provider sees every survey, a customer only its own
organisation's (anything else answers 404). Answers are given through the signed link of
the survey email (``monitoring.views.surveys``), never through the API: the API's callers
are the portal's users and integrations, not the customer's respondents.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import FORBIDDEN, NOT_FOUND
from agreements.selectors import agreements_visible_to
from monitoring.experience.nps import nps_schedule_set
from monitoring.models import NpsSchedule, Survey
from monitoring.selectors.experience import surveys_visible_to
from monitoring.serializers.experience import NpsScheduleSerializer, SurveySerializer
from sla_portal.core.api.people import ScopedViewSetMixin

SURVEY_EXAMPLE = {
    "id": 81,
    "kind": "csat",
    "agreement": 7,
    "agreement_reference": "SLA-2026-0001",
    "ticket": 5120,
    "ticket_external_id": "INC-4711",
    "round": None,
    "created_at": "2026-12-07T10:02:00Z",
    "answered_at": "2026-12-07T11:40:00Z",
    "score": 2,
    "comment": "Fixed in an hour, but nobody told us for two days.",
}


class SurveyFilter(django_filters.FilterSet):
    # A plain id, not a model choice over every agreement: the rows are already scoped, so
    # another organisation's agreement matches nothing exactly like one that does not exist
    # (a model choice would answer 400 for the latter: an existence oracle).
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    answered = django_filters.BooleanFilter(
        field_name="answered_at", lookup_expr="isnull", exclude=True, label="Answered"
    )

    class Meta:
        model = Survey
        fields = ["kind"]


EXAMPLES = [OpenApiExample("CSAT survey answered", value=SURVEY_EXAMPLE, response_only=True)]


@extend_schema_view(
    list=extend_schema(examples=EXAMPLES),
    retrieve=extend_schema(examples=EXAMPLES, responses={200: SurveySerializer, 404: NOT_FOUND}),
)
class SurveyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """CSAT surveys (one per resolved ticket) and NPS surveys (one per round and contact),
    with their answer once given. `?kind=csat&answered=true&agreement=7`."""

    serializer_class = SurveySerializer
    filterset_class = SurveyFilter
    queryset = Survey.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(surveys_visible_to)


SCHEDULE_EXAMPLE = {"every_months": 3, "starts_on": "2026-01-15", "current_round": 4}
BAD_SCHEDULE = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="A field is invalid; nothing was saved.",
    examples=[
        OpenApiExample(
            "Out of range",
            value={"every_months": ["Ensure this value is less than or equal to 12."]},
        )
    ],
)


@extend_schema(
    methods=["GET"],
    responses={200: NpsScheduleSerializer, 404: NOT_FOUND},
    examples=[OpenApiExample("Quarterly", value=SCHEDULE_EXAMPLE, response_only=True)],
)
@extend_schema(
    methods=["PUT"],
    request=NpsScheduleSerializer,
    responses={200: NpsScheduleSerializer, 400: BAD_SCHEDULE, 403: FORBIDDEN, 404: NOT_FOUND},
    examples=[
        OpenApiExample("Quarterly", value=SCHEDULE_EXAMPLE, response_only=True),
        OpenApiExample(
            "Every 3 months",
            value={"every_months": 3, "starts_on": "2026-01-15"},
            request_only=True,
        ),
    ],
)
@api_view(["GET", "PUT"])
def nps_schedule(request: Request, agreement_pk: int) -> Response:
    """The agreement's NPS schedule: every ``every_months`` months (1-12) from ``starts_on``;
    ``every_months`` 0 removes it. Everyone who sees the agreement reads it; service
    managers and provider admins set it."""
    agreement = agreements_visible_to(request.user).filter(pk=agreement_pk).first()
    if agreement is None:
        raise NotFound("No Agreement matches the given query.")
    if request.method == "PUT":
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only service managers may change this.")
        serializer = NpsScheduleSerializer(data=request.data, context={"agreement": agreement})
        serializer.is_valid(raise_exception=True)
        nps_schedule_set(
            agreement,
            serializer.validated_data["every_months"],
            serializer.validated_data.get("starts_on"),
        )
    schedule = NpsSchedule.objects.visible_to(request.user).filter(agreement=agreement).first()
    return Response(NpsScheduleSerializer.of(schedule))
