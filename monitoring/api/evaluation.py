"""REST endpoints of the evaluation engine: ticket timers, period compliance, breaches, alerts.

Read-only, scoped like the portal: every queryset starts from ``Model.objects.visible_to``,
so a customer sees its own organisation's rows and another's answer 404. Two writes, both
provider-only and both through ``monitoring.evaluation.actions``: the root-cause note of a
breach and the acknowledgement of an alert.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import NOT_FOUND
from monitoring.evaluation.actions import alert_acknowledge, breach_root_cause_set
from monitoring.filters.evaluation import (
    AlertFilter,
    BreachFilter,
    PeriodResultFilter,
    TicketTimerFilter,
)
from monitoring.models import Alert, Breach, PeriodResult, TicketTimer
from monitoring.selectors.evaluation import (
    alerts_with_deliveries_visible_to,
    breaches_visible_to,
    period_results_visible_to,
    timers_visible_to,
)
from monitoring.serializers.evaluation import (
    AlertSerializer,
    BreachSerializer,
    PeriodResultSerializer,
    TicketTimerSerializer,
)
from sla_portal.core.api.people import ScopedViewSetMixin

# --- Examples shown in the OpenAPI schema ---------------------------------------------------

TIMER_EXAMPLE = {
    "id": 311,
    "ticket": 812,
    "ticket_external_id": "INC0012345",
    "ticket_priority": "P1",
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "target_key": "response_time|P1||",
    "target_label": "Response time P1",
    "metric": "response_time",
    "calendar_name": "24x7",
    "state": "at_risk",
    "started_at": "2026-03-02T08:14:00Z",
    "warning_at": "2026-03-02T08:25:15Z",
    "due_at": "2026-03-02T08:29:00Z",
    "threshold_due_at": "2026-03-02T08:44:00Z",
    "stopped_at": None,
    "decided_at": None,
    "target_seconds": 900.0,
    "threshold_seconds": 1800.0,
    "used_seconds": 720.0,
    "remaining_seconds": 180.0,
    "threshold_remaining_seconds": 1080.0,
    "evaluated_at": "2026-03-02T08:26:00Z",
}
BUDGET_EXAMPLE = {
    "kind": "tickets",
    "unit": "tickets",
    "allowed": 2.0,
    "allowed_threshold": 4.0,
    "consumed": 3.0,
    "remaining": -1.0,
    "remaining_threshold": 1.0,
    "ran_out_at": "2026-03-24T10:32:00Z",
    "threshold_ran_out_at": None,
    "samples_left": None,
    "basis": {
        "expected": 40.0,
        "met": 37,
        "missed": 3,
        "ran_out_n": 3,
        "threshold_ran_out_n": None,
        "ran_out_consumed": 3.0,
        "goal": [95.0, 90.0],
    },
}
PERIOD_EXAMPLE = {
    "id": 95,
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "target_key": "response_time|P1||",
    "target_label": "Response time P1",
    "metric": "response_time",
    "unit": "minutes",
    "direction": "lower",
    "target_value": "15.000",
    "threshold_value": "30.000",
    "compliance_target": "95.00",
    "compliance_threshold": "90.00",
    "period": "month",
    "period_start": "2026-02-28T23:00:00Z",
    "period_end": "2026-03-31T22:00:00Z",
    "value": 92.5,
    "value_unit": "percent",
    "goal_target": 95.0,
    "goal_threshold": 90.0,
    "status": "missed_target",
    "final": True,
    "budget": BUDGET_EXAMPLE,
    # The evaluation stores the budget with what the value was computed from.
    "details": {
        "met": 37,
        "missed": 3,
        "pending": 0,
        "pending_at_risk": 0,
        "budget": BUDGET_EXAMPLE,
    },
    "evaluated_at": "2026-04-01T00:00:40Z",
    "closed_at": "2026-04-01T00:00:40Z",
    "forecast": None,
}
BREACH_EXAMPLE = {
    "id": 18,
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "target_key": "response_time|P1||",
    "target_label": "Response time P1",
    "ticket": 812,
    "ticket_external_id": "INC0012345",
    "period_result": None,
    "period_start": None,
    "level": "breached",
    "opened_at": "2026-03-02T08:44:00Z",
    "closed_at": "2026-03-02T09:02:00Z",
    "value_text": "48 min of business time used; target 15 min, threshold 30 min",
    "root_cause": "The night desk was understaffed; the P1 queue was not watched.",
    "root_cause_by": "alice",
    "root_cause_at": "2026-03-03T10:15:00Z",
}
ALERT_EXAMPLE = {
    "id": 52,
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "target_key": "response_time|P1||",
    "target_label": "Response time P1",
    "ticket": 812,
    "ticket_external_id": "INC0012345",
    "period_result": None,
    "period_start": None,
    "breach": 18,
    "level": "breached",
    "reached_at": "2026-03-02T08:44:00Z",
    "raised_at": "2026-03-02T08:44:01Z",
    "due_at": "2026-03-02T08:44:00Z",
    "zone": "Europe/Berlin",
    "value_text": "30 min of business time used; target 15 min, threshold 30 min",
    "emailed": True,
    "quiet_reason": "",
    "notified_at": "2026-03-02T08:44:02Z",
    "acknowledged_by": "tom",
    "acknowledged_at": "2026-03-02T08:47:30Z",
    "delivery": {"sent": 3, "pending": 0, "failed": 1},
}
PROVIDER_ONLY = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Only the provider's staff do this; customer users read.",
    examples=[
        OpenApiExample(
            "Customer user", value={"detail": "Only the provider writes root-cause notes."}
        )
    ],
)
ROOT_CAUSE_REQUIRED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The note is missing or blank, or an unknown field was sent; nothing was saved.",
    examples=[OpenApiExample("Blank note", value={"root_cause": ["Say what caused the breach."]})],
)


def _read_schema(name: str, example: dict, serializer: type) -> dict:
    examples = [OpenApiExample(name, value=example, response_only=True)]
    return {
        "list": extend_schema(examples=examples),
        "retrieve": extend_schema(examples=examples, responses={200: serializer, 404: NOT_FOUND}),
    }


# --- Viewsets -------------------------------------------------------------------------------


@extend_schema_view(**_read_schema("Ticket timer", TIMER_EXAMPLE, TicketTimerSerializer))
class TicketTimerViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Response and resolution clocks of tickets, one per ticket and time target. `?open=true
    &ordering=threshold_due_at` lists the running clocks closest to a breach first."""

    serializer_class = TicketTimerSerializer
    filterset_class = TicketTimerFilter
    queryset = TicketTimer.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(timers_visible_to)


@extend_schema_view(**_read_schema("Period result", PERIOD_EXAMPLE, PeriodResultSerializer))
class PeriodResultViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Per-period compliance of every measured target: the achieved `value` (in `value_unit`)
    against `goal_target` and `goal_threshold`. Open periods are recomputed as data arrives;
    a closed period (`closed_at` set) is frozen."""

    serializer_class = PeriodResultSerializer
    filterset_class = PeriodResultFilter
    queryset = PeriodResult.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(period_results_visible_to)


@extend_schema_view(
    **_read_schema("Breach", BREACH_EXAMPLE, BreachSerializer),
    partial_update=extend_schema(
        summary="Write the root-cause note of a breach",
        examples=[
            OpenApiExample("Breach", value=BREACH_EXAMPLE, response_only=True),
            OpenApiExample(
                "Root cause",
                value={"root_cause": BREACH_EXAMPLE["root_cause"]},
                request_only=True,
            ),
        ],
        responses={
            200: BreachSerializer,
            400: ROOT_CAUSE_REQUIRED,
            403: PROVIDER_ONLY,
            404: NOT_FOUND,
        },
    ),
)
class BreachViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Targets missed by a ticket or a period, latest first. The provider explains each with a
    root-cause note (`PATCH` with `root_cause`) for the service review."""

    serializer_class = BreachSerializer
    filterset_class = BreachFilter
    queryset = Breach.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(breaches_visible_to)

    def partial_update(self, request: Request, pk: str, format: str | None = None) -> Response:
        breach = self.get_object()
        serializer = self.get_serializer(breach, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "root_cause" not in serializer.validated_data:
            return Response(
                {"root_cause": ["This field is required."]}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            breach_root_cause_set(breach, request.user, serializer.validated_data["root_cause"])
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            return Response(
                {field: list(reasons) for field, reasons in exc.message_dict.items()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema_view(**_read_schema("Alert", ALERT_EXAMPLE, AlertSerializer))
class AlertViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Alerts raised by the engine, latest first: a warning before a deadline, a missed target,
    a breached threshold, a recovery. `delivery` counts the alert's emails by outcome; an alert
    with `emailed: false` was recorded quietly because its moment lay too far back."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    queryset = Alert.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(alerts_with_deliveries_visible_to)

    @extend_schema(
        summary="Acknowledge an alert",
        request=None,
        examples=[OpenApiExample("Alert", value=ALERT_EXAMPLE, response_only=True)],
        responses={
            200: AlertSerializer,
            403: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Only the provider's team acknowledges alerts.",
                examples=[
                    OpenApiExample(
                        "Customer user",
                        value={"detail": "Only the provider's team acknowledges alerts."},
                    )
                ],
            ),
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def acknowledge(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Say that you have seen the alert and are on it. The first acknowledgement stands:
        acknowledging again answers the alert unchanged."""
        alert = self.get_object()
        try:
            alert_acknowledge(alert, request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(self.get_serializer(self.get_object()).data)
