"""REST endpoints of service desk tickets as ingested (read-only)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from agreements.api.agreements import NOT_FOUND
from monitoring.models import Ticket
from monitoring.selectors.ingest import ticket_with_history, tickets_visible_to
from monitoring.serializers.ingest import TicketDetailSerializer, TicketSerializer
from sla_portal.core.api.people import ScopedViewSetMixin
from sla_portal.core.filters import UtcIsoDateTimeFilter
from sla_portal.core.models import User

# --- Examples shown in the OpenAPI schema --------------------------------------------------

TICKET_EXAMPLE = {
    "id": 812,
    "source": 4,
    "external_id": "INC0012345",
    "customer": "acme",
    "agreement": 7,
    "agreement_reference": "SLA-2026-0007",
    "service": None,
    "service_name": None,
    "priority": "P2",
    "category": "Incident",
    "state": "resolved",
    "opened_at": "2026-03-02T08:14:00Z",
    "first_response_at": "2026-03-02T08:31:00Z",
    "resolved_at": "2026-03-02T14:02:00Z",
    "closed_at": None,
    "reopen_count": 0,
    "csat": 5,
    "changed_at": "2026-03-02T14:05:11Z",
}
TICKET_DETAIL_EXAMPLE = {
    **TICKET_EXAMPLE,
    "pauses": [
        {"start": "2026-03-02T09:05:00Z", "end": "2026-03-02T10:40:00Z", "reason": "Awaiting"}
    ],
    "status_history": [
        {"at": "2026-03-02T08:14:00Z", "status": "New", "pauses_clock": False, "resolves": False}
    ],
}


class TicketFilter(django_filters.FilterSet):
    agreement = django_filters.NumberFilter(
        field_name="agreement", help_text="Id of the agreement."
    )
    source = django_filters.NumberFilter(field_name="source", help_text="Id of the source.")
    priority = django_filters.ChoiceFilter(
        choices=[(p, p) for p in ("P1", "P2", "P3", "P4")], help_text="Ticket priority."
    )
    state = django_filters.ChoiceFilter(choices=Ticket.State.choices, help_text="Ticket state.")
    opened_after = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", help_text="Opened at or after (ISO-8601)."
    )
    opened_before = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="lt", help_text="Opened before (ISO-8601)."
    )

    class Meta:
        model = Ticket
        fields = ["agreement", "source", "priority", "state", "opened_after", "opened_before"]


@extend_schema_view(
    list=extend_schema(
        examples=[OpenApiExample("Ticket", value=TICKET_EXAMPLE, response_only=True)]
    ),
    retrieve=extend_schema(
        examples=[OpenApiExample("Ticket", value=TICKET_DETAIL_EXAMPLE, response_only=True)],
        responses={200: TicketDetailSerializer, 404: NOT_FOUND},
    ),
)
class TicketViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Service desk tickets as ingested, newest first; a customer sees its own. The detail
    carries the status history and the pauses derived from it."""

    filterset_class = TicketFilter
    queryset = Ticket.objects.none()  # for the schema; rows come from the selector

    def selector(self, user: User) -> QuerySet[Ticket]:
        if self.action == "retrieve":
            return ticket_with_history(user)
        return tickets_visible_to(user)

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer
