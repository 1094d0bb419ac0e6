"""``/api/incidents/`` and ``/api/status-pages/``.

Incidents: everyone signed in reads the incidents they may see (a customer its own
organisation's, without the provider's internal note; another organisation's answer 404);
provider service managers and admins post incidents and updates (others 403). Status pages:
provider staff only (a customer 404); managers create them, rotate their link and turn them
off or on. A page's link is in the answer of its creation or rotation only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.agreements import NOT_FOUND
from reporting.models import Incident, StatusPage
from reporting.selectors.status import incidents_visible_to, status_pages_visible_to
from reporting.serializers.status import (
    IncidentSerializer,
    IncidentUpdateSerializer,
    StatusPageSerializer,
)
from reporting.services.status import (
    incident_create,
    incident_update_post,
    status_page_create,
    status_page_rotate,
    status_page_set_enabled,
)
from sla_portal.core.api.people import ScopedViewSetMixin

INCIDENT_EXAMPLE = {
    "id": 4,
    "customer": "acme",
    "title": "Customer Portal unreachable",
    "impact": "outage",
    "services": ["Customer Portal"],
    "status": "identified",
    "internal_note": "Firewall change CHG-2211 rolled back.",
    "started_at": "2026-12-07T09:12:00Z",
    "resolved_at": None,
    "updated_at": "2026-12-07T09:40:00Z",
    "updates": [
        {
            "id": 9,
            "status": "identified",
            "message": "A firewall change blocks traffic; rolling it back.",
            "posted_at": "2026-12-07T09:40:00Z",
        },
        {
            "id": 8,
            "status": "investigating",
            "message": "The portal does not answer; we are looking into it.",
            "posted_at": "2026-12-07T09:12:00Z",
        },
    ],
}
PAGE_EXAMPLE = {
    "id": 2,
    "customer": "acme",
    "name": "Acme Logistics",
    "services": [],
    "enabled": True,
    "created_at": "2026-12-01T10:00:00Z",
    "rotated_at": None,
    "subscribers": 14,
    "link": "https://sla.example.com/status/q7Vh0b3kR0x2mZr8pJk1uQ6yWfT4sNcLaEo9dXiHgB0/",
}
REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The request is refused, with the field and the reason.",
    examples=[
        OpenApiExample(
            "Refused",
            value={"services": ["Not a service of Acme Logistics's agreements in force: ERP"]},
        )
    ],
)
FORBIDDEN = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Only the provider's service managers and admins may do this.",
    examples=[
        OpenApiExample(
            "Forbidden", value={"detail": "Only the provider's service managers post incidents."}
        )
    ],
)


def _refused(error: DjangoValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        return ValidationError(error.message_dict)
    return ValidationError({"detail": error.messages})


def _require_writer(request: Request, what: str) -> None:
    if not request.user.can_draft_agreements:
        raise PermissionDenied(f"Only the provider's service managers {what}.")


@extend_schema_view(
    list=extend_schema(
        summary="Incidents, newest first",
        examples=[OpenApiExample("Incident", value=INCIDENT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One incident with its updates, newest first",
        examples=[OpenApiExample("Incident", value=INCIDENT_EXAMPLE, response_only=True)],
        responses={200: IncidentSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Post an incident",
        description="Shown at once on the customer's status pages that list an affected "
        "service, and emailed to their confirmed subscribers. `message` is the first update.",
        examples=[
            OpenApiExample(
                "Outage",
                value={
                    "customer": "acme",
                    "title": "Customer Portal unreachable",
                    "impact": "outage",
                    "services": ["Customer Portal"],
                    "status": "investigating",
                    "message": "The portal does not answer; we are looking into it.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Incident", value=INCIDENT_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
        responses={201: IncidentSerializer, 400: REFUSED, 403: FORBIDDEN},
    ),
)
class IncidentViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents the provider announced about a customer's services."""

    serializer_class = IncidentSerializer
    queryset = Incident.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(incidents_visible_to)
    filterset_fields = ["status", "impact"]

    def create(self, request: Request, *args, **kwargs) -> Response:
        _require_writer(request, "post incidents")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            incident = incident_create(
                customer=data["customer"],
                title=data["title"],
                impact=data["impact"],
                services=data["services"],
                message=data["message"],
                status=data["status"],
                internal_note=data.get("internal_note", ""),
                by=request.user,
            )
        except DjangoValidationError as error:
            raise _refused(error) from error
        output = self.get_serializer(self.get_queryset().get(pk=incident.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Post an update (status and message)",
        description="`resolved` closes the incident; a resolved incident takes no updates.",
        request=IncidentUpdateSerializer,
        examples=[
            OpenApiExample(
                "Monitoring",
                value={"status": "monitoring", "message": "Fix deployed; watching."},
                request_only=True,
            ),
            OpenApiExample(
                "Incident", value=INCIDENT_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
        responses={201: IncidentSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def updates(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> Response:
        incident = self.get_object()
        _require_writer(request, "post updates")
        body = IncidentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            incident_update_post(
                incident,
                body.validated_data["status"],
                body.validated_data["message"],
                request.user,
            )
        except DjangoValidationError as error:
            raise _refused(error) from error
        output = self.get_serializer(self.get_queryset().get(pk=incident.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)


def _page_link(request: Request, token: str) -> str:
    return request.build_absolute_uri(reverse("status-page", args=[token]))


@extend_schema_view(
    list=extend_schema(
        summary="Customers' status pages (provider staff)",
        examples=[OpenApiExample("Page", value={**PAGE_EXAMPLE, "link": None}, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One status page",
        examples=[OpenApiExample("Page", value={**PAGE_EXAMPLE, "link": None}, response_only=True)],
        responses={200: StatusPageSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a customer's status page and its link",
        description="The answer's `link` is the only time the link is shown: only its hash "
        "is stored. `services` empty: every service of the customer's agreements in force.",
        examples=[
            OpenApiExample(
                "Page", value={"customer": "acme", "name": "Acme Logistics"}, request_only=True
            ),
            OpenApiExample("Created", value=PAGE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
        responses={201: StatusPageSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Turn a page's link off or on",
        examples=[OpenApiExample("Off", value={"enabled": False}, request_only=True)],
        responses={200: StatusPageSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
)
class StatusPageViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customers' public status pages: their links, and whether they are on."""

    serializer_class = StatusPageSerializer
    queryset = StatusPage.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(status_pages_visible_to)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not request.user.is_provider:
            raise NotFound()

    def create(self, request: Request, *args, **kwargs) -> Response:
        _require_writer(request, "manage status pages")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            page, token = status_page_create(
                data["customer"], data["name"], data.get("services", []), request.user
            )
        except DjangoValidationError as error:
            raise _refused(error) from error
        output = StatusPageSerializer(
            page, context={**self.get_serializer_context(), "link": _page_link(request, token)}
        )
        return Response(output.data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        _require_writer(request, "manage status pages")
        page = self.get_object()
        extra = set(request.data) - {"enabled"} if hasattr(request.data, "keys") else {"body"}
        enabled = request.data.get("enabled") if hasattr(request.data, "get") else None
        if extra or not isinstance(enabled, bool):
            raise ValidationError(
                {"enabled": ["Send only `enabled`, true or false; other fields do not change."]}
            )
        status_page_set_enabled(page, enabled)
        return Response(self.get_serializer(page).data)

    @extend_schema(
        summary="Give the page a new link (the old one stops working)",
        request=None,
        examples=[OpenApiExample("Rotated", value=PAGE_EXAMPLE, response_only=True)],
        responses={200: StatusPageSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def rotate(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> Response:
        page = self.get_object()
        _require_writer(request, "manage status pages")
        token = status_page_rotate(page)
        output = StatusPageSerializer(
            page, context={**self.get_serializer_context(), "link": _page_link(request, token)}
        )
        return Response(output.data)
