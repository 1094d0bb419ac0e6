"""Explicit serializers of the monitoring API.

The ``*RowSerializer`` classes only describe bulk rows in the OpenAPI schema: rows are
validated by ``monitoring.ingest``, which the export importers share, so there is one set of
rules and one wording of errors.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agreements.models import Service
from agreements.serializers.common import StrictFieldsMixin
from monitoring.adapters import service_map_errors
from monitoring.ingest.fields import source_zone
from monitoring.models import Source, Ticket, TicketPause, TicketStatusChange
from monitoring.staleness import reschedule
from sla_portal.core.models import Organisation


class RefusedDeliveriesSerializer(serializers.Serializer):
    """Deliveries the source's webhook refused (wrong secret, bad body, ...), as counters."""

    count = serializers.IntegerField(source="refused_count")
    last_at = serializers.DateTimeField(source="refused_last_at", allow_null=True)
    last_reason = serializers.CharField(source="refused_last_reason")
    refusing_since = serializers.DateTimeField(
        allow_null=True,
        help_text="Start of the current refusal episode; null once a delivery was accepted.",
    )


class RefusedAlertSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the alert in the notification.")
    service = serializers.CharField(help_text="The service label value sent.")
    alertname = serializers.CharField()
    reason = serializers.CharField()


class SourceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A source as the provider sees it. The signing secret itself is answered once, by the
    create and rotate-secret calls; here only a hint of it (its last characters)."""

    customer = serializers.SlugRelatedField(
        slug_field="slug", queryset=Organisation.objects.filter(kind="customer")
    )
    signing_secret_hint = serializers.CharField(
        read_only=True, help_text="The secret's last characters, to recognise it."
    )
    service_map = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Alert senders: service label value → the portal's service name. Names "
        "also match ignoring case and spacing without an entry.",
    )
    refused_deliveries = RefusedDeliveriesSerializer(source="*", read_only=True)
    refused_alerts = RefusedAlertSerializer(many=True, read_only=True)
    refused_alerts_at = serializers.DateTimeField(read_only=True)
    stale = serializers.SerializerMethodField(
        help_text="Whether no data has come for longer than the expected interval."
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "customer",
            "name",
            "kind",
            "shared",
            "timezone",
            "signing_secret_hint",
            "secret_rotated_at",
            "previous_secret_until",
            "created_at",
            "service_map",
            "for_seconds",
            "last_received_at",
            "refused_deliveries",
            "refused_alerts",
            "refused_alerts_at",
            "expected_interval_minutes",
            "silence_counts_as_down",
            "last_data_at",
            "stale_at",
            "stale",
        ]
        read_only_fields = [
            "created_at",
            "last_received_at",
            "last_data_at",
            "stale_at",
            "secret_rotated_at",
            "previous_secret_until",
        ]
        extra_kwargs = {
            "for_seconds": {"max_value": 86_400},
            "expected_interval_minutes": {"max_value": 525_600},
        }

    def get_stale(self, source: Source) -> bool:
        return source.stale_at is not None and source.stale_at <= timezone.now()

    def save(self, **kwargs: Any) -> Source:
        # The stale moment follows the interval (and the kind's default): one place computes it.
        source = super().save(**kwargs)
        reschedule(source)
        return source

    def validate_timezone(self, value: str) -> str:
        if value and source_zone(value) is None:
            raise serializers.ValidationError(f"Unknown time zone {value!r}.")
        return value

    def unknown_field_errors(self, data: Any) -> dict[str, list[str]]:
        errors = super().unknown_field_errors(data)
        if "signing_secret" in data:
            errors["signing_secret"] = [
                "The secret is not set by a change; rotate it with "
                "POST /api/sources/<id>/rotate-secret/ (the new one is answered once)."
            ]
        return errors

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer = attrs.get("customer")
        if (
            self.instance is not None
            and customer is not None
            and customer.pk != self.instance.customer_id
        ):
            # Data was sent under this customer: it stays the source's customer.
            raise serializers.ValidationError(
                {"customer": ["A source's customer cannot change after creation."]}
            )
        if "service_map" in attrs:
            customer = attrs.get("customer") or getattr(self.instance, "customer", None)
            covered = set(
                Service.objects.filter(agreements__customer=customer)
                .distinct()
                .values_list("name", flat=True)
            )
            errors = service_map_errors(attrs["service_map"], covered)
            if errors:
                raise serializers.ValidationError({"service_map": errors})
            attrs["service_map"] = {k.strip(): v.strip() for k, v in attrs["service_map"].items()}
        return attrs


class SourceCreatedSerializer(SourceSerializer):
    """The answer of a creation: the source with its signing secret, shown this once."""

    signing_secret = serializers.CharField(read_only=True)

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "signing_secret"]


class SourceSharingSerializer(StrictFieldsMixin, serializers.Serializer):
    """Whether the source's data counts for every agreement covering its services (shared,
    a provider-owned measurement) or only for its own customer's agreements."""

    shared = serializers.BooleanField(
        help_text="True: counted for every agreement covering its services. False: only for "
        "the source's customer's agreements."
    )

    def validate(self, attrs: dict) -> dict:
        errors = self.unknown_field_errors(self.initial_data)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class RotatedSecretSerializer(serializers.Serializer):
    """The answer of a rotation: the new secret, shown this once."""

    signing_secret = serializers.CharField()
    previous_secret_until = serializers.DateTimeField(
        help_text="Until then the previous secret verifies too."
    )


class CustomerSourceSerializer(serializers.ModelSerializer):
    """A source as a customer sees it: never the signing secret."""

    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Source
        fields = ["id", "customer", "name", "kind", "timezone", "created_at"]
        read_only_fields = fields


class TicketPauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketPause
        fields = ["start", "end", "reason"]


class TicketStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketStatusChange
        fields = ["at", "status", "pauses_clock", "resolves"]


class TicketSerializer(serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(read_only=True)
    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agreement_reference = serializers.CharField(
        source="agreement.reference", read_only=True, allow_null=True, default=None
    )
    service_name = serializers.CharField(
        source="service.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "source",
            "external_id",
            "customer",
            "agreement",
            "agreement_reference",
            "service",
            "service_name",
            "priority",
            "category",
            "title",
            "assignee",
            "state",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "reopen_count",
            "csat",
            "changed_at",
        ]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    pauses = TicketPauseSerializer(many=True, read_only=True)
    status_history = TicketStatusChangeSerializer(
        source="status_changes", many=True, read_only=True
    )

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "pauses", "status_history"]
        read_only_fields = fields


# --- Bulk bodies (schema only) -------------------------------------------------------------


class StatusEntryRowSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status = serializers.CharField(max_length=60)
    pauses_clock = serializers.BooleanField(required=False)
    resolves = serializers.BooleanField(required=False)


class TicketRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=120)
    agreement = serializers.CharField(required=False, help_text="Agreement reference.")
    service = serializers.CharField(required=False, help_text="Service name.")
    priority = serializers.ChoiceField(choices=["P1", "P2", "P3", "P4", ""], required=False)
    category = serializers.CharField(required=False)
    title = serializers.CharField(required=False, max_length=300, help_text="The ticket's title.")
    assignee = serializers.CharField(
        required=False, max_length=200, help_text="Who works on the ticket (name or login)."
    )
    opened_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    closed_at = serializers.DateTimeField(required=False, allow_null=True)
    reopen_count = serializers.IntegerField(required=False, min_value=0)
    csat = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    status_history = StatusEntryRowSerializer(many=True, required=False)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(up|down|maintenance)$",
        "description": "`up`, `down` or `maintenance`.",
    }
)
class CheckStatusField(serializers.CharField):
    """A pattern, not an enum: drf-spectacular names enums after the field, and a second
    ``status`` enum would rename the agreement's ``StatusEnum`` in the published schema."""


class CheckRowSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField()
    status = CheckStatusField()
    response_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class MaintenanceRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=120)
    service = serializers.CharField(help_text="Service name.")
    title = serializers.CharField(required=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    announced_at = serializers.DateTimeField(required=False, allow_null=True)


class ErrorEventRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=120)
    service = serializers.CharField(help_text="Service name.")
    category = serializers.CharField(max_length=80)
    occurred_at = serializers.DateTimeField()


class MeasurementRowSerializer(serializers.Serializer):
    service = serializers.CharField(help_text="Service name.")
    name = serializers.CharField(max_length=160, help_text="What was measured.")
    measured_at = serializers.DateTimeField()
    value = serializers.FloatField(help_text="A finite number.")


class ContinuityIncidentRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=120)
    service = serializers.CharField(help_text="Service name.")
    started_at = serializers.DateTimeField()
    recovered_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Not before `started_at`."
    )
    description = serializers.CharField(required=False, max_length=10_000)


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
