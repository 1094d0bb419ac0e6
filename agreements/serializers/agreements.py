"""Serializers of agreements: the agreement with its ten sections, creating one from a tier,
and its differences from the tier."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from agreements.models import Agreement, CreditBand, PriorityDefinition, Signatory, SupportChannel
from agreements.sections import SECTIONS, Section
from agreements.selectors import calendars_visible_to, services_visible_to
from agreements.serializers.common import (
    MONEY,
    PERCENT,
    REVIEW_MONTHS,
    ScopedPrimaryKeyRelatedField,
    ScopedSlugRelatedField,
    StrictFieldsMixin,
    active_tiers_visible_to,
    customers_visible_to,
    django_errors,
    full_clean,
    lock_editable,
)
from agreements.serializers.targets import SectionTargetSerializer
from agreements.services.drafting import AgreementError, agreement_create_from_tier
from agreements.status import status_of

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
        selector=active_tiers_visible_to,
        slug_field="slug",
        required=False,
        allow_null=True,
        help_text="Slug of an active tier template; leave out to start empty.",
    )
    customer = ScopedSlugRelatedField(
        selector=customers_visible_to,
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
