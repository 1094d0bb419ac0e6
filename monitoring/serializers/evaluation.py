"""Explicit serializers of the evaluation API: ticket timers, period results, breaches, alerts.

Everything here is read-only except a breach's ``root_cause``, which is written through
``monitoring.evaluation.actions.breach_root_cause_set``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agreements.serializers.common import StrictFieldsMixin
from monitoring.compliance.budgets import DOWNTIME, ERRORS, EXCESS, TICKETS, Budget
from monitoring.format import state_word
from monitoring.models import Alert, Breach, PeriodResult, TicketTimer
from monitoring.presentation import LEVEL_CHOICES, STATUS_CHOICES


class NamedChoiceField(serializers.ChoiceField):
    """A choice field published as its own named enum component in the OpenAPI schema.

    drf-spectacular names enums after the field, so a timer ``state`` or a period ``status``
    would collide with the ticket's ``StateEnum`` and the agreement's ``StatusEnum`` and
    rename them in the published schema; a named component keeps both apart.
    """

    def __init__(self, *, component: str, **kwargs: Any) -> None:
        self.component = component
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema, direction):
        field: NamedChoiceField = self.target
        choices = list(field.choices.items())
        component = ResolvedComponent(
            name=field.component,
            type=ResolvedComponent.SCHEMA,
            object=field.component,
            schema={
                "type": "string",
                "enum": [value for value, _ in choices],
                "description": "\n".join(f"* `{value}` - {label}" for value, label in choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def status_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(
        component="EvaluationStatusEnum", choices=STATUS_CHOICES, read_only=True, **kwargs
    )


def word_field(source: str) -> serializers.SerializerMethodField:
    """The state in words, as every page and email says it (``format.state_word``)."""
    return serializers.SerializerMethodField(
        help_text=f"`{source}` in the words the pages and emails use (e.g. 'At risk')."
    )


def level_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(
        component="AlertLevelEnum", choices=LEVEL_CHOICES, read_only=True, **kwargs
    )


class TicketTimerSerializer(serializers.ModelSerializer):
    """One response or resolution clock of one ticket. Business seconds are as of
    ``evaluated_at``; the timer is evaluated again whenever the ticket changes and at each of
    its deadlines, so ``state`` is current."""

    ticket_external_id = serializers.CharField(source="ticket.external_id", read_only=True)
    ticket_priority = serializers.CharField(source="ticket.priority", read_only=True)
    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    state = status_field()
    state_text = word_field("state")
    remaining_seconds = serializers.SerializerMethodField(
        help_text="Business seconds left until the target (negative: overdue by that much)."
    )
    threshold_remaining_seconds = serializers.SerializerMethodField(
        help_text="Business seconds left until the threshold (negative: breached by that much)."
    )

    class Meta:
        model = TicketTimer
        fields = [
            "id",
            "ticket",
            "ticket_external_id",
            "ticket_priority",
            "agreement",
            "agreement_reference",
            "target_key",
            "target_label",
            "metric",
            "calendar_name",
            "state",
            "state_text",
            "started_at",
            "warning_at",
            "due_at",
            "threshold_due_at",
            "stopped_at",
            "decided_at",
            "target_seconds",
            "threshold_seconds",
            "used_seconds",
            "remaining_seconds",
            "threshold_remaining_seconds",
            "evaluated_at",
        ]
        read_only_fields = fields

    def get_state_text(self, timer: TicketTimer) -> str:
        return state_word(timer.state)

    def get_remaining_seconds(self, timer: TicketTimer) -> float:
        return timer.target_seconds - timer.used_seconds

    def get_threshold_remaining_seconds(self, timer: TicketTimer) -> float:
        return timer.threshold_seconds - timer.used_seconds


class BudgetSerializer(serializers.Serializer):
    """A period's error budget in the target's own unit (``docs/budgets.md``)."""

    kind = NamedChoiceField(
        component="BudgetKindEnum",
        choices=[
            (DOWNTIME, "Seconds of downtime in the counted service time"),
            (TICKETS, "Tickets that may miss the time target"),
            (ERRORS, "Errors"),
            (EXCESS, "Excess of the slow samples over the target, in the value's unit"),
        ],
        read_only=True,
    )
    unit = serializers.CharField(
        read_only=True, help_text="seconds, tickets, errors or the value's unit."
    )
    allowed = serializers.FloatField(
        read_only=True, help_text="What the target allows in the period."
    )
    allowed_threshold = serializers.FloatField(
        read_only=True, help_text="What the threshold allows in the period."
    )
    consumed = serializers.FloatField(read_only=True, help_text="What went wrong so far.")
    remaining = serializers.FloatField(
        source="left",
        read_only=True,
        help_text="`allowed - consumed`: what may still go wrong before the target "
        "(0 where usage is at the allowance within the verdict's slack).",
    )
    remaining_threshold = serializers.FloatField(
        source="left_threshold",
        read_only=True,
        help_text="`allowed_threshold - consumed`: before the threshold.",
    )
    samples_left = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Performance budgets: how many more samples exactly at the threshold still "
        "fit before the target is missed; null for other kinds.",
    )
    ran_out_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the target's budget ran out: kept as first found while its cause "
        "stands; null for a closed period that met the target.",
    )
    threshold_ran_out_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the threshold's budget ran out."
    )
    basis = serializers.DictField(
        read_only=True,
        help_text="How the allowance was found: expected tickets, samples, counted seconds.",
    )


class ForecastSerializer(serializers.Serializer):
    """The period-end forecast of an open period (``docs/forecasts.md``)."""

    value = serializers.FloatField(help_text="Forecast value at the period's end, in `unit`.")
    low = serializers.FloatField(help_text="Lower end of the 80 % band.")
    high = serializers.FloatField(help_text="Upper end of the 80 % band.")
    unit = serializers.CharField()
    predicted = serializers.ChoiceField(
        choices=["met", "predicted_miss", "predicted_breach"],
        help_text="The state the forecast predicts for the period's end.",
    )
    confidence = serializers.FloatField(help_text="How likely the predicted state is, 0 to 1.")
    chance_missed = serializers.FloatField(help_text="Chance of missing the target, 0 to 1.")
    chance_breached = serializers.FloatField(help_text="Chance of breaching the threshold.")
    progress = serializers.FloatField(help_text="Share of the period's counted time seen.")
    seasonal = serializers.BooleanField(help_text="Whether an hour-of-week profile was used.")
    made_at = serializers.DateTimeField()
    crossed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the forecast first crossed into the predicted state (null for met).",
    )


def forecast_data(row: PeriodResult) -> dict | None:
    """The forecast stored with an open period, as ``ForecastSerializer`` shows it."""
    made = (row.details or {}).get("forecast")
    if not made or row.closed_at is not None:
        return None
    crossed = (made.get("crossed") or {}).get(made["predicted"])
    fields = ForecastSerializer().fields
    data = {name: made.get(name) for name in fields if name != "crossed_at"}
    return ForecastSerializer({**data, "crossed_at": crossed}).data


class PeriodResultSerializer(serializers.ModelSerializer):
    """A target's achieved value in one measurement period; frozen once ``closed_at`` is set."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    status = status_field()
    status_text = word_field("status")
    budget = serializers.SerializerMethodField(
        help_text="The period's error budget; null for targets without one (CSAT, NPS, recovery)."
    )
    forecast = serializers.SerializerMethodField()

    def get_status_text(self, row: PeriodResult) -> str:
        return state_word(row.status)

    @extend_schema_field(BudgetSerializer(allow_null=True))
    def get_budget(self, row: PeriodResult) -> dict | None:
        data = (row.details or {}).get("budget")
        budget = Budget.from_dict(data) if isinstance(data, dict) else None
        return BudgetSerializer(budget).data if budget is not None else None

    @extend_schema_field(ForecastSerializer(allow_null=True))
    def get_forecast(self, row: PeriodResult) -> dict | None:
        return forecast_data(row)

    class Meta:
        model = PeriodResult
        fields = [
            "id",
            "agreement",
            "agreement_reference",
            "target_key",
            "target_label",
            "metric",
            "unit",
            "direction",
            "target_value",
            "threshold_value",
            "compliance_target",
            "compliance_threshold",
            "period",
            "period_start",
            "period_end",
            "value",
            "value_unit",
            "goal_target",
            "goal_threshold",
            "status",
            "status_text",
            "final",
            "budget",
            "details",
            "burn",
            "evaluated_at",
            "closed_at",
            "forecast",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "burn": {
                "help_text": "Burn-rate rules at the last computation (docs/burn-rates.md): "
                "`rules` with each one's windows, rates, factor and `firing`; `moments`, when "
                "a rule next fires or recovers by time alone."
            }
        }


class BreachSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A missed target of one ticket or one period. Only ``root_cause`` is written (by the
    provider); the other fields may be sent back unchanged."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    ticket_external_id = serializers.CharField(
        source="ticket.external_id", read_only=True, allow_null=True, default=None
    )
    period_start = serializers.DateTimeField(
        source="period_result.period_start", read_only=True, allow_null=True, default=None
    )
    level = level_field()
    level_text = word_field("level")

    def get_level_text(self, row: Alert | Breach) -> str:
        return state_word(row.level)

    root_cause = serializers.CharField(
        allow_blank=True, help_text="What caused the breach, for the review (provider only)."
    )
    root_cause_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Breach
        fields = [
            "id",
            "agreement",
            "agreement_reference",
            "target_key",
            "target_label",
            "ticket",
            "ticket_external_id",
            "period_result",
            "period_start",
            "level",
            "level_text",
            "opened_at",
            "closed_at",
            "value_text",
            "root_cause",
            "root_cause_by",
            "root_cause_at",
        ]
        read_only_fields = [name for name in fields if name != "root_cause"]


class DeliverySerializer(serializers.Serializer):
    """How the alert's emails (``core.Notification`` rows keyed ``alert:<id>``) fared."""

    sent = serializers.IntegerField(source="delivery_sent", read_only=True)
    pending = serializers.IntegerField(
        source="delivery_pending",
        read_only=True,
        help_text="Waiting to be sent (or to be retried), or being sent right now.",
    )
    failed = serializers.IntegerField(
        source="delivery_failed", read_only=True, help_text="Given up after the last retry."
    )


class AlertSerializer(serializers.ModelSerializer):
    """One level reached by one ticket target or period, with how its emails fared.

    ``delivery`` reads the counts ``alerts_visible_to`` annotates (one query per page)."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    ticket_external_id = serializers.CharField(
        source="ticket.external_id", read_only=True, allow_null=True, default=None
    )
    period_start = serializers.DateTimeField(
        source="period_result.period_start", read_only=True, allow_null=True, default=None
    )
    level = level_field()
    level_text = word_field("level")

    def get_level_text(self, row: Alert | Breach) -> str:
        return state_word(row.level)

    acknowledged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    delivery = DeliverySerializer(source="*", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "agreement",
            "agreement_reference",
            "target_key",
            "target_label",
            "ticket",
            "ticket_external_id",
            "period_result",
            "period_start",
            "breach",
            "level",
            "level_text",
            "burn_rule",
            "reached_at",
            "raised_at",
            "due_at",
            "zone",
            "value_text",
            "emailed",
            "quiet_reason",
            "notified_at",
            "acknowledged_by",
            "acknowledged_at",
            "delivery",
        ]
        read_only_fields = fields
