"""django-filter sets of the reporting API."""

from __future__ import annotations

import django_filters

from reporting.models import Report


class ReportFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    month = django_filters.DateFilter(
        field_name="month",
        help_text="First day of the reported month, e.g. `2026-10-01`.",
    )
    month_from = django_filters.DateFilter(
        field_name="month", lookup_expr="gte", help_text="Months from this one on."
    )
    month_to = django_filters.DateFilter(
        field_name="month", lookup_expr="lte", help_text="Months up to this one."
    )
    status = django_filters.ChoiceFilter(
        choices=Report.Status.choices,
        help_text="`draft` (provider staff only) or `issued`.",
    )
    current = django_filters.BooleanFilter(
        field_name="superseded_by",
        lookup_expr="isnull",
        help_text="`true`: only the latest revision of each month (no superseded ones).",
    )

    class Meta:
        model = Report
        fields = ["agreement", "month", "month_from", "month_to", "status", "current"]
