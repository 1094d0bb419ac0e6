"""``/api/surveys/``: the CSAT and NPS surveys sent and their answers (read-only).

Scoped like the portal: the provider sees every survey, a customer only its own
organisation's (anything else answers 404). Answers are given through the signed link of
the survey email (``monitoring.views.surveys``), never through the API: the API's callers
are the portal's users and integrations, not the customer's respondents.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import viewsets

from agreements.api.agreements import NOT_FOUND
from monitoring.experience.selectors import surveys_visible_to
from monitoring.models import Survey
from monitoring.serializers.experience import SurveySerializer
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
    answered = django_filters.BooleanFilter(
        field_name="answered_at", lookup_expr="isnull", exclude=True, label="Answered"
    )

    class Meta:
        model = Survey
        fields = ["kind", "agreement"]


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
