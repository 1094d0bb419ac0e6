"""Surveys as the API shows them: the question, and its one answer once given."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from rest_framework import serializers

from monitoring.experience.contacts import has_experience_target
from monitoring.experience.nps import EARLIEST_START, LATEST_START_AHEAD, current_round
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


EVERY_MONTHS = (0, 1, 3, 6, 12)


class NpsScheduleSerializer(serializers.Serializer):
    """``every_months`` 1, 3, 6 or 12 (0 removes the schedule); ``starts_on`` from 2000 to a
    year ahead. Setting a schedule needs an NPS target in the agreement's version in force
    (pass the agreement as ``context["agreement"]``)."""

    every_months = serializers.IntegerField(
        help_text="Ask every 1, 3, 6 or 12 months; 0 removes the schedule."
    )
    starts_on = serializers.DateField(required=False, allow_null=True)
    current_round = serializers.IntegerField(read_only=True, allow_null=True)

    def validate_every_months(self, value: int) -> int:
        if value not in EVERY_MONTHS:
            raise serializers.ValidationError(
                "Choose 1, 3, 6 or 12 months (or 0 to remove the schedule)."
            )
        return value

    def validate_starts_on(self, value: date | None) -> date | None:
        if value is None:
            return value
        latest = timezone.localdate() + LATEST_START_AHEAD
        if not EARLIEST_START <= value <= latest:
            raise serializers.ValidationError(
                f"The first round lies between {EARLIEST_START.isoformat()} and a year from "
                f"today ({latest.isoformat()})."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        agreement = self.context.get("agreement")
        needs_target = attrs.get("every_months") and agreement is not None
        if needs_target and not has_experience_target(agreement, "nps"):
            raise serializers.ValidationError(
                {
                    "every_months": (
                        "This agreement has no NPS target in force: add one (and sign the "
                        "version) before scheduling NPS surveys."
                    )
                }
            )
        return attrs

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
