"""REST endpoints of the agreement lifecycle: its state and the transitions.

Every endpoint hangs under one agreement (``/api/agreements/<id>/...``) and finds it through
``agreements_visible_to(request.user)`` (``AgreementRowsMixin`` here, shared by the versions,
comments, history and reviews endpoints), so an agreement of another organisation answers 404
exactly like one that does not exist. Writes go through ``agreements.services.lifecycle``,
which checks the state machine and the person's role; a refused step answers 409 with the
service's own sentence.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agreements import lifecycle as machine
from agreements.lifecycle import TransitionError
from agreements.models import Agreement
from agreements.selectors import agreements_visible_to
from agreements.serializers.common import Conflict
from agreements.serializers.lifecycle import (
    FIELDS_OF_ACTION,
    LifecycleStateSerializer,
    TransitionSerializer,
)
from agreements.services import lifecycle as services
from agreements.services import parties as party_services
from agreements.services import reviews as review_services
from agreements.services.lifecycle import IncompleteProposal
from agreements.status import status_of
from sla_portal.core.models import User

NO_AGREEMENT = "No Agreement matches the given query."

# --- Examples shown in the OpenAPI schema --------------------------------------------------

AGREEMENT_PK = OpenApiParameter(
    "agreement_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="Id of the agreement.",
)
NOT_FOUND = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="No such agreement, or not visible to you (the two answer alike).",
    examples=[OpenApiExample("Not found", value={"detail": NO_AGREEMENT})],
)


def _refusal(action_name: str, state: str, roles: set[str]) -> str:
    """The state machine's own sentence for a refused step, so examples cannot drift."""
    try:
        machine.check(action_name, state, roles)
    except TransitionError as exc:
        return str(exc)
    raise AssertionError(f"{action_name} from {state} is allowed")  # pragma: no cover


STATE_EXAMPLE = {
    "status": "in_negotiation",
    "status_label": "In negotiation",
    "signed": False,
    "takes_effect_on": None,
    "stage": "negotiate",
    "latest_version": 2,
    "in_force_version": None,
    "available_actions": [
        {"action": "request_changes", "label": "Request changes"},
        {"action": "accept", "label": "Accept this version"},
    ],
}
TRANSITION_REQUESTS = {
    "Propose": {"action": "propose", "note": "P1 response time relaxed to 20 minutes."},
    "Request changes": {
        "action": "request_changes",
        "section": "support",
        "body": "We need P1 response within 15 minutes around the clock.",
    },
    "Accept": {"action": "accept", "version": 2},
    "Sign": {"action": "sign"},
    "Start review": {"action": "start_review"},
    "Renegotiate after review": {
        "action": "renegotiate",
        "findings": "Availability missed in March (99.2%).",
        "root_causes": "A storage controller failed twice.",
        "lessons": "Spare controllers on site.",
        "actions": [
            {
                "description": "Add a second storage controller",
                "owner": "alice_manager",
                "due_date": "2026-06-30",
            }
        ],
    },
}
TRANSITION_FORBIDDEN = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The step is not yours to take (your role or side); the reason says why.",
    examples=[
        OpenApiExample(
            "Not a customer approver",
            value={"action": [_refusal("accept", machine.IN_NEGOTIATION, set())]},
        ),
        OpenApiExample(
            "The provider's own proposal",
            value={
                "action": [
                    "Version 2 is the provider's own proposal: sending it was the provider's "
                    "acceptance. The customer accepts it or asks for changes."
                ]
            },
        ),
    ],
)
TRANSITION_REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The step is not allowed now; the reason says why.",
    examples=[
        OpenApiExample(
            "Wrong state",
            value={"action": [_refusal("sign", machine.IN_NEGOTIATION, {machine.SIGNATORY})]},
        ),
        OpenApiExample(
            "Not the latest version",
            value={"action": ["Version 1 is not the one under negotiation (version 2)."]},
        ),
        OpenApiExample("Signed already", value={"action": ["You have already signed version 2."]}),
    ],
)
TRANSITION_INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The body is malformed: each field lists its reasons; nothing happened.",
    examples=[
        OpenApiExample(
            "Version missing",
            value={"version": ["Required to accept: the number of the version you accept."]},
        ),
        OpenApiExample(
            "Field of another action",
            value={"note": ["Not used by sign; it takes no other field."]},
        ),
    ],
)


def response_examples(name: str, value: Any) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True)]


# --- Scoping -------------------------------------------------------------------------------


class AgreementRowsMixin:
    """Rows of one agreement, the agreement found through the user's selector.

    Subclasses say which rows with ``rows(agreement)``; ``queryset`` names the model for the
    schema only."""

    queryset: QuerySet
    request: Request
    kwargs: dict[str, Any]

    def get_agreement(self) -> Agreement:
        """The agreement of the URL, if the user may see it; 404 otherwise."""
        agreement = getattr(self, "_agreement", None)
        if agreement is None:
            try:
                agreement = agreements_visible_to(self.request.user).get(
                    pk=self.kwargs["agreement_pk"]
                )
            except Agreement.DoesNotExist as exc:
                raise NotFound(NO_AGREEMENT) from exc
            self._agreement = agreement
        return agreement

    def rows(self, agreement: Agreement) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset  # schema generation: the model is all that is needed
        return self.rows(self.get_agreement())


def lifecycle_state(agreement: Agreement, user: User) -> dict[str, Any]:
    """The lifecycle state of the agreement as the user sees it, with the steps the user may
    take now: those the state machine allows for the user's roles, less those the facts
    already rule out (a side that has accepted, a signatory who has signed)."""
    latest = party_services.latest_version(agreement)
    in_force = agreement.in_force_version
    status = status_of(agreement)
    return {
        "status": agreement.status,
        "status_label": status.label,
        "signed": status.key == machine.SIGNED or in_force is not None,
        "takes_effect_on": agreement.effective_from if status.key == machine.SIGNED else None,
        "stage": agreement.stage,
        "latest_version": latest.number if latest else None,
        "in_force_version": in_force.number if in_force else None,
        "available_actions": [
            {"action": step.name, "label": step.label}
            for step in party_services.actions_for(user, agreement, latest=latest)
        ],
    }


# --- Lifecycle state and transitions -------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Where the agreement stands",
        description=(
            "The agreement's status and stage, its latest and in-force version numbers, and "
            "the steps you may take now (send one as `action` to `transitions/`)."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: LifecycleStateSerializer, 404: NOT_FOUND},
        examples=response_examples("In negotiation, seen by a customer approver", STATE_EXAMPLE),
    )
)
class AgreementLifecycleViewSet(AgreementRowsMixin, viewsets.GenericViewSet):
    """The lifecycle state of one agreement."""

    queryset = Agreement.objects.none()
    serializer_class = LifecycleStateSerializer
    pagination_class = None
    filter_backends: list = []

    def list(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        state = lifecycle_state(self.get_agreement(), request.user)
        return Response(LifecycleStateSerializer(state).data)


@extend_schema_view(
    create=extend_schema(
        summary="Take a lifecycle step",
        description=(
            "Propose the working copy as the next version, request changes, accept the latest "
            "version, sign it, start a review or decide one (`continue`, `renegotiate`, "
            "`terminate`). Who may do what follows the agreement's state machine: service "
            "managers propose (proposing is the provider's acceptance) and decide reviews, "
            "customer approvers request changes or accept, the named signatories sign. A step "
            "that is not yours (role or side) answers 403, a step not possible now 409, both "
            "with the reason under `action`; a malformed body answers 400. On success the "
            "answer is the "
            "agreement's new lifecycle state."
        ),
        parameters=[AGREEMENT_PK],
        request=TransitionSerializer,
        responses={
            200: LifecycleStateSerializer,
            400: TRANSITION_INVALID,
            403: TRANSITION_FORBIDDEN,
            404: NOT_FOUND,
            409: TRANSITION_REFUSED,
        },
        examples=[
            *(
                OpenApiExample(name, value=body, request_only=True)
                for name, body in TRANSITION_REQUESTS.items()
            ),
            *response_examples("New state", STATE_EXAMPLE),
        ],
    )
)
class AgreementTransitionViewSet(AgreementRowsMixin, viewsets.GenericViewSet):
    """Lifecycle steps of one agreement."""

    queryset = Agreement.objects.none()
    serializer_class = TransitionSerializer
    pagination_class = None
    filter_backends: list = []

    def create(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        agreement = self.get_agreement()
        serializer = TransitionSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            _take_step(agreement, request.user, serializer.validated_data)
        except IncompleteProposal as exc:
            # What the agreement lacks is a fault of the request, not of the state: 400.
            raise ValidationError({exc.field: [str(exc)]}) from exc
        except machine.NotYourStep as exc:
            raise PermissionDenied({"action": [str(exc)]}) from exc
        except TransitionError as exc:
            raise Conflict({"action": [str(exc)]}) from exc
        # Read back: the services locked and changed their own copy of the row.
        agreement = agreements_visible_to(request.user).get(pk=agreement.pk)
        return Response(LifecycleStateSerializer(lifecycle_state(agreement, request.user)).data)


def _take_step(agreement: Agreement, user: User, data: dict[str, Any]) -> None:
    """Call the lifecycle service the step names, with the fields it takes."""
    step = data["action"]
    fields = {name: data[name] for name in FIELDS_OF_ACTION[step] if name in data}
    match step:
        case "propose":
            services.propose(agreement, user, **fields)
        case "request_changes":
            services.request_changes(agreement, user, **fields)
        case "accept":
            services.accept(agreement, user, fields["version"])
        case "sign":
            services.sign(agreement, user)
        case "start_review":
            review_services.review_start(agreement, user)
        case _:
            review_services.review_decide(agreement, user, step, **fields)
