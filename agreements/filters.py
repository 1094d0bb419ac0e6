"""Query-string filters of the agreements API.

Related rows are filtered by slug or id with plain filters rather than model-choice filters:
a model-choice filter validates against every row in the table, so an unknown id and an id of
another customer's row would answer differently and reveal that the row exists.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from agreements.choices import Criticality, Metric, Priority
from agreements.models import Agreement, Service, Target
from agreements.sections import SECTIONS, SECTIONS_BY_KEY


class ServiceFilter(django_filters.FilterSet):
    criticality = django_filters.ChoiceFilter(
        choices=Criticality.choices, help_text="Only services of this criticality."
    )

    class Meta:
        model = Service
        fields = ["criticality"]


class AgreementFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(
        field_name="customer__slug", help_text="Slug of the customer organisation, e.g. `acme`."
    )
    status = django_filters.ChoiceFilter(
        choices=Agreement.Status.choices, help_text="Only agreements in this state."
    )
    tier = django_filters.CharFilter(
        field_name="tier__slug", help_text="Slug of the tier template, e.g. `gold`."
    )
    service = django_filters.NumberFilter(
        field_name="services", help_text="Id of a service the agreement covers."
    )

    class Meta:
        model = Agreement
        fields = ["customer", "status", "tier", "service"]


class TargetFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    metric = django_filters.ChoiceFilter(choices=Metric.choices, help_text="What is measured.")
    priority = django_filters.ChoiceFilter(
        choices=Priority.choices, help_text="Ticket priority of response/resolution targets."
    )
    section = django_filters.ChoiceFilter(
        choices=[(section.key, section.title) for section in SECTIONS],
        method="filter_section",
        help_text="Only targets of this agreement section.",
    )
    service = django_filters.NumberFilter(field_name="service", help_text="Id of the service.")

    class Meta:
        model = Target
        fields = ["agreement", "metric", "priority", "section", "service"]

    def filter_section(self, queryset: QuerySet[Target], name: str, value: str) -> QuerySet:
        return queryset.filter(metric__in=SECTIONS_BY_KEY[value].target_metrics)
