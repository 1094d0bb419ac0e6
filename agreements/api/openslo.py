"""OpenSLO in and out of one agreement: ``/api/agreements/<id>/openslo/``.

``GET`` downloads the availability and performance targets as OpenSLO v1 YAML; ``POST``
imports an OpenSLO (or Sloth) file into the draft, all targets or none, and answers with what
it did: the targets added or changed and every rule-based change; ``?dry_run=true`` answers
the same without writing. A file with any error answers 400 with each error's document, path
and reason. The agreement is found through ``agreements_visible_to``: another organisation's
answers 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.models import Agreement
from agreements.openslo.loading import MAX_BYTES
from agreements.selectors import agreements_visible_to
from agreements.serializers.common import Conflict
from agreements.serializers.openslo import (
    OpenSLORefusalSerializer,
    OpenSLOResultSerializer,
    OpenSLOUploadSerializer,
)
from agreements.services.openslo import (
    AgreementNotEditable,
    ImportPlan,
    OpenSLOImportRefused,
    openslo_export,
    openslo_import,
    openslo_plan,
)
from sla_portal.core.permissions import DrafterOrReadOnly

NO_AGREEMENT = "No Agreement matches the given query."
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")


class _YAMLBody(BaseParser):
    """The request body is the YAML file itself (read up to one byte past the limit, so an
    oversized file is refused by the reader with its size, never read whole)."""

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        return {"yaml": stream.read(MAX_BYTES + 1) if stream is not None else b""}


YAML_PARSERS = [
    type(f"YAMLBody{i}", (_YAMLBody,), {"media_type": media}) for i, media in enumerate(YAML_TYPES)
]

AGREEMENT_PK = OpenApiParameter(
    "agreement_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Id of the agreement."
)
DRY_RUN = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description="Answer with what the import would do, without writing anything.",
)
SLOTH_FILE = """version: "prometheus/v1"
service: "customer-portal"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
"""
RESULT_EXAMPLE = {
    "ok": True,
    "dry_run": False,
    "documents": [
        {"document": 0, "api_version": "prometheus/v1", "kind": "Sloth", "name": "customer-portal"}
    ],
    "targets": [
        {
            "action": "create",
            "target_id": None,
            "document": 0,
            "source": "Sloth 'customer-portal', slos[0]",
            "metric": "availability",
            "name": "requests-availability",
            "priority": "",
            "error_category": "",
            "target_value": "99.9",
            "threshold_value": "99.9",
            "unit": "percent",
            "direction": "higher",
            "period": "month",
            "compliance_target": None,
            "compliance_threshold": None,
            "warning_percent": "75",
            "data_source": "uptime",
            "service": "Customer Portal",
            "calendar": None,
            "changed_fields": {},
        }
    ],
    "changes": [
        {
            "document": 0,
            "name": "customer-portal",
            "path": "slos[0].objective",
            "rule": "sloth-percent",
            "message": "Sloth objectives are percentages: 99.9 is kept as 99.9 % (OpenSLO would "
            "write the ratio 0.999).",
        },
        {
            "document": 0,
            "name": "customer-portal",
            "path": "slos[0]",
            "rule": "threshold-equals-target",
            "message": "The file gives no threshold of unacceptable service (OpenSLO has no "
            "field for it): it is set equal to the target (99.9 %); edit it in the draft to "
            "allow a margin.",
        },
        {
            "document": 0,
            "name": "customer-portal",
            "path": 'metadata.annotations["sla-portal/warning-percent"]',
            "rule": "warning-default",
            "message": "No warning level: the portal warns when 75 % of the allowed time is "
            "used (its default); edit it in the draft.",
        },
    ],
    "errors": [],
    "counts": {"create": 1, "update": 0, "unchanged": 0},
}
REFUSAL_EXAMPLE = {
    "detail": "1 problem(s) in the file: nothing was imported.",
    "ok": False,
    "dry_run": False,
    "documents": [
        {"document": 0, "api_version": "openslo/v1", "kind": "SLO", "name": "web-availability"}
    ],
    "targets": [],
    "changes": [],
    "errors": [
        {
            "document": 0,
            "kind": "SLO",
            "name": "web-availability",
            "path": "spec.objectives[0].target",
            "reason": "must lie between 0 and 1, not 99.9 (a ratio: 0.999 means 99.9 %)",
        }
    ],
    "counts": {"create": 0, "update": 0, "unchanged": 0},
}
EXPORT_EXAMPLE = """# OpenSLO v1 export of the availability and performance targets of SLA-2026-0001
- apiVersion: openslo/v1
  kind: SLO
  metadata:
    name: availability
    displayName: Availability
    annotations:
      sla-portal/name: ''
      sla-portal/service: ''
      sla-portal/threshold-value: '99.5'
      sla-portal/unit: percent
      sla-portal/warning-percent: '75'
      sla-portal/calendar: ''
      sla-portal/agreement: SLA-2026-0001
  spec:
    service: sla-2026-0001
    indicator:
      metadata:
        name: availability-sli
      spec:
        ratioMetric:
          good:
            metricSource:
              type: SLAPortal
              spec:
                dataSource: uptime
          total:
            metricSource:
              type: SLAPortal
              spec:
                dataSource: uptime
    timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: '2026-01-01 00:00:00'
        timeZone: UTC
    budgetingMethod: RatioTimeslices
    objectives:
    - displayName: Availability
      target: 0.999
      timeSliceWindow: 1m
"""
NOT_FOUND = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="No such agreement, or not visible to you (the two answer alike).",
    examples=[OpenApiExample("Not found", value={"detail": NO_AGREEMENT})],
)


@extend_schema_view(
    list=extend_schema(
        summary="Export targets as OpenSLO",
        description=(
            "The agreement's availability and performance targets as OpenSLO v1 YAML, one SLO "
            "per target; what OpenSLO has no field for (the threshold, the unit, the warning "
            "level, the service and calendar) is in `sla-portal/` annotations, so importing "
            "the file gives the same targets. See docs/openslo.md."
        ),
        parameters=[AGREEMENT_PK],
        responses={
            (200, "application/yaml"): OpenApiResponse(
                # The YAML document is a list of OpenSLO objects: on a list action the schema
                # generator wraps a raw schema like this one in an array.
                build_basic_type(OpenApiTypes.OBJECT),
                description="The YAML file (as a download): a list of OpenSLO SLO objects.",
                examples=[OpenApiExample("One availability target", value=EXPORT_EXAMPLE)],
            ),
            404: NOT_FOUND,
        },
    ),
    create=extend_schema(
        summary="Import OpenSLO into a draft",
        description=(
            "Import OpenSLO v1 objects (SLO, SLI, Service, AlertPolicy, AlertCondition, "
            "AlertNotificationTarget, DataSource), OpenSLO v1alpha SLOs and Services, or a "
            "Sloth spec (`prometheus/v1`), one or many YAML documents, as targets of the draft "
            "agreement. Send the file as the body (`application/yaml`), as a multipart upload "
            '(`file`) or as JSON (`{"yaml": "..."}`). All or nothing: any error answers 400 '
            "with every error's document, path and reason, and nothing is written. The answer "
            "lists each target added or changed and every value set by a rule (`changes`). "
            "With `dry_run=true` nothing is written."
        ),
        parameters=[AGREEMENT_PK, DRY_RUN],
        request={
            "application/yaml": OpenApiTypes.STR,
            "multipart/form-data": OpenSLOUploadSerializer,
            "application/json": OpenSLOUploadSerializer,
        },
        examples=[
            OpenApiExample(
                "Sloth spec", value=SLOTH_FILE, request_only=True, media_type="application/yaml"
            ),
            OpenApiExample(
                "Imported", value=RESULT_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
        responses={
            200: OpenApiResponse(
                OpenSLOResultSerializer, description="Dry run: what the import would do."
            ),
            201: OpenApiResponse(OpenSLOResultSerializer, description="Imported."),
            400: OpenApiResponse(
                OpenSLORefusalSerializer,
                description=(
                    "The file has errors (each with document, path and reason); nothing was "
                    "written."
                ),
                examples=[OpenApiExample("Target given in percent", value=REFUSAL_EXAMPLE)],
            ),
            403: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Only service managers and provider admins import.",
                examples=[
                    OpenApiExample(
                        "Customer", value={"detail": "Only service managers may change this."}
                    )
                ],
            ),
            404: NOT_FOUND,
            409: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=(
                    "The agreement is agreed or in force: its targets change only in a new version."
                ),
                examples=[
                    OpenApiExample(
                        "Signed agreement",
                        value={
                            "agreement": [
                                "SLA-2026-0007 is active: an agreement can only be changed "
                                "while it is drafted or negotiated."
                            ]
                        },
                    )
                ],
            ),
        },
    ),
)
class AgreementOpenSLOViewSet(viewsets.GenericViewSet):
    """OpenSLO export (everyone who sees the agreement) and import (service managers, drafts)."""

    # Read access is scoped by the selector; the drafter check comes after it, so another
    # organisation's agreement answers 404 to a POST too (a 403 would say that it exists).
    permission_classes = [IsAuthenticated]
    parser_classes = [*YAML_PARSERS, JSONParser, MultiPartParser, FormParser]
    queryset = Agreement.objects.none()  # for the schema; the agreement comes from the selector
    filter_backends: list = []
    pagination_class = None

    def get_agreement(self) -> Agreement:
        try:
            return agreements_visible_to(self.request.user).get(pk=self.kwargs["agreement_pk"])
        except (Agreement.DoesNotExist, ValueError) as exc:
            raise NotFound(NO_AGREEMENT) from exc

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        agreement = self.get_agreement()
        text = openslo_export(user=request.user, agreement=agreement)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            True, f"{agreement.reference}-openslo.yaml"
        )
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agreement = self.get_agreement()
        if not request.user.can_draft_agreements:
            raise PermissionDenied(DrafterOrReadOnly.message)
        dry_run = str(request.query_params.get("dry_run", "")).lower() in {"1", "true", "yes"}
        text, filename = _file_of(request)
        if dry_run:
            if not agreement.is_editable:
                raise Conflict({"agreement": [agreement.not_editable_reason]})
            plan = openslo_plan(user=request.user, agreement=agreement, text=text)
            return _answer(plan, dry_run=True)
        try:
            plan = openslo_import(
                user=request.user, agreement=agreement, text=text, filename=filename
            )
        except AgreementNotEditable as exc:
            raise Conflict({"agreement": [str(exc)]}) from exc
        except OpenSLOImportRefused as exc:
            return _answer(exc.plan, dry_run=False, detail=str(exc))
        return _answer(plan, dry_run=False)


def _file_of(request: Request) -> tuple[str | bytes, str]:
    """The YAML text of the request and the uploaded file's name; empty when none was sent
    (the reader then answers that the file is empty)."""
    data = request.data
    if not hasattr(data, "get"):
        return "", ""
    upload = data.get("file")
    if hasattr(upload, "read"):
        return upload.read(MAX_BYTES + 1), str(getattr(upload, "name", "") or "")[:100]
    text = data.get("yaml")
    if isinstance(text, (str, bytes)):
        return text, ""
    if isinstance(upload, str):
        return upload, ""
    return "", ""


def _answer(plan: ImportPlan, *, dry_run: bool, detail: str = "") -> Response:
    body = {**plan.as_dict(), "dry_run": dry_run}
    if not plan.ok:
        body = {
            "detail": detail
            or f"{len(plan.problems)} problem(s) in the file: nothing was imported.",
            **body,
        }
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(body, status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)
