"""REST endpoints of monitoring's sources: the feeds of data per customer, their signing
secrets and sharing, and (``monitoring.api.ingest``) the bulk ingest into them."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.api.common import FORBIDDEN, IN_USE, NOT_FOUND, CatalogueDestroyMixin
from monitoring.api.ingest import BulkIngestMixin
from monitoring.models import Source
from monitoring.selectors.ingest import sources_visible_to
from monitoring.serializers.ingest import (
    CustomerSourceSerializer,
    RotatedSecretSerializer,
    SourceCreatedSerializer,
    SourceSerializer,
    SourceSharingSerializer,
)
from monitoring.sources import SharingRefused, source_rotate_secret, source_set_shared
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.permissions import DrafterOrReadOnly

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
class SourceViewSet(
    BulkIngestMixin, CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet
):
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
