"""Query-string filters of the monitoring pages (tickets list, check history).

The agreement choice lists only the agreements the user may see, so an id of another
customer's agreement is rejected exactly like an id that does not exist.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from agreements.choices import Priority
from agreements.models import Agreement
from agreements.selectors import agreements_visible_to
from monitoring.models import Ticket, UptimeCheck

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def _visible_agreements(request: HttpRequest | None) -> QuerySet[Agreement]:
    if request is None:
        return Agreement.objects.none()
    return agreements_visible_to(request.user).order_by("reference")


class TicketListFilter(django_filters.FilterSet):
    """Filters of the tickets list; needs ``request`` for the agreement choices."""

    q = django_filters.CharFilter(method="search", label="Search")
    agreement = django_filters.ModelChoiceFilter(
        queryset=_visible_agreements, empty_label="Any agreement"
    )
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="Any priority")
    state = django_filters.ChoiceFilter(choices=Ticket.State.choices, empty_label="Any state")
    opened_from = django_filters.DateFilter(
        field_name="opened_at", lookup_expr="date__gte", label="Opened from", widget=DATE_INPUT
    )
    opened_to = django_filters.DateFilter(
        field_name="opened_at", lookup_expr="date__lte", label="Opened to", widget=DATE_INPUT
    )

    class Meta:
        model = Ticket
        fields = ["q", "agreement", "priority", "state", "opened_from", "opened_to"]

    def search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """External id or category containing the text."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(external_id__icontains=value) | Q(category__icontains=value))


class CheckHistoryFilter(django_filters.FilterSet):
    """Filters of a service's check history: status and a date range."""

    status = django_filters.ChoiceFilter(
        choices=UptimeCheck.Status.choices, empty_label="Any status"
    )
    checked_from = django_filters.DateFilter(
        field_name="checked_at", lookup_expr="date__gte", label="From", widget=DATE_INPUT
    )
    checked_to = django_filters.DateFilter(
        field_name="checked_at", lookup_expr="date__lte", label="To", widget=DATE_INPUT
    )

    class Meta:
        model = UptimeCheck
        fields = ["status", "checked_from", "checked_to"]
