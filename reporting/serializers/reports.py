"""Serializers of the reporting API: a report and the service-credit computation behind it.

Everything comes from the report's frozen ``content`` (the same as its page, PDF and CSV),
so a finance system reads the figures the customer was sent. Amounts are strings with two
decimals (``"2400.00"``), percentages plain decimal strings (``"20"``, ``"99.5"``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from reporting.formatting import period_label
from reporting.models import Report


class ReportCreditBandSerializer(serializers.Serializer):
    metric = serializers.CharField()
    metric_label = serializers.CharField()
    achieved_below = serializers.CharField(help_text="Percent: the band applies below it.")
    credit_percent = serializers.CharField(help_text="Percent of the monthly fee credited.")


class ReportCreditLineSerializer(serializers.Serializer):
    metric = serializers.CharField()
    metric_label = serializers.CharField()
    achieved = serializers.CharField(allow_null=True, help_text="Percent achieved, if measured.")
    band_below = serializers.CharField(allow_null=True, help_text="The band it fell below.")
    percent = serializers.CharField(help_text="Credit percent this metric earns.")
    note = serializers.CharField()


class ReportCreditsSerializer(serializers.Serializer):
    """The credit computation: the schedule's bands and cap, the figures per metric, the
    total before the cap and the amount due."""

    bands = ReportCreditBandSerializer(many=True)
    cap_percent = serializers.CharField()
    fee_amount = serializers.CharField(help_text="The fee as agreed, per `fee_period`.")
    fee_period = serializers.CharField()
    monthly_fee = serializers.CharField(help_text="The fee per month the credit is a share of.")
    currency = serializers.CharField()
    lines = ReportCreditLineSerializer(many=True)
    uncapped_percent = serializers.CharField()
    percent = serializers.CharField()
    capped = serializers.BooleanField()
    amount = serializers.CharField(help_text="Credit due: `percent` of `monthly_fee`.")
    notes = serializers.ListField(child=serializers.CharField())
    exclusions = serializers.CharField(allow_blank=True)


class ReportSerializer(serializers.ModelSerializer):
    """One report revision, as listed."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    customer = serializers.CharField(source="customer.name", read_only=True)
    period_label = serializers.SerializerMethodField()
    issued_by = serializers.CharField(
        source="issued_by.display_name", default=None, read_only=True, allow_null=True
    )
    url = serializers.SerializerMethodField(help_text="The report's page in the portal.")
    pdf_url = serializers.SerializerMethodField(
        help_text="The PDF, with the same authentication as the API (token or session)."
    )
    csv_url = serializers.SerializerMethodField(
        help_text="The CSV, with the same authentication as the API (token or session)."
    )

    class Meta:
        model = Report
        fields = [
            "id",
            "agreement",
            "agreement_reference",
            "customer",
            "month",
            "period_label",
            "zone",
            "period_start",
            "period_end",
            "revision",
            "status",
            "drafted_at",
            "issued_at",
            "issued_by",
            "supersedes",
            "credit_percent",
            "credit_amount",
            "currency",
            "content_hash",
            "url",
            "pdf_url",
            "csv_url",
        ]
        read_only_fields = fields

    def get_period_label(self, report: Report) -> str:
        return period_label(report.month, report.zone)

    def _link(self, name: str, report: Report) -> str:
        return reverse(name, args=[report.pk], request=self.context.get("request"))

    def get_url(self, report: Report) -> str:
        return self._link("reporting:report-detail", report)

    def get_pdf_url(self, report: Report) -> str:
        return self._link("report-pdf", report)

    def get_csv_url(self, report: Report) -> str:
        return self._link("report-csv", report)


class ReportTargetSerializer(serializers.Serializer):
    target_key = serializers.CharField()
    label = serializers.CharField()
    metric = serializers.CharField()
    period = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    value_unit = serializers.CharField()
    value_text = serializers.CharField()
    goal_target = serializers.FloatField()
    goal_threshold = serializers.FloatField()
    status = serializers.CharField()


class ReportBreachSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target_key = serializers.CharField()
    label = serializers.CharField()
    level = serializers.CharField()
    subject = serializers.CharField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    root_cause = serializers.CharField(allow_blank=True)


class ReportDetailSerializer(ReportSerializer):
    """One report revision with its targets, breaches and the credit computation."""

    targets = serializers.SerializerMethodField()
    breaches = serializers.SerializerMethodField()
    credits = serializers.SerializerMethodField()
    change_note = serializers.CharField(read_only=True)
    changes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(ReportSerializer.Meta):
        fields = [
            *ReportSerializer.Meta.fields,
            "change_note",
            "changes",
            "targets",
            "breaches",
            "credits",
        ]
        read_only_fields = fields

    @extend_schema_field(ReportTargetSerializer(many=True))
    def get_targets(self, report: Report) -> list[dict[str, Any]]:
        return ReportTargetSerializer(report.content.get("lines", []), many=True).data

    @extend_schema_field(ReportBreachSerializer(many=True))
    def get_breaches(self, report: Report) -> list[dict[str, Any]]:
        return ReportBreachSerializer(report.content.get("breaches", []), many=True).data

    @extend_schema_field(ReportCreditsSerializer)
    def get_credits(self, report: Report) -> dict[str, Any]:
        return ReportCreditsSerializer(report.content["credits"]).data
