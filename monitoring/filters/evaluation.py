"""Query-string filters of the evaluation API: timers, period results, breaches and alerts.

Agreements and tickets are filtered by plain ids rather than model-choice filters (as in
``agreements.filters``): the querysets are already scoped, so an id of another customer's
agreement simply matches nothing, exactly like an id that does not exist.
"""

from __future__ import annotations

import django_filters
from django.db.models import F, QuerySet

from monitoring.format import state_word
from monitoring.models import Alert, Breach, BurnLevel, Level, PeriodResult, Status, TicketTimer
from sla_portal.core.filters import UtcIsoDateTimeFilter


class DeadlineOrderingFilter(django_filters.OrderingFilter):
    """Ordering by a deadline that may be unknown: deadlines are NULL while a pause goes on,
    and those timers come after the known ones in either direction. ``id`` keeps pages stable
    between equal deadlines."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return qs
        order = []
        for param in value:
            name = self.get_ordering_value(param)
            column = F(name.lstrip("-"))
            ordered = column.desc if name.startswith("-") else column.asc
            order.append(ordered(nulls_last=True))
        return qs.order_by(*order, "id")


TICKET_METRICS = [("response_time", "Response time"), ("resolution_time", "Resolution time")]


class TicketTimerFilter(django_filters.FilterSet):
    ticket = django_filters.NumberFilter(field_name="ticket", help_text="Id of the ticket.")
    ticket_external_id = django_filters.CharFilter(
        field_name="ticket__external_id", help_text="The ticket's id in the service desk."
    )
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    state = django_filters.ChoiceFilter(choices=Status.choices, help_text="Timer state.")
    metric = django_filters.ChoiceFilter(
        choices=TICKET_METRICS, help_text="Which clock: first response or resolution."
    )
    open = django_filters.BooleanFilter(
        field_name="stopped_at",
        lookup_expr="isnull",
        help_text="`true`: only clocks still running or paused; `false`: only stopped ones.",
    )
    ordering = DeadlineOrderingFilter(
        fields=(("threshold_due_at", "threshold_due_at"), ("started_at", "started_at")),
        help_text=(
            "`threshold_due_at` lists the tickets closest to a breach first (unknown deadlines "
            "last); `-started_at` the newest first."
        ),
    )

    class Meta:
        model = TicketTimer
        fields = ["ticket", "ticket_external_id", "agreement", "state", "metric", "open"]


class PeriodResultFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    target_key = django_filters.CharFilter(
        field_name="target_key", help_text="The target's key, as in `target_key` of a result."
    )
    status = django_filters.ChoiceFilter(choices=Status.choices, help_text="Period verdict.")
    period_start_after = UtcIsoDateTimeFilter(
        field_name="period_start",
        lookup_expr="gte",
        help_text="Periods starting at or after (ISO-8601).",
    )
    period_start_before = UtcIsoDateTimeFilter(
        field_name="period_start", lookup_expr="lt", help_text="Periods starting before (ISO-8601)."
    )
    closed = django_filters.BooleanFilter(
        field_name="closed_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="`true`: only closed (frozen) periods; `false`: only the running ones.",
    )

    class Meta:
        model = PeriodResult
        fields = [
            "agreement",
            "target_key",
            "status",
            "period_start_after",
            "period_start_before",
            "closed",
        ]


BREACH_LEVELS = [
    (level.value, state_word(level.value)) for level in (Level.MISSED_TARGET, Level.BREACHED)
]


class BreachFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    level = django_filters.ChoiceFilter(
        choices=BREACH_LEVELS, help_text="Target missed, or threshold breached."
    )
    open = django_filters.BooleanFilter(
        field_name="closed_at",
        lookup_expr="isnull",
        help_text="`true`: only breaches whose ticket or period is still running.",
    )

    class Meta:
        model = Breach
        fields = ["agreement", "level", "open"]


class AlertFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    level = django_filters.ChoiceFilter(
        choices=Level.choices + BurnLevel.choices,
        help_text="Alert level; burn_page, burn_warn and burn_recovered are burn-rate alerts.",
    )
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="`false`: only alerts nobody has acknowledged yet.",
    )
    emailed = django_filters.BooleanFilter(
        field_name="emailed",
        help_text="`false`: alerts recorded quietly because their moment lay too far back.",
    )

    class Meta:
        model = Alert
        fields = ["agreement", "level", "acknowledged", "emailed"]
