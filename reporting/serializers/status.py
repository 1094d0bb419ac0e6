"""Explicit serializers of the incidents and status page API."""

from __future__ import annotations

from rest_framework import serializers

from agreements.models import Service
from agreements.serializers.agreements import StrictFieldsMixin
from monitoring.serializers.evaluation import NamedChoiceField
from reporting.models import Incident, IncidentUpdate, StatusPage
from sla_portal.core.models import Organisation


def _customers():
    return Organisation.objects.filter(kind=Organisation.Kind.CUSTOMER)


class IncidentUpdateSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """One public statement: a status and a message (``posted_at`` is set by the server)."""

    status = NamedChoiceField(component="IncidentStatusEnum", choices=Incident.Status.choices)
    message = serializers.CharField(max_length=5000)

    class Meta:
        model = IncidentUpdate
        fields = ["id", "status", "message", "posted_at"]
        read_only_fields = ["id", "posted_at"]


class IncidentSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An incident with its updates, newest first. ``message`` (write-only) is the first
    update's text; ``internal_note`` is the provider's and is never shown to customers."""

    customer = serializers.SlugRelatedField(slug_field="slug", queryset=_customers())
    services = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=Service.objects.all()
    )
    impact = NamedChoiceField(component="IncidentImpactEnum", choices=Incident.Impact.choices)
    status = NamedChoiceField(
        component="IncidentStatusEnum",
        choices=Incident.Status.choices,
        default=Incident.Status.INVESTIGATING,
    )
    message = serializers.CharField(write_only=True, max_length=5000)
    internal_note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    updates = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "customer",
            "title",
            "impact",
            "services",
            "status",
            "message",
            "internal_note",
            "started_at",
            "resolved_at",
            "updated_at",
            "updates",
        ]
        read_only_fields = ["id", "started_at", "resolved_at", "updated_at", "updates"]

    def get_updates(self, incident: Incident) -> list[dict]:
        updates = getattr(incident, "shown_updates", None)
        if updates is None:
            updates = incident.updates.order_by("-posted_at", "-id")
        return IncidentUpdateSerializer(updates, many=True).data

    def to_representation(self, instance: Incident) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.is_provider:
            data.pop("internal_note", None)
        return data


class StatusPageSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A customer's public status page. ``link`` is given only when the page is created or
    its link rotated: only the token's hash is stored."""

    customer = serializers.SlugRelatedField(slug_field="slug", queryset=_customers())
    services = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=Service.objects.all(), required=False
    )
    subscribers = serializers.SerializerMethodField()
    link = serializers.SerializerMethodField()

    class Meta:
        model = StatusPage
        fields = [
            "id",
            "customer",
            "name",
            "services",
            "enabled",
            "created_at",
            "rotated_at",
            "subscribers",
            "link",
        ]
        read_only_fields = ["id", "created_at", "rotated_at", "subscribers", "link"]
        # The service refuses a second page of the same name, naming the field.
        validators: list = []

    def get_subscribers(self, page: StatusPage) -> int:
        """Confirmed subscribers that have not unsubscribed."""
        counted = getattr(page, "active_subscribers", None)
        if counted is not None:
            return counted
        return page.subscribers.filter(
            confirmed_at__isnull=False, unsubscribed_at__isnull=True
        ).count()

    def get_link(self, page: StatusPage) -> str | None:
        return self.context.get("link")
