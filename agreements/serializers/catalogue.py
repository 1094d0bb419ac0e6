"""Serializers of the service catalogue: services, calendars with their hours and closures,
and tier templates."""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from agreements.models import Calendar, CalendarHours, ClosureDate, Service, Tier
from agreements.selectors import calendars_visible_to
from agreements.serializers.common import (
    MONEY,
    PERCENT,
    REVIEW_MONTHS,
    Conflict,
    ScopedPrimaryKeyRelatedField,
    ScopedSlugRelatedField,
    StrictFieldsMixin,
    django_errors,
    provider_users_visible_to,
)
from agreements.serializers.targets import TierCreditBandSerializer, TierTargetSerializer
from agreements.services.drafting import calendar_frozen_reason
from sla_portal.core.netguard import validate_probe_url

# --- Service catalogue ---------------------------------------------------------------------


class ServiceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A service of the catalogue that agreements cover."""

    owner = ScopedSlugRelatedField(
        selector=provider_users_visible_to,
        slug_field="username",
        required=False,
        allow_null=True,
        help_text="Username of the provider's owner of the service.",
    )
    agreement_count = serializers.IntegerField(
        read_only=True, help_text="Agreements (visible to you) that cover the service."
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "criticality",
            "probe_url",
            "probe_interval_seconds",
            "agreement_count",
            "created_at",
        ]
        extra_kwargs = {
            "probe_interval_seconds": {"min_value": 10},
            "probe_url": {"validators": [validate_probe_url]},
        }


# --- Calendars -----------------------------------------------------------------------------


class CalendarHoursSerializer(serializers.ModelSerializer):
    """One interval of a weekday (0 = Monday). An end of 00:00 is midnight ending the day; an
    end before the start runs overnight."""

    class Meta:
        model = CalendarHours
        fields = ["weekday", "start", "end"]

    def validate(self, attrs: dict) -> dict:
        missing = [f for f in ("weekday", "start", "end") if f not in attrs]
        if missing:
            # A PATCH replaces the whole list, so every row must be complete.
            raise serializers.ValidationError({f: ["This field is required."] for f in missing})
        if attrs["start"] == attrs["end"] and attrs["start"] != time(0):
            raise serializers.ValidationError(
                {
                    "end": [
                        f"An interval needs a length: it starts and ends at {attrs['end']} "
                        "(00:00 to 00:00 is the whole day)."
                    ]
                }
            )
        return attrs


class ClosureDateSerializer(serializers.ModelSerializer):
    """A date on which the calendar is closed besides public holidays."""

    class Meta:
        model = ClosureDate
        fields = ["date", "reason"]

    def validate(self, attrs: dict) -> dict:
        if "date" not in attrs:
            raise serializers.ValidationError({"date": ["This field is required."]})
        return attrs


class CalendarSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Service hours: a time zone, weekly hours, public holidays and extra closures.

    Writing `hours` or `closures` replaces the whole list (all or nothing); a list left out
    of a PATCH stays as it is."""

    hours = CalendarHoursSerializer(many=True, required=False)
    closures = ClosureDateSerializer(many=True, required=False)

    class Meta:
        model = Calendar
        fields = [
            "id",
            "name",
            "description",
            "timezone",
            "is_24x7",
            "holiday_country",
            "holiday_subdivision",
            "hours",
            "closures",
            "updated_at",
        ]

    def validate_holiday_country(self, value: str) -> str:
        return value.upper()

    def validate_holiday_subdivision(self, value: str) -> str:
        return value.upper()

    def validate_closures(self, value: list[dict]) -> list[dict]:
        seen: set = set()
        for closure in value:
            if closure["date"] in seen:
                raise serializers.ValidationError(f"{closure['date']} is listed twice.")
            seen.add(closure["date"])
        return value

    def validate(self, attrs: dict) -> dict:
        # The model's own rules (a known holiday country and subdivision) on the merged values.
        values = {
            f: getattr(self.instance, f)
            for f in ("name", "timezone", "holiday_country", "holiday_subdivision")
            if self.instance is not None
        }
        values.update((k, v) for k, v in attrs.items() if k not in ("hours", "closures"))
        probe = Calendar(**values)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict) -> Calendar:
        hours = validated_data.pop("hours", [])
        closures = validated_data.pop("closures", [])
        calendar = Calendar(**validated_data)
        calendar.save()
        self._replace_lists(calendar, hours, closures)
        return calendar

    @transaction.atomic
    def update(self, calendar: Calendar, validated_data: dict) -> Calendar:
        calendar = Calendar.objects.select_for_update().get(pk=calendar.pk)
        reason = calendar_frozen_reason(calendar)
        if reason:
            raise Conflict({"calendar": [reason]})
        hours = validated_data.pop("hours", None)
        closures = validated_data.pop("closures", None)
        for field, value in validated_data.items():
            setattr(calendar, field, value)
        calendar.save()
        self._replace_lists(calendar, hours, closures)
        return calendar

    @staticmethod
    def _replace_lists(calendar: Calendar, hours: list | None, closures: list | None) -> None:
        # Row by row (the lists are short) so each new row reaches the audit trail.
        if hours is not None:
            calendar.hours.all().delete()
            for row in hours:
                CalendarHours.objects.create(calendar=calendar, **row)
        if closures is not None:
            calendar.closures.all().delete()
            for row in closures:
                ClosureDate.objects.create(calendar=calendar, **row)


# --- Tiers ---------------------------------------------------------------------------------


class TierSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A tier template (Gold, Silver, ...): the defaults a new agreement starts from.

    Targets and credit bands are shown here read-only."""

    service_calendar = ScopedPrimaryKeyRelatedField(
        selector=calendars_visible_to, required=False, allow_null=True
    )
    support_calendar = ScopedPrimaryKeyRelatedField(
        selector=calendars_visible_to, required=False, allow_null=True
    )
    targets = TierTargetSerializer(many=True, read_only=True)
    credit_bands = TierCreditBandSerializer(many=True, read_only=True)

    class Meta:
        model = Tier
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "position",
            "is_active",
            "service_calendar",
            "support_calendar",
            "review_interval_months",
            "fee_amount",
            "fee_period",
            "currency",
            "credit_cap_percent",
            "maintenance_max_minutes",
            "maintenance_notice_days",
            "maintenance_excluded",
            "targets",
            "credit_bands",
        ]
        extra_kwargs = {
            "review_interval_months": REVIEW_MONTHS,
            "fee_amount": MONEY,
            "credit_cap_percent": PERCENT,
        }
