"""REST endpoints of monitoring: sources with their bulk ingest, and tickets (read-only).

Bulk bodies are JSON arrays, CSV with a header row or NDJSON. They are read through the
parsers below, which stream the body and stop at ``INGEST_MAX_BODY_BYTES`` (50 MB by default):
Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body`` and form parsing, neither
of which these views use, so the portal-wide limit stays small while ingest can take large
batches.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.api.common import FORBIDDEN, IN_USE, NOT_FOUND, CatalogueDestroyMixin
from agreements.selectors import services_visible_to
from monitoring.ingest import IngestError, IngestResult, RowError
from monitoring.ingest.events import errors_ingest, incidents_ingest, measurements_ingest
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import Source, Ticket
from monitoring.selectors import sources_visible_to, ticket_with_history, tickets_visible_to
from monitoring.serializers.ingest import (
    CheckRowSerializer,
    ContinuityIncidentRowSerializer,
    CustomerSourceSerializer,
    ErrorEventRowSerializer,
    IngestResultSerializer,
    MaintenanceRowSerializer,
    MeasurementRowSerializer,
    RotatedSecretSerializer,
    SourceCreatedSerializer,
    SourceSerializer,
    SourceSharingSerializer,
    TicketDetailSerializer,
    TicketRowSerializer,
    TicketSerializer,
)
from monitoring.sources import SharingRefused, source_rotate_secret, source_set_shared
from sla_portal.core import safejson
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.filters import UtcIsoDateTimeFilter
from sla_portal.core.models import User
from sla_portal.core.permissions import DrafterOrReadOnly

DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
# A sender fixing a broken export needs the first problems, not a response of megabytes.
MAX_REPORTED_ERRORS = 1000
READ_CHUNK = 256 * 1024


def max_body_bytes() -> int:
    return getattr(settings, "INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class BadBody(APIException):
    """The body cannot be read as rows at all; answered in the per-row error format."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(errors_body([RowError(index, "", reason)]))


def errors_body(errors: list[RowError]) -> dict[str, Any]:
    return {
        "errors": [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]],
        "error_count": len(errors),
    }


def _read_limited(stream: Any, parser_context: dict | None) -> bytes:
    """The whole body, refusing it as soon as it is known to exceed the limit."""
    limit = max_body_bytes()
    too_large = PayloadTooLarge(
        f"The body is larger than {limit // (1024 * 1024)} MB; split the batch into smaller ones."
    )
    request = (parser_context or {}).get("request")
    if request is not None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
    buffer = io.BytesIO()
    while chunk := stream.read(READ_CHUNK):
        if buffer.tell() + len(chunk) > limit:
            raise too_large
        buffer.write(chunk)
    return buffer.getvalue()


def _text(stream: Any, parser_context: dict | None) -> str:
    try:
        return _read_limited(stream, parser_context).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBody(-1, "the body is not UTF-8 text") from None


class JSONRowsParser(BaseParser):
    """A JSON array of row objects."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        try:
            rows = safejson.loads(_text(stream, parser_context))
        except json.JSONDecodeError as exc:
            raise BadBody(-1, f"invalid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise BadBody(-1, "the body must be a JSON array of rows")
        return rows


class NDJSONRowsParser(BaseParser):
    """One JSON object per line; blank lines are skipped."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        rows = []
        for line in _text(stream, parser_context).splitlines():
            if not line.strip():
                continue
            try:
                rows.append(safejson.loads(line))
            except json.JSONDecodeError as exc:
                raise BadBody(len(rows), f"invalid JSON: {exc}") from None
        return rows


class CSVRowsParser(BaseParser):
    """Comma-separated values with a header row naming the row keys. Empty cells are absent
    values; ``status_history`` cannot be expressed in a cell and is refused."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        reader = csv.DictReader(io.StringIO(_text(stream, parser_context), newline=""))
        if reader.fieldnames and "status_history" in reader.fieldnames:
            raise BadBody(-1, "status_history is not supported in CSV; send JSON or NDJSON")
        rows = []
        for row in reader:
            if None in row:
                raise BadBody(len(rows), "more cells than the header has columns")
            rows.append(row)
        return rows


BULK_PARSERS = [JSONRowsParser, CSVRowsParser, NDJSONRowsParser]

# --- Examples shown in the OpenAPI schema --------------------------------------------------

SOURCE_EXAMPLE = {
    "id": 4,
    "customer": "acme",
    "name": "Acme ServiceNow",
    "kind": "servicenow",
    "shared": False,
    "timezone": "Europe/Berlin",
    "signing_secret_hint": "…x0Qa",
    "secret_rotated_at": None,
    "previous_secret_until": None,
    "created_at": "2026-01-05T09:30:00Z",
    "service_map": {},
    "for_seconds": 0,
    "last_received_at": "2026-03-02T10:01:12Z",
    "refused_deliveries": {
        "count": 0,
        "last_at": None,
        "last_reason": "",
        "refusing_since": None,
    },
    "refused_alerts": [],
    "refused_alerts_at": None,
}
SOURCE_REQUEST = {"customer": "acme", "name": "Acme ServiceNow", "kind": "servicenow"}
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
TICKET_EXAMPLE = {
    "id": 812,
    "source": 4,
    "external_id": "INC0012345",
    "customer": "acme",
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "service": None,
    "service_name": None,
    "priority": "P2",
    "category": "Incident",
    "state": "resolved",
    "opened_at": "2026-03-02T08:14:00Z",
    "first_response_at": "2026-03-02T08:31:00Z",
    "resolved_at": "2026-03-02T14:02:00Z",
    "closed_at": None,
    "reopen_count": 0,
    "csat": 5,
    "changed_at": "2026-03-02T14:05:11Z",
}
TICKET_DETAIL_EXAMPLE = {
    **TICKET_EXAMPLE,
    "pauses": [
        {"start": "2026-03-02T09:05:00Z", "end": "2026-03-02T10:40:00Z", "reason": "Awaiting"}
    ],
    "status_history": [
        {"at": "2026-03-02T08:14:00Z", "status": "New", "pauses_clock": False, "resolves": False}
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


class SourceFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(
        field_name="customer__slug", help_text="Slug of the customer organisation."
    )
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices, help_text="Kind of feed.")

    class Meta:
        model = Source
        fields = ["customer", "kind"]


def _source_examples(*request: dict) -> list[OpenApiExample]:
    examples = [OpenApiExample("Source", value=SOURCE_EXAMPLE, response_only=True)]
    examples += [OpenApiExample("New source", value=body, request_only=True) for body in request]
    return examples


def _source_as_seen(many: bool = False) -> PolymorphicProxySerializer:
    """Provider staff read a source with its feed's state, customers its name and kind only."""
    return PolymorphicProxySerializer(
        component_name="SourceAsSeen",
        serializers=[SourceSerializer, CustomerSourceSerializer],
        resource_type_field_name=None,
        many=many,
    )


@extend_schema_view(
    list=extend_schema(examples=_source_examples(), responses={200: _source_as_seen(many=True)}),
    retrieve=extend_schema(
        examples=_source_examples(), responses={200: _source_as_seen(), 404: NOT_FOUND}
    ),
    create=extend_schema(
        examples=_source_examples(SOURCE_REQUEST),
        responses={201: SourceCreatedSerializer, 400: OpenApiTypes.OBJECT, 403: FORBIDDEN},
    ),
    update=extend_schema(
        examples=_source_examples(SOURCE_REQUEST),
        responses={200: SourceSerializer, 400: OpenApiTypes.OBJECT, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        examples=_source_examples({"timezone": "Europe/Berlin"}),
        responses={200: SourceSerializer, 400: OpenApiTypes.OBJECT, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            # CatalogueDestroyMixin: a source whose tickets or imports are kept stays.
            409: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Still in use.", examples=[IN_USE]
            ),
        }
    ),
)
class SourceViewSet(CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """Feeds of monitoring data per customer. Customers see their own sources (without the
    signing secret); service managers create them and send batches of tickets, uptime checks,
    maintenance windows, error events, measurements and continuity incidents into them."""

    permission_classes = [DrafterOrReadOnly]
    filterset_class = SourceFilter
    queryset = Source.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(sources_visible_to)
    # The bulk actions set "ingest": their own rate budget (sla_portal.core.throttles).
    throttle_scope: str | None = None

    def get_serializer_class(self) -> type[BaseSerializer]:
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or getattr(user, "is_provider", False):
            return SourceSerializer
        return CustomerSourceSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._created = serializer.save()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a source; the answer carries its ``signing_secret``, this once."""
        response = super().create(request, *args, **kwargs)
        response.data["signing_secret"] = self._created.signing_secret
        return response

    @extend_schema(
        request=None,
        responses={200: RotatedSecretSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", filterset_class=None)
    def rotate_secret(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Give the source a new signing secret, answered this once. The previous secret
        still verifies during the overlap (24 hours by default), so senders can be switched
        over; the rotation is recorded in the customer's account trail."""
        source = self.get_object()
        secret = source_rotate_secret(source, by=request.user)
        source.refresh_from_db(fields=["previous_secret_until"])
        return Response(
            {"signing_secret": secret, "previous_secret_until": source.previous_secret_until}
        )

    @extend_schema(
        request=SourceSharingSerializer,
        responses={200: SourceSerializer, 400: OpenApiTypes.OBJECT, 403: FORBIDDEN, 404: NOT_FOUND},
        examples=[OpenApiExample("Share", value={"shared": True}, request_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="sharing", filterset_class=None)
    def sharing(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Share the source's data with every agreement that covers its services (a
        provider-owned measurement), or make it count for its own customer's agreements only
        again. Service managers only; recorded in the customer's account trail, and the
        services' open periods are evaluated again."""
        source = self.get_object()
        serializer = SourceSharingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            source = source_set_shared(
                source, shared=serializer.validated_data["shared"], by=request.user
            )
        except SharingRefused as exc:
            return Response({"shared": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(SourceSerializer(source, context=self.get_serializer_context()).data)

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


class TicketFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    source = django_filters.NumberFilter(field_name="source", help_text="Id of the source.")
    priority = django_filters.ChoiceFilter(
        choices=[(p, p) for p in ("P1", "P2", "P3", "P4")], help_text="Ticket priority."
    )
    state = django_filters.ChoiceFilter(choices=Ticket.State.choices, help_text="Ticket state.")
    opened_after = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", help_text="Opened at or after (ISO-8601)."
    )
    opened_before = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="lt", help_text="Opened before (ISO-8601)."
    )

    class Meta:
        model = Ticket
        fields = ["agreement", "source", "priority", "state", "opened_after", "opened_before"]


@extend_schema_view(
    list=extend_schema(
        examples=[OpenApiExample("Ticket", value=TICKET_EXAMPLE, response_only=True)]
    ),
    retrieve=extend_schema(
        examples=[OpenApiExample("Ticket", value=TICKET_DETAIL_EXAMPLE, response_only=True)],
        responses={200: TicketDetailSerializer, 404: NOT_FOUND},
    ),
)
class TicketViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Service desk tickets as ingested, newest first; a customer sees its own. The detail
    carries the status history and the pauses derived from it."""

    filterset_class = TicketFilter
    queryset = Ticket.objects.none()  # for the schema; rows come from the selector

    def selector(self, user: User) -> QuerySet[Ticket]:
        if self.action == "retrieve":
            return ticket_with_history(user)
        return tickets_visible_to(user)

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer
