"""REST endpoint of an agreement's audit trail."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from agreements.api.lifecycle import AGREEMENT_PK, NOT_FOUND, AgreementRowsMixin, response_examples
from agreements.models import Agreement, AuditEvent
from agreements.serializers.lifecycle import AuditEventSerializer

AUDIT_EXAMPLE = {
    "id": 311,
    "at": "2026-01-09T16:40:12Z",
    "actor_name": "Carol Customer",
    "action": "signed",
    "object_type": "agreementversion",
    "object_repr": "SLA-2026-0007 v2",
    "before": None,
    "after": None,
    "message": "Carol Customer (Head of IT, Acme Logistics) signed version 2",
}
TRANSITION_AUDIT_EXAMPLE = {
    "id": 310,
    "at": "2026-01-08T14:02:00Z",
    "actor_name": "Carol Customer",
    "action": "transition",
    "object_type": "agreement",
    "object_repr": "",
    "before": {"status": "in_negotiation"},
    "after": {"status": "agreed"},
    "message": "Agreed on version 2; awaiting signatures",
}


@extend_schema_view(
    list=extend_schema(
        summary="Audit trail of an agreement",
        description=(
            "Every change to the agreement and its parts and every lifecycle step, newest "
            "first: who, when, what, and the values before and after. The trail is "
            "append-only. Filter with `?action=` (e.g. `signed`, `transition`) or "
            "`?object_type=`."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: AuditEventSerializer(many=True), 404: NOT_FOUND},
        examples=[
            *response_examples("Signature", AUDIT_EXAMPLE),
            *response_examples("Transition", TRANSITION_AUDIT_EXAMPLE),
        ],
    )
)
class AgreementHistoryViewSet(AgreementRowsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail of one agreement."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_fields = ["action", "object_type"]

    def rows(self, agreement: Agreement) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(agreement=agreement).order_by("-at", "-id")
