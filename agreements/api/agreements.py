"""REST endpoints of agreements: the list, one agreement by sections, creating one from a tier,
and its differences from the tier.

Every viewset reads through a selector taking the acting user, so the API shows exactly what the
portal shows. Everyone signed in reads; only service managers and provider admins write.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.api.common import (
    FORBIDDEN,
    LOCKED,
    NOT_FOUND,
    PROVIDER_ONLY,
    TIERS_ARE_PROVIDERS,
    bad_request_response,
    conflict_response,
    crud_examples,
)
from agreements.api.targets import RESPONSE_TARGET, TARGET_EXAMPLE
from agreements.filters import AgreementFilter
from agreements.models import Agreement
from agreements.sections import SECTIONS
from agreements.selectors import agreement_document, agreements_as_proposed, agreements_visible_to
from agreements.serializers.agreements import (
    AgreementCreateSerializer,
    AgreementSerializer,
    TierDifferencesSerializer,
)
from agreements.serializers.common import ensure_editable
from agreements.tier_differences import tier_differences
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.models import User
from sla_portal.core.permissions import DrafterOrReadOnly

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


# --- Agreements ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List agreements",
        description="Agreements you may see, newest change first, each with its ten sections.",
        examples=crud_examples("Agreement", AGREEMENT_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One agreement with its ten sections",
        examples=crud_examples("Agreement", AGREEMENT_EXAMPLE),
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
        examples=crud_examples("From the Gold tier", AGREEMENT_EXAMPLE, AGREEMENT_CREATE_REQUEST),
        responses={
            201: AgreementSerializer,
            400: bad_request_response(
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
            *crud_examples("Section fields", AGREEMENT_EXAMPLE, SECTION_PATCH_REQUEST),
            OpenApiExample(
                "Terms",
                value={"title": "Customer Portal - Gold", "services": [1]},
                request_only=True,
            ),
        ],
        responses={
            200: AgreementSerializer,
            400: bad_request_response(
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
            409: conflict_response(LOCKED),
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
