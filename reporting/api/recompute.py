"""``/api/recompute/``: start a recompute, follow its progress, cancel it, apply its
corrections. Provider service managers and admins only: other provider staff get 403, a
customer 404 (the runs are not its data; see ``reporting.recompute``)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import NOT_FOUND
from reporting.models import RecomputeRun
from reporting.recompute.apply import recompute_apply
from reporting.recompute.runs import (
    RecomputeBusy,
    RecomputeError,
    recompute_cancel,
    recompute_request,
)
from reporting.selectors.recompute import recompute_runs_visible_to
from reporting.serializers.recompute import RecomputeApplySerializer, RecomputeRunSerializer
from sla_portal.core.api.people import ScopedViewSetMixin

RUN_EXAMPLE = {
    "id": 12,
    "scope": "calendar",
    "agreement": None,
    "calendar": 3,
    "source": None,
    "agreements": ["SLA-2026-0001", "SLA-2026-0004"],
    "reason": "Berlin declared 17 September a public holiday",
    "requested_by": "Alice Manager",
    "requested_at": "2026-10-20T13:00:00Z",
    "status": "running",
    "stage": "tickets",
    "started_at": "2026-10-20T13:00:01Z",
    "finished_at": None,
    "error": "",
    "cancel_requested": False,
    "percent": 41,
    "tickets_total": 412000,
    "tickets_done": 170000,
    "tickets_percent": 41,
    "periods_total": 96,
    "periods_done": 0,
    "periods_percent": 0,
    "timers_changed": 812,
    "missed_to_met": 640,
    "met_to_missed": 0,
    "alerts_recorded": 0,
    "open_periods_changed": 0,
    "timer_changes": [
        {
            "ticket_id": 8812,
            "ticket": "INC-10442",
            "target_key": "response_time:P1:",
            "target": "Response time (P1)",
            "old_state": "missed_target",
            "new_state": "met",
            "old_due_at": "2026-09-17T05:20:00+00:00",
            "new_due_at": "2026-09-18T05:20:00+00:00",
        }
    ],
    "corrections": [
        {
            "id": 5,
            "period_result": 311,
            "agreement": 1,
            "agreement_reference": "SLA-2026-0001",
            "target_label": "Response time (P1)",
            "period_start": "2026-08-31T22:00:00Z",
            "period_end": "2026-09-30T22:00:00Z",
            "value_unit": "percent",
            "old_value": 87.5,
            "old_status": "missed_target",
            "new_value": 93.75,
            "new_status": "met",
            "applied_at": None,
            "report": None,
        }
    ],
    "applied_at": None,
    "url": "https://sla.example.com/recompute/12/",
}
BUSY = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Another run is measuring one of these agreements; follow it instead.",
    examples=[
        OpenApiExample(
            "Busy",
            value={
                "detail": "Recompute #11 (Agreement SLA-2026-0001) is already running at 40 %: "
                "one recompute at a time per agreement. Follow it, or cancel it first.",
                "run": 11,
                "url": "https://sla.example.com/api/recompute/11/",
            },
        )
    ],
)
REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The request is refused, with the field and the reason.",
    examples=[OpenApiExample("Refused", value={"reason": ["This field is required."]})],
)


def _api_runs(user) -> QuerySet[RecomputeRun]:
    return recompute_runs_visible_to(user).prefetch_related("agreements", "corrections")


@extend_schema_view(
    list=extend_schema(
        summary="Recompute runs, newest first",
        examples=[OpenApiExample("Run", value=RUN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One run with its progress and its closed-period corrections",
        examples=[OpenApiExample("Run", value=RUN_EXAMPLE, response_only=True)],
        responses={200: RecomputeRunSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Start a recompute",
        description="`scope` is `agreement`, `calendar` or `source`, with the matching id; "
        "`reason` says what was corrected. The run starts in the background: GET it to "
        "follow `percent`. While another run covers one of the agreements the answer is "
        "409 naming that run.",
        examples=[
            OpenApiExample(
                "Agreement",
                value={"scope": "agreement", "agreement": 7, "reason": "Tickets re-sent"},
                request_only=True,
            ),
            OpenApiExample("Run", value=RUN_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
        # Customers are told 404: the runs are not their data.
        responses={
            201: RecomputeRunSerializer,
            400: REFUSED,
            403: REFUSED,
            404: NOT_FOUND,
            409: BUSY,
        },
    ),
)
class RecomputeRunViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Recompute runs: after a correction (a public holiday learned late, data re-sent),
    measure an agreement's tickets and periods again. Open periods change in place; closed
    ones are listed as corrections and change only when applied (report corrections)."""

    serializer_class = RecomputeRunSerializer
    queryset = RecomputeRun.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(_api_runs)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not request.user.is_provider:
            raise NotFound()
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only the provider's service managers and admins recompute.")

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = recompute_request(
                request.user,
                scope=data["scope"],
                reason=data.get("reason", ""),
                now=timezone.now(),
                agreement=data.get("agreement"),
                calendar=data.get("calendar"),
                source=data.get("source"),
            )
        except RecomputeBusy as busy:
            return Response(
                {
                    "detail": str(busy),
                    "run": busy.run.pk,
                    "url": request.build_absolute_uri(f"/api/recompute/{busy.run.pk}/"),
                },
                status=status.HTTP_409_CONFLICT,
            )
        except RecomputeError as refused:
            return Response({"scope": [str(refused)]}, status=status.HTTP_400_BAD_REQUEST)
        output = self.get_serializer(self.get_queryset().get(pk=run.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a run at its next step",
        request=None,
        examples=[OpenApiExample("Run", value=RUN_EXAMPLE, response_only=True)],
        responses={200: RecomputeRunSerializer, 400: REFUSED, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def cancel(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> Response:
        try:
            run = recompute_cancel(self.get_object(), request.user)
        except RecomputeError as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(run).data)

    @extend_schema(
        summary="Apply a finished run's closed-period corrections",
        description="Reports use the new figures from now on; each issued report of an "
        "affected month gets a correction revision with `note` and what changed.",
        request=RecomputeApplySerializer,
        examples=[
            OpenApiExample("Apply", value={"note": "Holiday on 17 September"}, request_only=True),
            OpenApiExample("Run", value=RUN_EXAMPLE, response_only=True),
        ],
        responses={200: RecomputeRunSerializer, 400: REFUSED, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        run = self.get_object()
        body = RecomputeApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            recompute_apply(run, request.user, body.validated_data["note"], timezone.now())
        except RecomputeError as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data)
