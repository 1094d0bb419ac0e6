"""Bulk ingest of a source's data over REST: tickets, uptime checks, maintenance windows,
error events, measurements and continuity incidents, each a ``POST`` of a batch to
``/api/sources/<id>/<kind>/bulk``.

The actions live on :class:`BulkIngestMixin`, which ``SourceViewSet``
(``monitoring.api.sources``) takes on; bodies are read by ``monitoring.api.parsers``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.api.common import FORBIDDEN, NOT_FOUND
from agreements.selectors import services_visible_to
from monitoring.api.parsers import BULK_PARSERS, MAX_REPORTED_ERRORS, errors_body
from monitoring.ingest import IngestError, IngestResult, RowError
from monitoring.ingest.events import errors_ingest, incidents_ingest, measurements_ingest
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.serializers.ingest import (
    CheckRowSerializer,
    ContinuityIncidentRowSerializer,
    ErrorEventRowSerializer,
    IngestResultSerializer,
    MaintenanceRowSerializer,
    MeasurementRowSerializer,
    TicketRowSerializer,
)

# --- Examples shown in the OpenAPI schema --------------------------------------------------

TICKET_ROW = {
    "external_id": "INC0012345",
    "agreement": "SLA-2026-0007",
    "priority": "P2",
    "category": "Incident",
    "opened_at": "2026-03-02T09:14:00+01:00",
    "first_response_at": "2026-03-02T09:31:00+01:00",
    "resolved_at": "2026-03-02T15:02:00+01:00",
    "status_history": [
        {"at": "2026-03-02T09:14:00+01:00", "status": "New"},
        {"at": "2026-03-02T10:05:00+01:00", "status": "Awaiting customer", "pauses_clock": True},
        {"at": "2026-03-02T11:40:00+01:00", "status": "In progress"},
        {"at": "2026-03-02T15:02:00+01:00", "status": "Resolved", "resolves": True},
    ],
}
INGESTED = OpenApiResponse(
    IngestResultSerializer,
    description="The batch was stored in one transaction.",
    examples=[OpenApiExample("Stored", value={"created": 9812, "updated": 140, "unchanged": 48})],
)
ROW_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "The batch was refused and nothing was written. Each error names the row (from 0; -1 "
        f"for the whole body), the field and the reason; at most {MAX_REPORTED_ERRORS} are "
        "listed, `error_count` counts all."
    ),
    examples=[
        OpenApiExample(
            "Invalid rows",
            value={
                "errors": [
                    {"index": 3, "field": "opened_at", "reason": "required"},
                    {"index": 7, "field": "csat", "reason": "must be between 1 and 5"},
                ],
                "error_count": 2,
            },
        )
    ],
)
TOO_LARGE = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The body exceeds the ingest limit (50 MB by default).",
    examples=[
        OpenApiExample(
            "Too large",
            value={"detail": "The body is larger than 50 MB; split the batch into smaller ones."},
        )
    ],
)
CSV_TICKETS = (
    "external_id,agreement,priority,opened_at,resolved_at\n"
    "INC1,SLA-2026-0007,P2,2026-03-02T09:14:00+01:00,\n"
)


def _bulk_schema(noun: str, row: type[BaseSerializer], json_example: list, csv_example: str):
    return extend_schema(
        summary=f"Ingest a batch of {noun}",
        request={
            "application/json": row(many=True),
            "text/csv": OpenApiTypes.STR,
            "application/x-ndjson": OpenApiTypes.STR,
        },
        examples=[
            OpenApiExample(
                f"{noun.capitalize()} as JSON",
                value=json_example,
                request_only=True,
                media_type="application/json",
            ),
            OpenApiExample(
                f"{noun.capitalize()} as CSV",
                value=csv_example,
                request_only=True,
                media_type="text/csv",
            ),
        ],
        responses={
            200: INGESTED,
            400: ROW_ERRORS,
            403: FORBIDDEN,
            404: NOT_FOUND,
            413: TOO_LARGE,
        },
    )


class BulkIngestMixin:
    """The bulk ingest actions of a source (``get_object()`` is the visible source)."""

    def _ingest(self, request: Request, run) -> Response:
        # 404 before parsing: an invisible source is not told whether its body was valid.
        source = self.get_object()
        try:
            result: IngestResult = run(source, request.data)
        except IngestError as exc:
            return Response(errors_body(exc.errors), status=status.HTTP_400_BAD_REQUEST)
        return Response(IngestResultSerializer(result).data)

    @_bulk_schema("tickets", TicketRowSerializer, [TICKET_ROW], CSV_TICKETS)
    @action(
        detail=True,
        methods=["post"],
        url_path="tickets/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def tickets_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert tickets by `external_id`. Re-sending a batch changes nothing. Naive
        timestamps are read in the source's time zone (refused when it sets none)."""
        return self._ingest(request, tickets_ingest)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "service", int, required=True, description="Id of the service checked."
            )
        ]
    )
    @_bulk_schema(
        "checks",
        CheckRowSerializer,
        [{"checked_at": "2026-03-02T09:00:00Z", "status": "up", "response_ms": 182}],
        "checked_at,status,response_ms\n2026-03-02T09:00:00Z,up,182\n",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="checks/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def checks_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert uptime checks of one service by `checked_at`; the service's outages around
        the batch are recomputed from its checks."""
        source = self.get_object()
        raw = request.query_params.get("service", "")
        service = (
            services_visible_to(request.user).filter(pk=int(raw)).first() if raw.isdigit() else None
        )
        if service is None:
            error = RowError(-1, "service", "pass ?service=<id> of a service you can see")
            return Response(errors_body([error]), status=status.HTTP_400_BAD_REQUEST)
        try:
            result = checks_ingest(source, service, request.data)
        except IngestError as exc:
            return Response(errors_body(exc.errors), status=status.HTTP_400_BAD_REQUEST)
        return Response(IngestResultSerializer(result).data)

    @_bulk_schema(
        "maintenance windows",
        MaintenanceRowSerializer,
        [
            {
                "external_id": "CHG0042",
                "service": "Customer Portal",
                "title": "Database upgrade",
                "starts_at": "2026-03-07T22:00:00+01:00",
                "ends_at": "2026-03-08T01:00:00+01:00",
                "announced_at": "2026-02-27T10:00:00+01:00",
            }
        ],
        "external_id,service,title,starts_at,ends_at\n"
        "CHG0042,Customer Portal,Database upgrade,2026-03-07T21:00:00Z,2026-03-08T00:00:00Z\n",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="maintenance/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def maintenance_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert planned maintenance windows by service and `external_id`."""
        return self._ingest(request, maintenance_ingest)

    @_bulk_schema(
        "error events",
        ErrorEventRowSerializer,
        [
            {
                "external_id": "ERR-77812",
                "service": "Customer Portal",
                "category": "Payment failed",
                "occurred_at": "2026-03-02T09:14:07+01:00",
            }
        ],
        "external_id,service,category,occurred_at\n"
        "ERR-77812,Customer Portal,Payment failed,2026-03-02T08:14:07Z\n",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="errors/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def errors_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert error events by `external_id`, counted against functionality targets."""
        return self._ingest(request, errors_ingest)

    @_bulk_schema(
        "measurements",
        MeasurementRowSerializer,
        [
            {
                "service": "Customer Portal",
                "name": "p95 page load ms",
                "measured_at": "2026-03-02T09:00:00+01:00",
                "value": 812.5,
            }
        ],
        "service,name,measured_at,value\n"
        "Customer Portal,p95 page load ms,2026-03-02T08:00:00Z,812.5\n",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="measurements/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def measurements_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert measured values by service, `name` and `measured_at`; `value` must be a
        finite number."""
        return self._ingest(request, measurements_ingest)

    @_bulk_schema(
        "continuity incidents",
        ContinuityIncidentRowSerializer,
        [
            {
                "external_id": "DR-2026-01",
                "service": "Customer Portal",
                "started_at": "2026-03-02T03:10:00+01:00",
                "recovered_at": "2026-03-02T05:40:00+01:00",
                "description": "Primary data centre lost power; failed over to the standby.",
            }
        ],
        "external_id,service,started_at,recovered_at,description\n"
        "DR-2026-01,Customer Portal,2026-03-02T02:10:00Z,2026-03-02T04:40:00Z,Power loss\n",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="incidents/bulk",
        parser_classes=BULK_PARSERS,
        throttle_scope="ingest",
        filterset_class=None,
    )
    def incidents_bulk(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Upsert continuity (disaster-recovery) incidents by `external_id`; `recovered_at`
        is optional and not before `started_at`."""
        return self._ingest(request, incidents_ingest)
