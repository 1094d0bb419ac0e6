"""REST endpoints of the agreements app: services, calendars, tiers, agreements and targets.

Every viewset reads through a selector taking the acting user, so the API shows exactly what the
portal shows. Everyone signed in reads; only service managers and provider admins write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.filters import AgreementFilter, ServiceFilter, TargetFilter
from agreements.models import Agreement, Target
from agreements.sections import SECTIONS
from agreements.selectors import (
    agreement_document,
    agreements_as_proposed,
    agreements_visible_to,
    calendars_visible_to,
    services_visible_to,
    targets_visible_to,
    tiers_visible_to,
)
from agreements.serializers.agreements import (
    AgreementCreateSerializer,
    AgreementSerializer,
    CalendarSerializer,
    Conflict,
    ServiceSerializer,
    TargetSerializer,
    TierDifferencesSerializer,
    TierSerializer,
    ensure_editable,
    lock_editable,
)
from agreements.services import tier_differences
from agreements.smart import TargetSpec, smart_errors
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.models import User
from sla_portal.core.permissions import DrafterOrReadOnly


class CatalogueDestroyMixin:
    """Deleting a row still in use answers 409 with what uses it, instead of failing or
    silently dropping it from agreements."""

    # Many-to-many relations that would quietly lose the row, so they are checked first.
    in_use_relations: tuple[str, ...] = ()

    def perform_destroy(self, instance: models.Model) -> None:
        users: dict[type[models.Model], int] = {}
        for relation in self.in_use_relations:
            manager = getattr(instance, relation)
            if count := manager.count():
                users[manager.model] = count
        if users:
            raise Conflict({"detail": _in_use_reason(instance, users)})
        try:
            with transaction.atomic():
                instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            for row in exc.protected_objects:
                users[type(row)] = users.get(type(row), 0) + 1
            raise Conflict({"detail": _in_use_reason(instance, users)}) from exc


def _in_use_reason(instance: models.Model, users: dict[type[models.Model], int]) -> str:
    used_by = ", ".join(
        f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural}"
        for model, count in users.items()
    )
    return f"{instance} is still used by {used_by}; change those first."


# --- Examples shown in the OpenAPI schema --------------------------------------------------

FORBIDDEN = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Only service managers and provider admins write.",
    examples=[
        OpenApiExample(
            "Not a service manager", value={"detail": "Only service managers may change this."}
        )
    ],
)
TIERS_ARE_PROVIDERS = "Tier templates carry the provider's pricing: provider staff only."
PROVIDER_ONLY = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Provider staff only.",
    examples=[OpenApiExample("Customer user", value={"detail": TIERS_ARE_PROVIDERS})],
)
NOT_FOUND = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="No such row, or not visible to you (the two answer alike).",
    examples=[
        OpenApiExample("Not found", value={"detail": "No Agreement matches the given query."})
    ],
)


def _bad_request(*examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Validation failed: each field lists its reasons; nothing was saved.",
        examples=list(examples),
    )


def _conflict(*examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="The current state does not allow the change.",
        examples=list(examples),
    )


NOT_EDITABLE = (
    "SLA-2026-0007 is active: an agreement can only be changed while it is drafted or negotiated."
)
LOCKED = OpenApiExample(
    "Agreement can no longer be changed",
    value={"status": [NOT_EDITABLE]},
)
TARGET_LOCKED = OpenApiExample(
    "Agreement can no longer be changed",
    value={"agreement": [NOT_EDITABLE]},
)
IN_USE = OpenApiExample(
    "Still in use",
    value={"detail": "Berlin office hours is still used by 2 agreements; change those first."},
)

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
SECTION_VALUES: dict[str, Any] = {
    "service_description": "The provider operates the services listed above for the customer.",
    "scale": "About 1,200 named users at 14 sites.",
    "business_impact": "An outage stops order intake and dispatch.",
    "business_priority": "high",
    "service_calendars": [1],
    "service_hours_notes": "",
    "maintenance_max_minutes": 120,
    "maintenance_notice_days": 5,
    "maintenance_excluded": True,
    "availability_notes": "",
    "support_calendar": 1,
    "after_hours_procedure": "P1 incidents are reported by phone to the on-call line.",
    "performance_notes": "",
    "functionality_notes": "",
    "fee_amount": "12000.00",
    "fee_period": "month",
    "currency": "EUR",
    "charging_formula": "The fee is invoiced per period in advance.",
    "credit_cap_percent": "30.00",
    "credit_exclusions": "No credits for downtime caused by the customer.",
    "rto_minutes": 240,
    "rpo_minutes": 60,
    "dr_plan_reference": "DRP-2026-03 (rev. 4)",
    "continuity_notes": "",
    "security_procedures": "Access follows least privilege.",
    "security_protocols": "TLS 1.2+ for all traffic.",
    "security_measures": "ISO 27001 certified operations.",
    "change_policy": "Normal changes go through the change advisory board.",
    "change_notice_days": 10,
    "change_approval": "Normal changes are approved by both service managers.",
}
RELATED_VALUES: dict[str, list[dict]] = {
    "signatories": [
        {
            "id": 1,
            "side": "provider",
            "name": "Alice Manager",
            "role": "Service manager",
            "organisation_name": "Northwind IT Services",
            "email": "alice@northwind.example",
        },
        {
            "id": 2,
            "side": "customer",
            "name": "Carol Customer",
            "role": "Head of IT",
            "organisation_name": "Acme Logistics",
            "email": "carol@acme.example",
        },
    ],
    "support_channels": [
        {"id": 1, "kind": "phone", "contact": "+49 30 1234 5670", "hours": "24x7 for P1"}
    ],
    "priority_definitions": [
        {
            "id": 1,
            "priority": "P1",
            "name": "Critical",
            "meaning": "The service is down or unusable for many users; no workaround.",
        }
    ],
    "credit_bands": [
        {"id": 1, "metric": "availability", "achieved_below": "99.900", "credit_percent": "5.00"}
    ],
}
SECTION_TARGETS = [
    {key: TARGET_EXAMPLE[key] for key in TARGET_EXAMPLE if key not in ("agreement", "section")},
    RESPONSE_TARGET,
]
AGREEMENT_EXAMPLE = {
    "id": 7,
    "reference": "SLA-2026-0007",
    "title": "Customer Portal and ERP - Gold",
    "customer": "acme",
    "tier": "gold",
    "services": [1, 2],
    "effective_from": "2026-01-01",
    "effective_to": "2027-12-31",
    "review_interval_months": 3,
    "status": "draft",
    "is_editable": True,
    "created_at": "2026-01-05T09:30:00Z",
    "updated_at": "2026-01-06T14:02:11Z",
    "sections": {
        section.key: {
            "number": section.number,
            "title": section.title,
            **{name: SECTION_VALUES[name] for name in section.fields},
            **{name: RELATED_VALUES[name] for name in section.related},
            "targets": [t for t in SECTION_TARGETS if t["metric"] in section.target_metrics],
        }
        for section in SECTIONS
    },
}
AGREEMENT_CREATE_REQUEST = {
    "tier": "gold",
    "customer": "acme",
    "title": "Customer Portal and ERP - Gold",
    "services": [1, 2],
    "effective_from": "2026-01-01",
    "effective_to": "2027-12-31",
}
SECTION_PATCH_REQUEST = {
    "sections": {
        "charges": {"fee_amount": "5000.00", "credit_cap_percent": "20.00"},
        "hours": {"service_calendars": [1, 3]},
    }
}


def _examples(name: str, response: dict, request: dict | None = None) -> list[OpenApiExample]:
    examples = [OpenApiExample(name, value=response, response_only=True)]
    if request is not None:
        examples.append(OpenApiExample(name, value=request, request_only=True))
    return examples


def _crud_schema(
    noun: str,
    serializer: type[BaseSerializer],
    example: dict,
    request: dict,
    update_conflict: OpenApiExample | None = None,
) -> dict[str, Any]:
    """The schema of the standard catalogue operations, each with examples; an update that
    the rows using this one can forbid documents its 409 with ``update_conflict``."""
    bad = _bad_request(
        OpenApiExample("Field errors", value={"name": [f"{noun} with this name already exists."]})
    )
    conflict = {409: _conflict(update_conflict)} if update_conflict is not None else {}
    return {
        "list": extend_schema(examples=_examples(noun, example)),
        "retrieve": extend_schema(
            examples=_examples(noun, example), responses={200: serializer, 404: NOT_FOUND}
        ),
        "create": extend_schema(
            examples=_examples(noun, example, request),
            responses={201: serializer, 400: bad, 403: FORBIDDEN},
        ),
        "update": extend_schema(
            examples=_examples(noun, example, request),
            responses={200: serializer, 400: bad, 403: FORBIDDEN, 404: NOT_FOUND, **conflict},
        ),
        "partial_update": extend_schema(
            examples=_examples(noun, example, {"description": example["description"]}),
            responses={200: serializer, 400: bad, 403: FORBIDDEN, 404: NOT_FOUND, **conflict},
        ),
        "destroy": extend_schema(
            responses={
                204: OpenApiResponse(description="Deleted."),
                403: FORBIDDEN,
                404: NOT_FOUND,
                409: _conflict(IN_USE),
            }
        ),
    }


# --- Catalogue -----------------------------------------------------------------------------


@extend_schema_view(**_crud_schema("Service", ServiceSerializer, SERVICE_EXAMPLE, SERVICE_REQUEST))
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
    **_crud_schema(
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


@extend_schema_view(**_crud_schema("Tier", TierSerializer, TIER_EXAMPLE, TIER_REQUEST))
class TierViewSet(CatalogueDestroyMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """Tier templates (Gold, Silver, Bronze): the defaults a new agreement starts from.

    They carry the provider's pricing, so only provider users see them (a customer gets an
    empty list). Targets and credit bands are listed read-only."""

    serializer_class = TierSerializer
    permission_classes = [DrafterOrReadOnly]
    lookup_field = "slug"
    selector = staticmethod(tiers_visible_to)


# --- Agreements ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List agreements",
        description="Agreements you may see, newest change first, each with its ten sections.",
        examples=_examples("Agreement", AGREEMENT_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One agreement with its ten sections",
        examples=_examples("Agreement", AGREEMENT_EXAMPLE),
        responses={200: AgreementSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a draft agreement from a tier",
        description=(
            "Creates a draft for a customer. With a `tier`, the tier's calendars, charges, "
            "maintenance policy, targets and credit bands are copied in; standard P1-P4 "
            "definitions and proposed signatories are added. The reference is the next free "
            "SLA-YYYY-NNNN unless given."
        ),
        request=AgreementCreateSerializer,
        examples=_examples("From the Gold tier", AGREEMENT_EXAMPLE, AGREEMENT_CREATE_REQUEST),
        responses={
            201: AgreementSerializer,
            400: _bad_request(
                OpenApiExample(
                    "Dates out of order",
                    value={"effective_to": ["Time-bound: the agreement must end after it starts."]},
                ),
                OpenApiExample(
                    "Unknown tier", value={"tier": ["Object with slug=platinum does not exist."]}
                ),
            ),
            403: FORBIDDEN,
        },
    ),
    partial_update=extend_schema(
        summary="Change the terms or sections of a draft",
        description=(
            "Send only what changes: terms at the top level, section fields under "
            "`sections.<key>`. Calendars are given by id. Related lists and targets are "
            "read-only here (targets: `/api/targets/`). Only a draft can be changed; any other "
            "status answers 409."
        ),
        examples=[
            *_examples("Section fields", AGREEMENT_EXAMPLE, SECTION_PATCH_REQUEST),
            OpenApiExample(
                "Terms",
                value={"title": "Customer Portal - Gold", "services": [1]},
                request_only=True,
            ),
        ],
        responses={
            200: AgreementSerializer,
            400: _bad_request(
                OpenApiExample(
                    "Section field error",
                    value={
                        "sections": {
                            "charges": {
                                "credit_cap_percent": [
                                    "Ensure this value is less than or equal to 100."
                                ]
                            }
                        }
                    },
                ),
            ),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _conflict(LOCKED),
        },
    ),
)
class AgreementViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """Service level agreements: terms and the ten ITIL sections.

    Customers read their own organisation's agreements only. Service managers create drafts
    (from a tier) and change them while they are drafts. The status is read-only here: the
    lifecycle (proposal, signatures, activation) moves it."""

    serializer_class = AgreementSerializer
    permission_classes = [DrafterOrReadOnly]
    filterset_class = AgreementFilter
    # No PUT (a full replacement of ten sections is never what a client means) and no DELETE:
    # agreements end through the lifecycle, not by removal.
    http_method_names = ["get", "post", "patch", "head", "options"]

    @staticmethod
    def selector(user: User) -> QuerySet[Agreement]:
        # Everything the sections show, in a fixed number of queries for any page size.
        return agreements_visible_to(user).prefetch_related(
            "services",
            "service_calendars",
            "signatories",
            "support_channels",
            "priority_definitions",
            "credit_bands",
            "targets",
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "create":
            return AgreementCreateSerializer
        return AgreementSerializer

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer:
        # A customer reads what was proposed to it, never the provider's unsent edits.
        if args and self.action in {"list", "retrieve"} and self.request.user.is_customer:
            rows = args[0] if kwargs.get("many") else [args[0]]
            shown = agreements_as_proposed(self.request.user, list(rows))
            args = (shown if kwargs.get("many") else shown[0], *args[1:])
        return super().get_serializer(*args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agreement = serializer.save()
        created = self.get_queryset().get(pk=agreement.pk)
        body = AgreementSerializer(created, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agreement = self.get_object()
        ensure_editable(agreement)
        serializer = self.get_serializer(agreement, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        # Read back: the prefetched lists of the instance are stale after the write.
        return Response(self.get_serializer(self.get_queryset().get(pk=agreement.pk)).data)

    @extend_schema(
        summary="Where the agreement departs from its tier",
        description=(
            "Every field, target and credit band that differs from the tier template the "
            "agreement was created from. Tiers carry the provider's pricing, so customers get "
            "403."
        ),
        responses={200: TierDifferencesSerializer, 403: PROVIDER_ONLY, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "Fee lowered, P1 response relaxed",
                value={
                    "tier": "gold",
                    "differences": [
                        {
                            "section": "Charges",
                            "what": "fee amount",
                            "tier_value": "12000.00",
                            "agreement_value": "5000.00",
                        },
                        {
                            "section": "Support levels",
                            "what": "Response time (P1): target value",
                            "tier_value": "15.000",
                            "agreement_value": "20.000",
                        },
                    ],
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], url_path="tier-differences")
    def tier_differences(self, request: Request, pk: str, format: str | None = None) -> Response:
        if not request.user.is_provider:
            raise PermissionDenied(TIERS_ARE_PROVIDERS)
        try:
            agreement = agreement_document(request.user, pk)
        except (Agreement.DoesNotExist, ValueError) as exc:
            raise NotFound("No Agreement matches the given query.") from exc
        body = {
            "tier": agreement.tier.slug if agreement.tier else None,
            "differences": [vars(diff) for diff in tier_differences(agreement)],
        }
        return Response(TierDifferencesSerializer(body).data)


# --- Targets -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List targets",
        description="SMART targets of the agreements you may see; filter with `?agreement=`.",
        examples=_examples("Target", TARGET_EXAMPLE),
    ),
    retrieve=extend_schema(
        examples=_examples("Target", TARGET_EXAMPLE),
        responses={200: TargetSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Add a target to a draft agreement",
        description=(
            "Unit, data source and (where the metric fixes it) direction default from the "
            "metric. Every SMART rule the target breaks comes back on its own field and nothing "
            "is saved. The agreement must be a draft you may see."
        ),
        examples=_examples("Availability target", TARGET_EXAMPLE, TARGET_REQUEST),
        responses={
            201: TargetSerializer,
            400: _bad_request(
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
        examples=_examples("Availability target", TARGET_EXAMPLE, TARGET_REQUEST),
        responses={
            200: TargetSerializer,
            400: _bad_request(SMART_ERROR),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _conflict(TARGET_LOCKED),
        },
    ),
    partial_update=extend_schema(
        examples=_examples("Threshold changed", TARGET_EXAMPLE, {"threshold_value": "99.0"}),
        responses={
            200: TargetSerializer,
            400: _bad_request(SMART_ERROR),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _conflict(TARGET_LOCKED),
        },
    ),
    destroy=extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _conflict(TARGET_LOCKED),
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
