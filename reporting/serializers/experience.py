"""Experience beside compliance as the API shows it (``reporting.selectors.experience``)."""

from __future__ import annotations

import re
from datetime import date, datetime

from rest_framework import serializers

BAD_MONTH = "Give the month as YYYY-MM, for example 2026-11."


class ExperienceFigureSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    status = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    responses = serializers.IntegerField()
    min_responses = serializers.IntegerField()
    target = serializers.FloatField()
    threshold = serializers.FloatField()
    below_threshold = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    provisional = serializers.BooleanField(
        help_text="The figure can still change: a CSAT period waits for late ratings."
    )
    closes_at = serializers.DateTimeField(allow_null=True)


class ExperienceCommentSerializer(serializers.Serializer):
    kind = serializers.CharField()
    score = serializers.IntegerField()
    comment = serializers.CharField()
    answered_at = serializers.DateTimeField()
    ticket = serializers.CharField(allow_blank=True)


class SlaCountsSerializer(serializers.Serializer):
    met = serializers.IntegerField(source="sla_met")
    not_met = serializers.IntegerField(source="sla_not_met")
    no_data = serializers.IntegerField(source="sla_no_data")
    all_met = serializers.BooleanField(source="sla_all_met")


class ExperienceSerializer(serializers.Serializer):
    agreement = serializers.IntegerField(source="agreement_id")
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    sla = SlaCountsSerializer(source="*", allow_null=True)
    experience = ExperienceFigureSerializer(source="figures", many=True)
    watermelon = serializers.BooleanField()
    comments = ExperienceCommentSerializer(many=True)


class MonthQuerySerializer(serializers.Serializer):
    month = serializers.CharField(required=False)

    def validate_month(self, value: str) -> date:
        """The first day of the month; any month the calendar does not know (``2026-13``,
        year ``0000``) is the same 400 as a malformed one, never a 500."""
        # strptime alone accepts "2026-1"; the pattern insists on two digits.
        if not re.fullmatch(r"\d{4}-\d{2}", value):
            raise serializers.ValidationError(BAD_MONTH)
        try:
            return datetime.strptime(value, "%Y-%m").date()
        except ValueError:
            raise serializers.ValidationError(BAD_MONTH) from None
