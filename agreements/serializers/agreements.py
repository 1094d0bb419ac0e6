"""Serializers of the agreements API: the catalogue, tiers, agreements with their ten sections,
and SMART targets.

Related rows are chosen through the selectors for the acting user, so an id the user may not
see reads exactly like an id that does not exist.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import time
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings

from agreements.models import (
    Agreement,
    Calendar,
    CalendarHours,
    ClosureDate,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    SupportChannel,
    Target,
    Tier,
    TierCreditBand,
    TierTarget,
)
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.presentation import status_of
from agreements.sections import SECTIONS, Section, section_for_metric
from agreements.selectors import (
    agreements_visible_to,
    calendars_visible_to,
    services_visible_to,
    tiers_visible_to,
)
from agreements.services import (
    AgreementError,
    agreement_create_from_tier,
    calendar_frozen_reason,
    next_target_position,
)
from agreements.smart import DEFAULT_SOURCE, DEFAULT_UNIT, FIXED_DIRECTION, TargetSpec, smart_errors
from sla_portal.core.models import Organisation, User
from sla_portal.core.netguard import validate_probe_url
from sla_portal.core.selectors import organisations_visible_to, users_visible_to

# --- Shared pieces -------------------------------------------------------------------------


class Conflict(APIException):
    """The request is valid but the resource's current state does not allow it (HTTP 409)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def not_editable_reason(agreement: Agreement) -> str:
    return agreement.not_editable_reason


def ensure_editable(agreement: Agreement, field: str = "status") -> None:
    """Refuse with 409 unless the agreement is still drafted or negotiated."""
    if not agreement.is_editable:
        raise Conflict({field: [not_editable_reason(agreement)]})


def lock_editable(user: User, agreement: Agreement, field: str = "status") -> None:
    """Lock the agreement row for the running transaction and check it is still editable.

    The early check in the view gives the clear 409; this one closes the gap between that check
    and the write, should the lifecycle move the agreement on in between."""
    locked = (
        agreements_visible_to(user)
        .select_related(None)
        .select_for_update()
        .only("id", "status", "reference")
        .get(pk=agreement.pk)
    )
    ensure_editable(locked, field)


def django_errors(exc: DjangoValidationError, section_of: Mapping[str, str] | None = None) -> dict:
    """A model's ValidationError in DRF's shape, `{field: [reasons]}`.

    With `section_of`, agreement fields are placed where the request carried them:
    `{"sections": {"charges": {"fee_amount": [...]}}}`."""
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    errors: dict[str, Any] = {}
    for field, messages in exc.message_dict.items():
        key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
        section = (section_of or {}).get(key)
        if section:
            place = errors.setdefault("sections", {}).setdefault(section, {})
            place.setdefault(key, []).extend(messages)
        else:
            errors.setdefault(key, []).extend(messages)
    return errors


def full_clean(
    instance: models.Model,
    section_of: Mapping[str, str] | None = None,
    exclude: tuple[str, ...] = (),
) -> None:
    """Run the model's own rules (clean, constraints, uniqueness) and answer in DRF's shape."""
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(django_errors(exc, section_of)) from exc


class ScopedRelatedFieldMixin:
    """Choices come from a selector taking the acting user (never from `Model.objects`)."""

    def __init__(self, *, selector: Callable[[User], QuerySet], **kwargs: Any) -> None:
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        return self.selector(self.context["request"].user)


class ScopedPrimaryKeyRelatedField(ScopedRelatedFieldMixin, serializers.PrimaryKeyRelatedField):
    pass


class ScopedSlugRelatedField(ScopedRelatedFieldMixin, serializers.SlugRelatedField):
    pass


class StrictFieldsMixin:
    """Reject keys the serializer does not know, so a misspelt field is an error instead of
    being silently ignored, and read-only keys, so a write never looks as if it changed what
    it cannot (``customer``, ``tier``, ``id``, a comment's ``author``). A read-only value
    equal to the stored one is let through, so a GET's body can be sent back with changes
    to the writable fields."""

    # Read by the OpenAPI schema (sla_portal.core.openapi): request bodies of these
    # serializers are documented with ``additionalProperties: false``.
    refuses_unknown_fields = True

    def unknown_field_errors(self, data: Mapping) -> dict[str, list[str]]:
        known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
        errors = {
            key: [f"Unknown field; the writable fields here are: {known}."]
            for key in data
            if key not in self.fields
        }
        for key in data:
            field = self.fields.get(key)
            if field is not None and field.read_only and not self._unchanged(field, data[key]):
                errors[key] = [f"Read-only field; it cannot be set here. Writable: {known}."]
        return errors

    def _unchanged(self, field: serializers.Field, value: Any) -> bool:
        instance = getattr(self, "instance", None)
        if instance is None or isinstance(field, serializers.HiddenField):
            return False
        try:
            current = field.to_representation(field.get_attribute(instance))
        except Exception:  # any doubt means "changed": refuse
            return False
        return _plain(current) == _plain(value)

    def to_internal_value(self, data: Any) -> Any:
        errors = self.unknown_field_errors(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from exc
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _plain(value: Any) -> Any:
    """A representation as JSON would carry it, to compare with what a client sent."""
    return json.loads(json.dumps(value, default=str))


def _customers_visible_to(user: User) -> QuerySet[Organisation]:
    return organisations_visible_to(user).filter(kind=Organisation.Kind.CUSTOMER)


def _provider_users_visible_to(user: User) -> QuerySet[User]:
    return users_visible_to(user).filter(organisation__kind=Organisation.Kind.PROVIDER)


def _active_tiers_visible_to(user: User) -> QuerySet[Tier]:
    return tiers_visible_to(user).filter(is_active=True)


# Ranges the database guards with CheckConstraints, checked here first so the answer names the
# field instead of the constraint.
PERCENT = {"min_value": Decimal("0"), "max_value": Decimal("100")}
MONEY = {"min_value": Decimal("0")}
REVIEW_MONTHS = {"min_value": 1, "max_value": 60}


# --- Service catalogue ---------------------------------------------------------------------


class ServiceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A service of the catalogue that agreements cover."""

    owner = ScopedSlugRelatedField(
        selector=_provider_users_visible_to,
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


# --- Targets -------------------------------------------------------------------------------

TARGET_FIELDS = [*TARGET_SPEC_FIELDS, "position"]


class TierTargetSerializer(serializers.ModelSerializer):
    """A default target of a tier, copied into each agreement created from the tier."""

    class Meta:
        model = TierTarget
        fields = ["id", *TARGET_FIELDS]
        read_only_fields = fields


class TierCreditBandSerializer(serializers.ModelSerializer):
    """Achieved below `achieved_below` earns `credit_percent` of the period fee."""

    class Meta:
        model = TierCreditBand
        fields = ["id", "metric", "achieved_below", "credit_percent"]
        read_only_fields = fields


class SectionTargetSerializer(serializers.ModelSerializer):
    """A target as listed inside its agreement section (read-only; write via /api/targets/)."""

    label = serializers.CharField(read_only=True)

    class Meta:
        model = Target
        fields = ["id", "label", "service", *TARGET_FIELDS]
        read_only_fields = fields


class TargetSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A SMART target of an agreement.

    `unit`, `data_source` and (where the metric fixes it) `direction` default from the
    metric when left out. Every SMART rule the target breaks comes back on its own field and
    nothing is saved. Targets change only while their agreement is a draft."""

    agreement = ScopedPrimaryKeyRelatedField(
        selector=agreements_visible_to, help_text="The agreement (a draft) the target belongs to."
    )
    service = ScopedPrimaryKeyRelatedField(
        selector=services_visible_to,
        required=False,
        allow_null=True,
        help_text="One of the agreement's services; empty means every service of it.",
    )
    calendar = ScopedPrimaryKeyRelatedField(
        selector=calendars_visible_to,
        required=False,
        allow_null=True,
        help_text="Business hours the clock runs in; empty means 24x7.",
    )
    section = serializers.SerializerMethodField(help_text="Key of the section the metric is in.")
    label = serializers.CharField(read_only=True)

    class Meta:
        model = Target
        fields = ["id", "agreement", "section", "label", "service", *TARGET_FIELDS]
        extra_kwargs = {
            "unit": {"required": False, "allow_blank": True},
            "direction": {"required": False, "allow_blank": True},
            "data_source": {"required": False, "allow_blank": True},
            "position": {"required": False},
        }

    def get_section(self, target: Target) -> str:
        return section_for_metric(target.metric).key

    def validate(self, attrs: dict) -> dict:
        instance = self.instance

        def current(name: str) -> Any:
            if name in attrs:
                return attrs[name]
            if instance is not None:
                return getattr(instance, name)
            return Target._meta.get_field(name).get_default()

        agreement: Agreement = current("agreement")
        if instance is not None and "agreement" in attrs and agreement != instance.agreement:
            raise serializers.ValidationError(
                {"agreement": ["A target stays with its agreement; create a new one instead."]}
            )
        if instance is None and not agreement.is_editable:
            raise serializers.ValidationError({"agreement": [not_editable_reason(agreement)]})
        service = current("service")
        if service is not None and not agreement.services.filter(pk=service.pk).exists():
            raise serializers.ValidationError(
                {"service": [f"{service} is not one of the services of {agreement.reference}."]}
            )

        metric = current("metric")
        metric_changed = instance is None or ("metric" in attrs and metric != instance.metric)
        errors: dict[str, list[str]] = {}
        for name, defaults in (
            ("unit", DEFAULT_UNIT),
            ("direction", FIXED_DIRECTION),
            ("data_source", DEFAULT_SOURCE),
        ):
            left_out = name not in attrs and metric_changed
            if left_out or (name in attrs and not attrs[name]):
                if metric in defaults:
                    attrs[name] = defaults[metric]
                elif name == "direction":
                    errors[name] = [
                        "Measurable: say whether lower or higher is better for this value."
                    ]
        if errors:
            raise serializers.ValidationError(errors)

        spec = TargetSpec(**{f.name: current(f.name) for f in dataclasses.fields(TargetSpec)})
        errors = smart_errors(spec)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict) -> Target:
        agreement = validated_data["agreement"]
        lock_editable(self.context["request"].user, agreement, field="agreement")
        validated_data.setdefault("position", next_target_position(agreement))
        target = Target(**validated_data)
        full_clean(target)
        target.save()
        return target

    @transaction.atomic
    def update(self, target: Target, validated_data: dict) -> Target:
        lock_editable(self.context["request"].user, target.agreement, field="agreement")
        for field, value in validated_data.items():
            setattr(target, field, value)
        full_clean(target)
        target.save()
        return target


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


# --- Agreements and their sections ---------------------------------------------------------


class SignatorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Signatory
        fields = ["id", "side", "name", "role", "organisation_name", "email"]
        read_only_fields = fields


class SupportChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportChannel
        fields = ["id", "kind", "contact", "hours"]
        read_only_fields = fields


class PriorityDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriorityDefinition
        fields = ["id", "priority", "name", "meaning"]
        read_only_fields = fields


class CreditBandSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditBand
        fields = ["id", "metric", "achieved_below", "credit_percent"]
        read_only_fields = fields


RELATED_SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    "signatories": SignatorySerializer,
    "support_channels": SupportChannelSerializer,
    "priority_definitions": PriorityDefinitionSerializer,
    "credit_bands": CreditBandSerializer,
}
SECTION_OF_FIELD = {name: section.key for section in SECTIONS for name in section.fields}
SECTION_FIELD_LIMITS = {
    "fee_amount": MONEY,
    "credit_cap_percent": PERCENT,
    "currency": {"min_length": 3},
}


def _calendar_field(**kwargs: Any) -> ScopedPrimaryKeyRelatedField:
    return ScopedPrimaryKeyRelatedField(selector=calendars_visible_to, required=False, **kwargs)


# Relations written by id; the choices are the calendars the user may see.
SECTION_RELATION_FIELDS: dict[str, Callable[[], serializers.Field]] = {
    "service_calendars": lambda: _calendar_field(many=True, help_text="Calendar ids."),
    "support_calendar": lambda: _calendar_field(allow_null=True, help_text="Calendar id."),
}


class SectionSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """One ITIL section of an agreement: its own fields (writable while the agreement is a
    draft), its related lists and its targets (read-only here)."""

    section: ClassVar[Section]

    number = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()

    def get_number(self, agreement: Agreement) -> int:
        return self.section.number

    def get_title(self, agreement: Agreement) -> str:
        return self.section.title

    @extend_schema_field(SectionTargetSerializer(many=True))
    def get_targets(self, agreement: Agreement) -> list[dict]:
        # Filtered in Python: the list view prefetches every target of every agreement once.
        mine = [t for t in agreement.targets.all() if t.metric in self.section.target_metrics]
        return SectionTargetSerializer(mine, many=True, context=self.context).data

    def unknown_field_errors(self, data: Mapping) -> dict[str, list[str]]:
        errors = super().unknown_field_errors(data)
        if "targets" in data:
            errors["targets"] = ["Read-only here: change targets through /api/targets/."]
        for name in self.section.related:
            if name in data:
                errors[name] = ["Read-only in the API for now: edit this list in the portal."]
        return errors


def _section_serializer_class(section: Section) -> type[SectionSerializer]:
    """The serializer of one section, built from SECTIONS so the API cannot drift from it."""
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"{section.number}. {section.title}: {section.summary}",
        "section": section,
    }
    for name in section.related:
        attrs[name] = RELATED_SERIALIZERS[name](many=True, read_only=True)
    for name in section.fields:
        if name in SECTION_RELATION_FIELDS:
            attrs[name] = SECTION_RELATION_FIELDS[name]()
    attrs["Meta"] = type(
        "Meta",
        (),
        {
            "model": Agreement,
            "fields": ["number", "title", *section.fields, *section.related, "targets"],
            "extra_kwargs": {
                f: SECTION_FIELD_LIMITS[f] for f in section.fields if f in SECTION_FIELD_LIMITS
            },
        },
    )
    class_name = "".join(part.title() for part in section.key.split("_")) + "Section"
    return type(SectionSerializer)(class_name, (SectionSerializer,), attrs)


SECTION_SERIALIZERS = {section.key: _section_serializer_class(section) for section in SECTIONS}


class SectionsSerializer(StrictFieldsMixin, serializers.Serializer):
    """The ten ITIL sections of an agreement, keyed by section. On PATCH, send only the
    sections and fields to change."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # source="*": each section reads and writes fields of the agreement itself.
        return {
            key: serializer_class(source="*", required=False)
            for key, serializer_class in SECTION_SERIALIZERS.items()
        }

    def unknown_field_errors(self, data: Mapping) -> dict[str, list[str]]:
        keys = ", ".join(SECTION_SERIALIZERS)
        return {
            key: [f"Unknown section; the sections are: {keys}."]
            for key in data
            if key not in SECTION_SERIALIZERS
        }


class AgreementSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An agreement with its terms and its ten sections.

    PATCH changes the terms and section fields of a draft; `status` follows the lifecycle and
    is read-only here, and so are `customer` and `tier` once the agreement exists."""

    customer = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tier = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    services = ScopedPrimaryKeyRelatedField(
        selector=services_visible_to,
        many=True,
        allow_empty=False,
        help_text="Ids of the services covered.",
    )
    is_editable = serializers.BooleanField(read_only=True, help_text="True while a draft.")
    status_label = serializers.SerializerMethodField(
        help_text="The status in words, e.g. 'Signed, takes effect on 1 Mar 2027'."
    )
    sections = SectionsSerializer(source="*", required=False)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "reference",
            "title",
            "customer",
            "tier",
            "services",
            "effective_from",
            "effective_to",
            "review_interval_months",
            "status",
            "status_label",
            "is_editable",
            "created_at",
            "updated_at",
            "sections",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]
        extra_kwargs = {"review_interval_months": REVIEW_MONTHS}

    def get_status_label(self, agreement: Agreement) -> str:
        return status_of(agreement).label

    def unknown_field_errors(self, data: Mapping) -> dict[str, list[str]]:
        errors = super().unknown_field_errors(data)
        if self.instance is not None and data.get("status", self.instance.status) != (
            self.instance.status
        ):
            errors["status"] = [
                "The status follows the agreement's lifecycle and cannot be set here."
            ]
        return errors

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("effective_from", getattr(self.instance, "effective_from", None))
        end = attrs.get("effective_to", getattr(self.instance, "effective_to", None))
        if start and end and end <= start:
            raise serializers.ValidationError(
                {"effective_to": ["Time-bound: the agreement must end after it starts."]}
            )
        return attrs

    @transaction.atomic
    def update(self, agreement: Agreement, validated_data: dict) -> Agreement:
        lock_editable(self.context["request"].user, agreement)
        many = {
            name: validated_data.pop(name)
            for name in ("services", "service_calendars")
            if name in validated_data
        }
        for field, value in validated_data.items():
            setattr(agreement, field, value)
        # created_by is not editable here; an agreement made without a drafter (imported, or
        # seeded) must still accept changes to its sections.
        full_clean(agreement, section_of=SECTION_OF_FIELD, exclude=("created_by",))
        agreement.save()
        for name, values in many.items():
            getattr(agreement, name).set(values)
        return agreement


class AgreementCreateSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A new draft agreement. With a `tier`, the tier's calendars, charges, maintenance
    policy, targets and credit bands are copied in; every value can be changed afterwards."""

    tier = ScopedSlugRelatedField(
        selector=_active_tiers_visible_to,
        slug_field="slug",
        required=False,
        allow_null=True,
        help_text="Slug of an active tier template; leave out to start empty.",
    )
    customer = ScopedSlugRelatedField(
        selector=_customers_visible_to,
        slug_field="slug",
        help_text="Slug of the customer organisation.",
    )
    services = ScopedPrimaryKeyRelatedField(
        selector=services_visible_to,
        many=True,
        allow_empty=False,
        help_text="Ids of the services covered.",
    )

    class Meta:
        model = Agreement
        fields = [
            "tier",
            "customer",
            "title",
            "reference",
            "services",
            "effective_from",
            "effective_to",
        ]
        extra_kwargs = {
            "reference": {
                "required": False,
                "help_text": "Leave out for the next free SLA-YYYY-NNNN.",
            }
        }

    def validate(self, attrs: dict) -> dict:
        start, end = attrs["effective_from"], attrs.get("effective_to")
        if end and end <= start:
            raise serializers.ValidationError(
                {"effective_to": ["Time-bound: the agreement must end after it starts."]}
            )
        return attrs

    def create(self, validated_data: dict) -> Agreement:
        try:
            return agreement_create_from_tier(
                tier=validated_data.get("tier"),
                customer=validated_data["customer"],
                title=validated_data["title"],
                services=validated_data["services"],
                effective_from=validated_data["effective_from"],
                effective_to=validated_data.get("effective_to"),
                created_by=self.context["request"].user,
                reference=validated_data.get("reference", ""),
            )
        except AgreementError as exc:
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]}
            ) from exc
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc


@extend_schema_field(OpenApiTypes.ANY)
class PlainValueField(serializers.Field):
    """A value as JSON: numbers as exact strings, calendars and other rows by name."""

    def to_representation(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | str):
            return value
        return str(value)


class TierDifferenceSerializer(serializers.Serializer):
    """One value where the agreement departs from its tier template."""

    section = serializers.CharField(help_text="Title of the section the value belongs to.")
    what = serializers.CharField(help_text="The field, target or schedule that differs.")
    tier_value = PlainValueField(allow_null=True)
    agreement_value = PlainValueField(allow_null=True)


class TierDifferencesSerializer(serializers.Serializer):
    """The agreement compared with its tier template (empty without a tier)."""

    tier = serializers.CharField(allow_null=True, help_text="Slug of the agreement's tier.")
    differences = TierDifferenceSerializer(many=True)
