"""REST endpoints of the monthly reports: ``/api/reports/`` and ``/api/reports/<id>/``.

Read-only and scoped like the portal (``reporting.selectors.reports.reports_visible_to``): provider
staff see every report, drafts included; a customer only its own organisation's issued
reports, and anything else answers 404. The detail carries the credit computation (bands,
cap, the figures per metric) and links to the PDF and CSV.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import renderers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from agreements.api.common import NOT_FOUND
from reporting.filters import ReportFilter
from reporting.models import Report
from reporting.selectors.reports import reports_visible_to
from reporting.serializers.reports import ReportDetailSerializer, ReportSerializer
from reporting.services.rendering import render_report_pdf, report_csv_text
from reporting.services.reports import report_draft_refresh
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.models import User

REPORT_EXAMPLE = {
    "id": 52,
    "agreement": 7,
    "agreement_reference": "SLA-2026-0001",
    "customer": "Acme Retail",
    "month": "2026-10-01",
    "period_label": "1 – 31 Oct 2026 (Europe/Berlin)",
    "zone": "Europe/Berlin",
    "period_start": "2026-09-30T22:00:00Z",
    "period_end": "2026-10-31T23:00:00Z",
    "revision": 1,
    "status": "issued",
    "drafted_at": "2026-11-01T00:01:00Z",
    "issued_at": "2026-11-03T09:12:00Z",
    "issued_by": "Alice Manager",
    "supersedes": None,
    "credit_percent": "20.00",
    "credit_amount": "2400.00",
    "currency": "EUR",
    "content_hash": "9f2c…64 hex digits",
    "url": "https://sla.example.com/reports/52/",
    "pdf_url": "https://sla.example.com/api/reports/52/pdf/",
    "csv_url": "https://sla.example.com/api/reports/52/csv/",
}
REPORT_DETAIL_EXAMPLE = {
    **REPORT_EXAMPLE,
    "change_note": "",
    "changes": [],
    "targets": [
        {
            "target_key": "availability-portal",
            "label": "Availability – Customer portal",
            "metric": "availability",
            "period": "month",
            "value": 98.6559,
            "value_unit": "percent",
            "value_text": "98.66 %",
            "goal_target": 99.9,
            "goal_threshold": 99.5,
            "status": "breached",
        }
    ],
    "breaches": [
        {
            "id": 311,
            "target_key": "availability-portal",
            "label": "Availability – Customer portal",
            "level": "breached",
            "subject": "October 2026",
            "opened_at": "2026-10-10T08:00:00Z",
            "closed_at": "2026-11-01T00:00:00Z",
            "root_cause": "Storage controller failure; failover did not trigger.",
        }
    ],
    "credits": {
        "bands": [
            {
                "metric": "availability",
                "metric_label": "Availability",
                "achieved_below": "99.9",
                "credit_percent": "5",
            },
            {
                "metric": "availability",
                "metric_label": "Availability",
                "achieved_below": "99",
                "credit_percent": "20",
            },
        ],
        "cap_percent": "30",
        "fee_amount": "12000.00",
        "fee_period": "month",
        "monthly_fee": "12000.00",
        "currency": "EUR",
        "lines": [
            {
                "metric": "availability",
                "metric_label": "Availability",
                "achieved": "98.6559",
                "band_below": "99",
                "percent": "20",
                "note": "Below 99: 20 % credit.",
            }
        ],
        "uncapped_percent": "20",
        "percent": "20",
        "capped": False,
        "amount": "2400.00",
        "notes": [],
        "exclusions": "Scheduled maintenance announced 5 days ahead.",
    },
}


class PDFRenderer(renderers.BaseRenderer):
    """Lets ``Accept: application/pdf`` through content negotiation; the view answers bytes."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def _api_reports(user: User) -> QuerySet[Report]:
    return reports_visible_to(user).select_related("agreement", "customer", "issued_by")


@extend_schema_view(
    list=extend_schema(
        summary="Monthly reports with their service credit",
        examples=[OpenApiExample("Report", value=REPORT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One report with its targets, breaches and credit computation",
        examples=[OpenApiExample("Report", value=REPORT_DETAIL_EXAMPLE, response_only=True)],
        responses={200: ReportDetailSerializer, 404: NOT_FOUND},
    ),
)
class ReportViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Monthly reports, newest month first: the credit due per report, its PDF and CSV, and
    in the detail the computation (bands, cap, the achieved figures it came from). Customers
    see their own organisation's issued reports; drafts under review only provider staff.
    Filter by `agreement`, `month` (or `month_from`/`month_to`), `status`, `current`."""

    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    queryset = Report.objects.none()  # for the schema; rows come from the selector
    selector = staticmethod(_api_reports)

    def get_queryset(self) -> QuerySet[Report]:
        return super().get_queryset().order_by("-month", "agreement_id", "-revision")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ReportDetailSerializer
        return ReportSerializer

    def _file(self, content: bytes | str, content_type: str, filename: str) -> HttpResponse:
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=filename
        )
        return response

    @extend_schema(
        summary="The report as a PDF",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[PDFRenderer], filterset_class=None)
    def pdf(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> HttpResponse:
        """The PDF the customer was sent (the same as the report page's download)."""
        report = report_draft_refresh(self.get_object())
        pdf = render_report_pdf(report, base_url=request.build_absolute_uri("/"))
        return self._file(pdf, "application/pdf", f"{report.filename}.pdf")

    @extend_schema(
        summary="The report as CSV",
        description="Value columns are plain numbers (`2400.00`); the `note` column is for "
        "people and writes money like the page (`2,400.00 EUR`).",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], renderer_classes=[CSVRenderer], filterset_class=None)
    def csv(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> HttpResponse:
        """The CSV of the report (UTF-8 with a byte-order mark, like the page's download)."""
        report = report_draft_refresh(self.get_object())
        text = "\ufeff" + report_csv_text(report)
        return self._file(text, "text/csv; charset=utf-8", f"{report.filename}.csv")
