"""REST endpoints of an agreement's versions and their comparison."""

from __future__ import annotations

from dataclasses import asdict

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements.api.lifecycle import AGREEMENT_PK, NOT_FOUND, AgreementRowsMixin, response_examples
from agreements.diff import SEPARATOR, TERMS, diff_snapshots
from agreements.models import Acceptance, Agreement, AgreementVersion
from agreements.presentation import section_heading
from agreements.sections import MARKDOWN_FIELDS, SECTIONS_BY_KEY
from agreements.serializers.lifecycle import (
    CompareQuerySerializer,
    VersionComparisonSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)

VERSION_NUMBER = OpenApiParameter(
    "number", OpenApiTypes.INT, OpenApiParameter.PATH, description="Number of the version."
)
ACCEPTANCE_EXAMPLE = {
    "side": "provider",
    "user": "alice_manager",
    "accepted_at": "2026-01-08T10:15:00Z",
}
SIGNATURE_EXAMPLE = {
    "name": "Carol Customer",
    "role": "Head of IT",
    "organisation_name": "Acme Logistics",
    "side": "customer",
    "signed_at": "2026-01-09T16:40:12Z",
    "content_hash": "5f0c1d8e0c3b6a7f9a3b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8b9",
}
VERSION_EXAMPLE = {
    "number": 2,
    "proposed_by": "alice_manager",
    "proposed_at": "2026-01-07T09:00:00Z",
    "note": "P1 response time relaxed to 20 minutes.",
    "content_hash": SIGNATURE_EXAMPLE["content_hash"],
    "finalized_at": "2026-01-09T16:40:12Z",
    "acceptances": [
        ACCEPTANCE_EXAMPLE,
        {"side": "customer", "user": "carol_customer", "accepted_at": "2026-01-08T14:02:00Z"},
    ],
    "signatures": [
        {
            **SIGNATURE_EXAMPLE,
            "name": "Alice Manager",
            "role": "Service manager",
            "organisation_name": "Northwind IT Services",
            "side": "provider",
            "signed_at": "2026-01-09T11:20:00Z",
        },
        SIGNATURE_EXAMPLE,
    ],
}
VERSION_DETAIL_EXAMPLE = {
    **VERSION_EXAMPLE,
    "snapshot": {
        "schema": 1,
        "terms": {
            "title": "Customer Portal and ERP - Gold",
            "reference": "SLA-2026-0007",
            "customer": "Acme Logistics",
            "tier": "Gold",
            "effective_from": "2026-01-01",
            "effective_to": "2027-12-31",
            "review_interval_months": "3",
            "services": ["Customer Portal", "ERP Hosting"],
        },
        "sections": {
            "charges": {
                "fields": {"fee_amount": "12000", "currency": "EUR", "fee_period": "month"},
                "related": {
                    "credit_bands": [
                        {"metric": "availability", "achieved_below": "99.9", "credit_percent": "5"}
                    ]
                },
            }
        },
        "targets": [
            {
                "key": "response_time|P1||",
                "section": "support",
                "label": "Response time (P1)",
                "metric": "response_time",
                "priority": "P1",
                "target_value": "20",
                "threshold_value": "30",
                "unit": "minutes",
            }
        ],
        "calendars": [{"name": "24x7", "timezone": "UTC", "is_24x7": "true", "hours": []}],
    },
}
COMPARISON_EXAMPLE = {
    "a": 1,
    "b": 2,
    "sections": [
        {
            "key": "support",
            "title": "4. Support levels",
            "changes": [
                {
                    "kind": "changed",
                    "path": f"Response time (P1){SEPARATOR}target value",
                    "old": "15",
                    "new": "20",
                    "words": None,
                },
                {
                    "kind": "changed",
                    "path": "after hours procedure",
                    "old": "P1 incidents are reported by phone.",
                    "new": "P1 incidents are reported by phone or the portal.",
                    "words": [
                        {"op": "equal", "text": "P1 incidents are reported by "},
                        {"op": "delete", "text": "phone."},
                        {"op": "insert", "text": "phone or the portal."},
                    ],
                },
            ],
        }
    ],
}


@extend_schema_view(
    list=extend_schema(
        summary="Versions of an agreement",
        description=(
            "Every proposed version, oldest first, with who accepted and who signed it. "
            "Versions are immutable: there is no PUT, PATCH or DELETE (405)."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: VersionSerializer(many=True), 404: NOT_FOUND},
        examples=response_examples("Signed version", VERSION_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One version with its snapshot",
        description=(
            "The version with its `snapshot`: terms, the ten sections, targets and calendars "
            "exactly as proposed. `content_hash` is the SHA-256 of the snapshot serialised as "
            "JSON with sorted keys and no spaces, so anyone can check a signed version."
        ),
        parameters=[AGREEMENT_PK, VERSION_NUMBER],
        responses={200: VersionDetailSerializer, 404: NOT_FOUND},
        examples=response_examples("Signed version", VERSION_DETAIL_EXAMPLE),
    ),
)
class AgreementVersionViewSet(AgreementRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Proposed versions of one agreement: immutable snapshots, read-only here."""

    queryset = AgreementVersion.objects.none()
    lookup_field = "number"
    lookup_value_regex = r"\d+"
    filter_backends: list = []

    def rows(self, agreement: Agreement) -> QuerySet[AgreementVersion]:
        versions = (
            AgreementVersion.objects.filter(agreement=agreement)
            .select_related("proposed_by")
            .prefetch_related(
                Prefetch("acceptances", queryset=Acceptance.objects.select_related("user")),
                "signatures",
            )
            .order_by("number")
        )
        if self.action == "list":
            versions = versions.defer("snapshot")  # only the detail shows it
        return versions

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return VersionDetailSerializer
        if self.action == "compare":
            return VersionComparisonSerializer
        return VersionSerializer

    @extend_schema(
        summary="Compare two versions",
        description=(
            "What changed from version `a` to version `b`, grouped by section (`terms` first); "
            "each change has its kind, a readable path, the old and new values as text and, for "
            "free-text fields, a word-level diff. Unchanged sections are left out."
        ),
        parameters=[AGREEMENT_PK, CompareQuerySerializer],
        responses={
            200: VersionComparisonSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A version number is missing, malformed or unknown.",
                examples=[
                    OpenApiExample(
                        "Unknown version", value={"b": ["SLA-2026-0007 has no version 9."]}
                    ),
                    OpenApiExample("Missing", value={"a": ["This field is required."]}),
                ],
            ),
            404: NOT_FOUND,
        },
        examples=response_examples("P1 response relaxed", COMPARISON_EXAMPLE),
    )
    @action(detail=False, methods=["get"], url_path="compare", pagination_class=None)
    def compare(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        agreement = self.get_agreement()
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        a, b = query.validated_data["a"], query.validated_data["b"]
        snapshots = dict(
            AgreementVersion.objects.filter(agreement=agreement, number__in=[a, b]).values_list(
                "number", "snapshot"
            )
        )
        missing = {
            name: [f"{agreement.reference} has no version {number}."]
            for name, number in (("a", a), ("b", b))
            if number not in snapshots
        }
        if missing:
            raise ValidationError(missing)
        sections = [
            {
                "key": section.key,
                "title": "Terms" if section.key == TERMS else _section_title(section.key),
                "changes": [asdict(change) for change in section.changes],
            }
            for section in diff_snapshots(snapshots[a], snapshots[b], MARKDOWN_FIELDS)
        ]
        return Response(VersionComparisonSerializer({"a": a, "b": b, "sections": sections}).data)


def _section_title(key: str) -> str:
    # As the document and the emails name it: "3. Availability", never the internal key.
    return section_heading(key) if key in SECTIONS_BY_KEY else "Other"
