"""Surveys as the API shows them: the question, and its one answer once given."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from monitoring.experience.nps import current_round
from monitoring.models import Survey


class SurveySerializer(serializers.ModelSerializer):
    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    ticket_external_id = serializers.CharField(
        source="ticket.external_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Survey
        fields = [
            "id",
            "kind",
            "agreement",
            "agreement_reference",
            "ticket",
            "ticket_external_id",
            "round",
            "created_at",
            "answered_at",
            "score",
            "comment",
        ]
        read_only_fields = fields


class NpsScheduleSerializer(serializers.Serializer):
    every_months = serializers.IntegerField(min_value=0, max_value=12)
    starts_on = serializers.DateField(required=False, allow_null=True)
    current_round = serializers.IntegerField(read_only=True, allow_null=True)

    @staticmethod
    def of(schedule) -> dict:
        """The schedule as the API shows it (``every_months`` 0: none)."""
        if schedule is None:
            return {"every_months": 0, "starts_on": None, "current_round": None}
        return {
            "every_months": schedule.every_months,
            "starts_on": schedule.starts_on.isoformat(),
            "current_round": current_round(
                schedule.starts_on, schedule.every_months, timezone.localdate()
            ),
        }
