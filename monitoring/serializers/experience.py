"""Surveys as the API shows them: the question, and its one answer once given."""

from __future__ import annotations

from rest_framework import serializers

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
