"""REST endpoints of an agreement's targets (read through the user's selector; only service
managers and provider admins write, and only while the agreement is editable)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import (
    FORBIDDEN,
    NOT_EDITABLE,
    NOT_FOUND,
    TARGET_LOCKED,
    bad_request_response,
    conflict_response,
    crud_examples,
)
from agreements.filters import TargetFilter
from agreements.models import Target
from agreements.selectors import targets_visible_to
from agreements.serializers.common import ensure_editable, lock_editable
from agreements.serializers.targets import TargetSerializer
from agreements.smart import TargetSpec, smart_errors
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.permissions import DrafterOrReadOnly

TARGET_EXAMPLE = {
    "id": 41,
    "agreement": 7,
    "section": "availability",
    "label": "Availability",
    "service": None,
    "metric": "availability",
    "name": "",
    "priority": "",
    "error_category": "",
    "target_value": "99.900",
    "threshold_value": "99.500",
    "unit": "percent",
    "direction": "higher",
    "period": "month",
    "calendar": 1,
    "compliance_target": None,
    "compliance_threshold": None,
    "warning_percent": "75.00",
    "data_source": "uptime",
    "min_responses": None,
    "position": 1,
    "burn_rules": None,
}
RESPONSE_TARGET = {
    **{key: TARGET_EXAMPLE[key] for key in TARGET_EXAMPLE if key not in ("agreement", "section")},
    "id": 42,
    "label": "Response time (P1)",
    "metric": "response_time",
    "priority": "P1",
    "target_value": "15.000",
    "threshold_value": "30.000",
    "unit": "minutes",
    "direction": "lower",
    "compliance_target": "95.00",
    "compliance_threshold": "90.00",
    "data_source": "tickets",
    "position": 2,
}
TARGET_REQUEST = {
    "agreement": 7,
    "metric": "availability",
    "target_value": "99.9",
    "threshold_value": "99.5",
    "calendar": 1,
}
# The error text is produced by the rules themselves, so the example cannot drift from them.
SMART_ERROR = OpenApiExample(
    "SMART rule broken",
    value=smart_errors(
        TargetSpec(
            metric="availability",
            target_value=Decimal("99.900"),
            threshold_value=Decimal("99.950"),
            unit="percent",
            direction="higher",
            period="month",
            data_source="uptime",
        )
    ),
)


@extend_schema_view(
    list=extend_schema(
        summary="List targets",
        description="SMART targets of the agreements you may see; filter with `?agreement=`.",
        examples=crud_examples("Target", TARGET_EXAMPLE),
    ),
    retrieve=extend_schema(
        examples=crud_examples("Target", TARGET_EXAMPLE),
        responses={200: TargetSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Add a target to a draft agreement",
        description=(
            "Unit, data source and (where the metric fixes it) direction default from the "
            "metric. Every SMART rule the target breaks comes back on its own field and nothing "
            "is saved. The agreement must be a draft you may see."
        ),
        examples=crud_examples("Availability target", TARGET_EXAMPLE, TARGET_REQUEST),
        responses={
            201: TargetSerializer,
            400: bad_request_response(
                SMART_ERROR,
                OpenApiExample(
                    "Agreement can no longer be changed",
                    value={"agreement": [NOT_EDITABLE]},
                ),
            ),
            403: FORBIDDEN,
        },
    ),
    update=extend_schema(
        examples=crud_examples("Availability target", TARGET_EXAMPLE, TARGET_REQUEST),
        responses={
            200: TargetSerializer,
            400: bad_request_response(SMART_ERROR),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: conflict_response(TARGET_LOCKED),
        },
    ),
    partial_update=extend_schema(
        examples=crud_examples("Threshold changed", TARGET_EXAMPLE, {"threshold_value": "99.0"}),
        responses={
            200: TargetSerializer,
            400: bad_request_response(SMART_ERROR),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: conflict_response(TARGET_LOCKED),
        },
    ),
    destroy=extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: conflict_response(TARGET_LOCKED),
        },
    ),
)
class TargetViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """SMART targets of agreements. Everyone reads the targets of the agreements they may see;
    service managers add, change and remove them while the agreement is a draft."""

    serializer_class = TargetSerializer
    permission_classes = [DrafterOrReadOnly]
    filterset_class = TargetFilter
    selector = staticmethod(targets_visible_to)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ensure_editable(self.get_object().agreement, field="agreement")
        return super().update(request, *args, **kwargs)

    @transaction.atomic
    def perform_destroy(self, instance: Target) -> None:
        lock_editable(self.request.user, instance.agreement, field="agreement")
        instance.delete()
