"""Serializers of SMART targets: an agreement's targets, and a tier's targets and credit bands."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction
from rest_framework import serializers

from agreements.burn_rules import burn_rule_messages, parse_rules
from agreements.models import Agreement, Target, TierCreditBand, TierTarget
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.sections import section_for_metric
from agreements.selectors import agreements_visible_to, calendars_visible_to, services_visible_to
from agreements.serializers.common import (
    ScopedPrimaryKeyRelatedField,
    StrictFieldsMixin,
    full_clean,
    lock_editable,
    not_editable_reason,
)
from agreements.services.drafting import next_target_position
from agreements.smart import DEFAULT_SOURCE, DEFAULT_UNIT, FIXED_DIRECTION, TargetSpec, smart_errors

TARGET_FIELDS = [*TARGET_SPEC_FIELDS, "position"]


class TierTargetSerializer(serializers.ModelSerializer):
    """A default target of a tier, copied into each agreement created from the tier."""

    class Meta:
        model = TierTarget
        fields = ["id", *TARGET_FIELDS, "burn_rules"]
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
        fields = ["id", "label", "service", *TARGET_FIELDS, "burn_rules"]
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
    burn_rules = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text=(
            "Burn-rate alert rules (docs/burn-rates.md): a list of objects with name, severity "
            "(page or warn), long_seconds, short_seconds (of service time) and factor. Empty "
            "or null: the default set, scaled to the period."
        ),
    )

    class Meta:
        model = Target
        fields = ["id", "agreement", "section", "label", "service", *TARGET_FIELDS, "burn_rules"]
        extra_kwargs = {
            "unit": {"required": False, "allow_blank": True},
            "direction": {"required": False, "allow_blank": True},
            "data_source": {"required": False, "allow_blank": True},
            "position": {"required": False},
        }

    def get_section(self, target: Target) -> str:
        return section_for_metric(target.metric).key

    def validate_burn_rules(self, value: object) -> object:
        _rules, errors = parse_rules(value)
        if errors:
            raise serializers.ValidationError(burn_rule_messages(errors))
        return value or None

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
