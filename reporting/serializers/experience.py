"""Experience beside compliance as the API shows it (``reporting.selectors.experience``)."""

from __future__ import annotations

from rest_framework import serializers


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
    month = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        error_messages={"invalid": "Give the month as YYYY-MM, for example 2026-11."},
    )
