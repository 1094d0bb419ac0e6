"""SMART targets and service-credit bands, for tiers (defaults) and agreements."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from agreements.burn_rules import burn_rule_messages, parse_rules
from agreements.choices import DataSource, Direction, Metric, Period, Priority, Unit
from agreements.smart import TargetSpec, smart_errors
from sla_portal.core.scoping import ScopedManager

# The fields that say what a target is (tier defaults and agreement targets alike), in the
# order forms, the admin and the API show them.
TARGET_SPEC_FIELDS = (
    "metric",
    "name",
    "priority",
    "error_category",
    "target_value",
    "threshold_value",
    "unit",
    "direction",
    "period",
    "calendar",
    "compliance_target",
    "compliance_threshold",
    "warning_percent",
    "data_source",
    "min_responses",
)


def target_constraints() -> list[models.BaseConstraint]:
    """The SMART invariants the database itself guards (names per concrete model)."""
    return [
        # The threshold of unacceptable service is never better than the target.
        models.CheckConstraint(
            condition=(
                Q(direction="lower", threshold_value__gte=F("target_value"))
                | Q(direction="higher", threshold_value__lte=F("target_value"))
            ),
            name="%(app_label)s_%(class)s_threshold_not_better",
        ),
        models.CheckConstraint(
            condition=~Q(unit="percent")
            | Q(
                target_value__gte=0,
                target_value__lte=100,
                threshold_value__gte=0,
                threshold_value__lte=100,
            ),
            name="%(app_label)s_%(class)s_percent_range",
        ),
        models.CheckConstraint(
            condition=~Q(unit__in=["minutes", "hours", "seconds", "ms"])
            | Q(target_value__gt=0, threshold_value__gt=0),
            name="%(app_label)s_%(class)s_time_positive",
        ),
        models.CheckConstraint(
            condition=Q(compliance_target__isnull=True)
            | Q(
                compliance_target__gt=0,
                compliance_target__lte=100,
                compliance_threshold__gt=0,
                compliance_threshold__lte=F("compliance_target"),
            ),
            name="%(app_label)s_%(class)s_compliance_range",
        ),
        models.CheckConstraint(
            condition=Q(warning_percent__gt=0, warning_percent__lt=100),
            name="%(app_label)s_%(class)s_warning_range",
        ),
        # Experience targets (docs/experience.md): a CSAT is a mean of 1-5 ratings, an NPS
        # lies in -100..100, and both need a minimum sample before a verdict.
        models.CheckConstraint(
            condition=~Q(metric="csat")
            | Q(target_value__gte=1, target_value__lte=5, threshold_value__gte=1),
            name="%(app_label)s_%(class)s_csat_range",
        ),
        models.CheckConstraint(
            condition=~Q(metric="nps")
            | Q(target_value__gte=-100, target_value__lte=100, threshold_value__gte=-100),
            name="%(app_label)s_%(class)s_nps_range",
        ),
        models.CheckConstraint(
            condition=~Q(metric__in=["csat", "nps"]) | Q(min_responses__gte=1),
            name="%(app_label)s_%(class)s_experience_sample",
        ),
    ]


class TargetFields(models.Model):
    """What a SMART target is, shared by tier defaults and agreement targets."""

    metric = models.CharField(max_length=32, choices=Metric.choices)
    name = models.CharField(
        max_length=160, blank=True, help_text="Label, required for performance/custom values."
    )
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    error_category = models.CharField(max_length=80, blank=True)
    target_value = models.DecimalField(max_digits=12, decimal_places=3)
    threshold_value = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="The limit of acceptable service."
    )
    unit = models.CharField(max_length=16, choices=Unit.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    calendar = models.ForeignKey(
        "agreements.Calendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Business hours the clock runs in; empty means 24x7.",
    )
    compliance_target = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Ticket targets: % of tickets that should meet the target.",
    )
    compliance_threshold = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Ticket targets: below this % of tickets is a breach.",
    )
    warning_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("75"),
        help_text="Warn when this share of the allowed time is used.",
    )
    data_source = models.CharField(max_length=24, choices=DataSource.choices)
    min_responses = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="CSAT and NPS targets: responses a period needs before it gets a verdict.",
    )
    # Multi-window burn-rate alert rules (docs/burn-rates.md); empty: the default set, scaled
    # to the period. Validated by ``agreements.burn_rules``.
    burn_rules = models.JSONField(
        "burn-rate rules",
        null=True,
        blank=True,
        help_text="Burn-rate alert rules; empty means the default set scaled to the period.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "metric", "priority", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        scope = self.priority or self.error_category
        return f"{self.get_metric_display()}{f' ({scope})' if scope else ''}"

    @property
    def scope_key(self) -> tuple[str, str, str, str]:
        """What makes two targets 'the same target' (used to compare with the tier)."""
        return (self.metric, self.priority, self.error_category, self.name)

    def spec(self) -> TargetSpec:
        return TargetSpec(
            metric=self.metric,
            target_value=self.target_value,
            threshold_value=self.threshold_value,
            unit=self.unit,
            direction=self.direction,
            period=self.period,
            data_source=self.data_source,
            name=self.name,
            priority=self.priority,
            error_category=self.error_category,
            compliance_target=self.compliance_target,
            compliance_threshold=self.compliance_threshold,
            warning_percent=self.warning_percent,
            min_responses=self.min_responses,
        )

    def clean(self) -> None:
        super().clean()
        errors = smart_errors(self.spec())
        _rules, burn_errors = parse_rules(self.burn_rules)
        if burn_errors:
            errors = {**errors, "burn_rules": burn_rule_messages(burn_errors)}
        if errors:
            raise ValidationError(errors)


class TierTarget(TargetFields):
    tier = models.ForeignKey("agreements.Tier", on_delete=models.CASCADE, related_name="targets")

    class Meta(TargetFields.Meta):
        constraints = target_constraints()


class Target(TargetFields):
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="targets"
    )
    service = models.ForeignKey(
        "agreements.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="targets",
        help_text="Empty: every service of the agreement.",
    )
    calendar = models.ForeignKey(
        "agreements.Calendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="targets",
        help_text="Business hours the clock runs in; empty means 24x7.",
    )

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta(TargetFields.Meta):
        constraints = target_constraints()
        indexes = [models.Index(fields=["agreement", "metric"], name="target_agreement_metric")]


class CreditBandFields(models.Model):
    """Achieved value below ``achieved_below`` earns ``credit_percent`` of the period fee."""

    metric = models.CharField(max_length=32, choices=Metric.choices, default=Metric.AVAILABILITY)
    achieved_below = models.DecimalField(max_digits=7, decimal_places=3)
    credit_percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        abstract = True
        ordering = ["metric", "-achieved_below"]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} below {self.achieved_below}: {self.credit_percent}%"


def credit_constraints() -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(credit_percent__gte=0, credit_percent__lte=100),
            name="%(app_label)s_%(class)s_credit_range",
        ),
    ]


class TierCreditBand(CreditBandFields):
    tier = models.ForeignKey(
        "agreements.Tier", on_delete=models.CASCADE, related_name="credit_bands"
    )

    class Meta(CreditBandFields.Meta):
        constraints = credit_constraints()


class CreditBand(CreditBandFields):
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="credit_bands"
    )

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta(CreditBandFields.Meta):
        constraints = [
            *credit_constraints(),
            models.UniqueConstraint(
                fields=["agreement", "metric", "achieved_below"], name="creditband_unique_step"
            ),
        ]


class PriorityDefinition(models.Model):
    """What P1-P4 mean for this agreement (support levels section)."""

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="priority_definitions"
    )
    priority = models.CharField(max_length=2, choices=Priority.choices)
    name = models.CharField(max_length=60)
    meaning = models.TextField()

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "priority"], name="prioritydef_unique")
        ]

    def __str__(self) -> str:
        return f"{self.priority} {self.name}"
