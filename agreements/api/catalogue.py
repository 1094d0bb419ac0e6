"""REST endpoints of the service catalogue: services, calendars and tier templates.

Every viewset reads through a selector taking the acting user, so the API shows exactly what the
portal shows. Everyone signed in reads; only service managers and provider admins write.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import viewsets

from agreements.api.common import CatalogueDestroyMixin, crud_schema
from agreements.api.targets import TARGET_EXAMPLE
from agreements.filters import ServiceFilter
from agreements.selectors import calendars_visible_to, services_visible_to, tiers_visible_to
from agreements.serializers.catalogue import CalendarSerializer, ServiceSerializer, TierSerializer
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.models import User
from sla_portal.core.permissions import DrafterOrReadOnly

SERVICE_EXAMPLE = {
    "id": 1,
    "name": "Customer Portal",
    "description": "Web portal where customers book and track shipments.",
    "owner": "alice_manager",
    "criticality": "critical",
    "probe_url": "https://portal.northwind.example/health",
    "probe_interval_seconds": 60,
    "agreement_count": 1,
    "created_at": "2026-01-05T09:30:00Z",
}
SERVICE_REQUEST = {
    key: SERVICE_EXAMPLE[key]
    for key in ("name", "description", "owner", "criticality", "probe_url")
}
CALENDAR_EXAMPLE = {
    "id": 3,
    "name": "Berlin office hours",
    "description": "Mon-Fri 08:00-18:00 Berlin time, Berlin public holidays",
    "timezone": "Europe/Berlin",
    "is_24x7": False,
    "holiday_country": "DE",
    "holiday_subdivision": "BE",
    "hours": [{"weekday": day, "start": "08:00:00", "end": "18:00:00"} for day in range(5)],
    "closures": [{"date": "2026-12-24", "reason": "Christmas Eve closure"}],
    "updated_at": "2026-01-05T09:30:00Z",
}
CALENDAR_REQUEST = {
    key: value for key, value in CALENDAR_EXAMPLE.items() if key not in ("id", "updated_at")
}
TIER_EXAMPLE = {
    "id": 1,
    "name": "Gold",
    "slug": "gold",
    "description": "Business-critical services: 24x7 support, 99.9% availability.",
    "position": 1,
    "is_active": True,
    "service_calendar": 1,
    "support_calendar": 1,
    "review_interval_months": 3,
    "fee_amount": "12000.00",
    "fee_period": "month",
    "currency": "EUR",
    "credit_cap_percent": "30.00",
    "maintenance_max_minutes": 120,
    "maintenance_notice_days": 5,
    "maintenance_excluded": True,
    "targets": [
        {
            key: TARGET_EXAMPLE[key]
            for key in TARGET_EXAMPLE
            if key not in ("agreement", "section", "label", "service")
        }
    ],
    "credit_bands": [
        {"id": 1, "metric": "availability", "achieved_below": "99.900", "credit_percent": "5.00"}
    ],
}
TIER_REQUEST = {
    key: TIER_EXAMPLE[key]
    for key in TIER_EXAMPLE
    if key not in ("id", "targets", "credit_bands", "position")
} | {"name": "Platinum", "slug": "platinum", "fee_amount": "20000.00"}

# Section field values of the agreement example.
# --- Catalogue -----------------------------------------------------------------------------


@extend_schema_view(**crud_schema("Service", ServiceSerializer, SERVICE_EXAMPLE, SERVICE_REQUEST))
class ServiceViewSet(CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """Services of the catalogue. Customers see the services of their own agreements; service
    managers add and change them. A service still covered by an agreement cannot be deleted."""

    serializer_class = ServiceSerializer
    permission_classes = [DrafterOrReadOnly]
    filterset_class = ServiceFilter
    in_use_relations = ("agreements",)

    @staticmethod
    def selector(user: User) -> QuerySet:
        # The count annotation groups rows, and grouped queries drop the model's ordering;
        # pages need a stable one.
        return services_visible_to(user).order_by("name", "id")

    def perform_create(self, serializer: ServiceSerializer) -> None:
        # Read back through the selector: the response carries its agreement count.
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)

    def perform_update(self, serializer: ServiceSerializer) -> None:
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)


CALENDAR_SIGNED = OpenApiExample(
    "Used by signed agreements",
    value={
        "calendar": [
            "Signed agreements use this calendar (SLA-2026-0001): their service hours cannot "
            "change. Create a new calendar and use it in a new version instead."
        ]
    },
)


@extend_schema_view(
    **crud_schema(
        "Calendar",
        CalendarSerializer,
        CALENDAR_EXAMPLE,
        CALENDAR_REQUEST,
        update_conflict=CALENDAR_SIGNED,
    )
)
class CalendarViewSet(CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """Calendars (service hours): time zone, weekly hours, public holidays and closures.

    Customers see the calendars their agreements use. Writing `hours` or `closures`
    replaces the whole list in one transaction."""

    serializer_class = CalendarSerializer
    permission_classes = [DrafterOrReadOnly]
    in_use_relations = ("service_agreements",)

    @staticmethod
    def selector(user: User) -> QuerySet:
        return calendars_visible_to(user).prefetch_related("closures")


@extend_schema_view(**crud_schema("Tier", TierSerializer, TIER_EXAMPLE, TIER_REQUEST))
class TierViewSet(CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """Tier templates (Gold, Silver, Bronze): the defaults a new agreement starts from.

    They carry the provider's pricing, so only provider users see them (a customer gets an
    empty list). Targets and credit bands are listed read-only."""

    serializer_class = TierSerializer
    permission_classes = [DrafterOrReadOnly]
    lookup_field = "slug"
    selector = staticmethod(tiers_visible_to)
