"""Explicit serializers of the recompute API: a run with its progress and its corrections."""

from __future__ import annotations

from rest_framework import serializers

from agreements.models import Agreement, Calendar
from agreements.serializers.common import StrictFieldsMixin
from monitoring.models import Source
from monitoring.serializers.evaluation import NamedChoiceField
from reporting.models import PeriodCorrection, RecomputeRun


class PeriodCorrectionSerializer(serializers.ModelSerializer):
    """One closed period's old and new figure; ``applied_at`` is empty until applied."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    report = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = PeriodCorrection
        fields = [
            "id",
            "period_result",
            "agreement",
            "agreement_reference",
            "target_label",
            "period_start",
            "period_end",
            "value_unit",
            "old_value",
            "old_status",
            "new_value",
            "new_status",
            "applied_at",
            "report",
        ]
        read_only_fields = fields


class RecomputeRunSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A run: scope, reason, progress (tickets and periods done of total), what changed."""

    scope = NamedChoiceField(component="RecomputeScopeEnum", choices=RecomputeRun.Scope.choices)
    status = NamedChoiceField(
        component="RecomputeStatusEnum", choices=RecomputeRun.Status.choices, read_only=True
    )
    stage = NamedChoiceField(
        component="RecomputeStageEnum", choices=RecomputeRun.Stage.choices, read_only=True
    )
    agreement = serializers.PrimaryKeyRelatedField(
        queryset=Agreement.objects.all(), required=False, allow_null=True
    )
    calendar = serializers.PrimaryKeyRelatedField(
        queryset=Calendar.objects.all(), required=False, allow_null=True
    )
    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), required=False, allow_null=True
    )
    agreements = serializers.SlugRelatedField(slug_field="reference", many=True, read_only=True)
    requested_by = serializers.CharField(source="requested_by.display_name", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    tickets_percent = serializers.IntegerField(read_only=True)
    periods_percent = serializers.IntegerField(read_only=True)
    corrections = PeriodCorrectionSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = RecomputeRun
        fields = [
            "id",
            "scope",
            "agreement",
            "calendar",
            "source",
            "agreements",
            "reason",
            "requested_by",
            "requested_at",
            "status",
            "stage",
            "started_at",
            "finished_at",
            "error",
            "cancel_requested",
            "percent",
            "tickets_total",
            "tickets_done",
            "tickets_percent",
            "periods_total",
            "periods_done",
            "periods_percent",
            "timers_changed",
            "missed_to_met",
            "met_to_missed",
            "alerts_recorded",
            "open_periods_changed",
            "timer_changes",
            "corrections",
            "applied_at",
            "url",
        ]
        read_only_fields = [
            f for f in fields if f not in ("scope", "agreement", "calendar", "source", "reason")
        ]

    def get_url(self, run: RecomputeRun) -> str:
        request = self.context.get("request")
        path = run.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class RecomputeApplySerializer(StrictFieldsMixin, serializers.Serializer):
    note = serializers.CharField(help_text="Why the reports are corrected (in each revision).")
