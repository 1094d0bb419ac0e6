"""REST endpoints of the agreement lifecycle: transitions, the lifecycle state, versions and
their comparison, comments, the audit trail and reviews.

Every endpoint hangs under one agreement (``/api/agreements/<id>/...``) and finds it through
``agreements_visible_to(request.user)``, so an agreement of another organisation answers 404
exactly like one that does not exist. Writes go through ``agreements.services.lifecycle``,
which checks the state machine and the person's role; a refused step answers 409 with the
service's own sentence.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements import lifecycle as machine
from agreements.diff import SEPARATOR, TERMS, diff_snapshots
from agreements.lifecycle import TransitionError
from agreements.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    AuditEvent,
    Comment,
    Review,
    ReviewAction,
)
from agreements.presentation import section_heading, status_of
from agreements.sections import MARKDOWN_FIELDS, SECTIONS_BY_KEY
from agreements.selectors import agreements_visible_to, comments_visible_to
from agreements.serializers.agreements import Conflict
from agreements.serializers.lifecycle import (
    FIELDS_OF_ACTION,
    AuditEventSerializer,
    CommentReplySerializer,
    CommentSerializer,
    CompareQuerySerializer,
    LifecycleStateSerializer,
    ReviewSerializer,
    TransitionSerializer,
    VersionComparisonSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from agreements.services import lifecycle as services
from agreements.services.lifecycle import IncompleteProposal
from sla_portal.core.models import User

NO_AGREEMENT = "No Agreement matches the given query."

# --- Examples shown in the OpenAPI schema --------------------------------------------------

AGREEMENT_PK = OpenApiParameter(
    "agreement_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="Id of the agreement.",
)
VERSION_NUMBER = OpenApiParameter(
    "number", OpenApiTypes.INT, OpenApiParameter.PATH, description="Number of the version."
)
COMMENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Id of the comment."
)
REVIEW_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Id of the review."
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
ACCEPTANCE_EXAMPLE = {
    "side": "provider",
    "user": "alice_manager",
    "accepted_at": "2026-01-08T10:15:00Z",
}
SIGNATURE_EXAMPLE = {
    "name": "Carol Customer",
    "role": "Head of IT",
    "organisation_name": "Acme Logistics",
    "side": "customer",
    "signed_at": "2026-01-09T16:40:12Z",
    "content_hash": "5f0c1d8e0c3b6a7f9a3b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8b9",
}
VERSION_EXAMPLE = {
    "number": 2,
    "proposed_by": "alice_manager",
    "proposed_at": "2026-01-07T09:00:00Z",
    "note": "P1 response time relaxed to 20 minutes.",
    "content_hash": SIGNATURE_EXAMPLE["content_hash"],
    "finalized_at": "2026-01-09T16:40:12Z",
    "acceptances": [
        ACCEPTANCE_EXAMPLE,
        {"side": "customer", "user": "carol_customer", "accepted_at": "2026-01-08T14:02:00Z"},
    ],
    "signatures": [
        {
            **SIGNATURE_EXAMPLE,
            "name": "Alice Manager",
            "role": "Service manager",
            "organisation_name": "Northwind IT Services",
            "side": "provider",
            "signed_at": "2026-01-09T11:20:00Z",
        },
        SIGNATURE_EXAMPLE,
    ],
}
VERSION_DETAIL_EXAMPLE = {
    **VERSION_EXAMPLE,
    "snapshot": {
        "schema": 1,
        "terms": {
            "title": "Customer Portal and ERP - Gold",
            "reference": "SLA-2026-0007",
            "customer": "Acme Logistics",
            "tier": "Gold",
            "effective_from": "2026-01-01",
            "effective_to": "2027-12-31",
            "review_interval_months": "3",
            "services": ["Customer Portal", "ERP Hosting"],
        },
        "sections": {
            "charges": {
                "fields": {"fee_amount": "12000", "currency": "EUR", "fee_period": "month"},
                "related": {
                    "credit_bands": [
                        {"metric": "availability", "achieved_below": "99.9", "credit_percent": "5"}
                    ]
                },
            }
        },
        "targets": [
            {
                "key": "response_time|P1||",
                "section": "support",
                "label": "Response time (P1)",
                "metric": "response_time",
                "priority": "P1",
                "target_value": "20",
                "threshold_value": "30",
                "unit": "minutes",
            }
        ],
        "calendars": [{"name": "24x7", "timezone": "UTC", "is_24x7": "true", "hours": []}],
    },
}
COMPARISON_EXAMPLE = {
    "a": 1,
    "b": 2,
    "sections": [
        {
            "key": "support",
            "title": "4. Support levels",
            "changes": [
                {
                    "kind": "changed",
                    "path": f"Response time (P1){SEPARATOR}target value",
                    "old": "15",
                    "new": "20",
                    "words": None,
                },
                {
                    "kind": "changed",
                    "path": "after hours procedure",
                    "old": "P1 incidents are reported by phone.",
                    "new": "P1 incidents are reported by phone or the portal.",
                    "words": [
                        {"op": "equal", "text": "P1 incidents are reported by "},
                        {"op": "delete", "text": "phone."},
                        {"op": "insert", "text": "phone or the portal."},
                    ],
                },
            ],
        }
    ],
}
COMMENT_EXAMPLE = {
    "id": 12,
    "version": 1,
    "section": "support",
    "section_title": "4. Support levels",
    "parent": None,
    "body": "Can the P1 response be 15 minutes at night too?",
    "author": "carol_customer",
    "author_name": "Carol Customer",
    "requests_change": False,
    "created_at": "2026-01-07T15:31:00Z",
    "resolved_at": None,
    "resolved_by": None,
}
COMMENT_REQUEST = {key: COMMENT_EXAMPLE[key] for key in ("section", "body")}
REPLY_EXAMPLE = {
    **COMMENT_EXAMPLE,
    "id": 13,
    "parent": 12,
    "body": "Yes: 15 minutes at night too.",
    "author": "alice_manager",
    "author_name": "Alice Manager",
    "created_at": "2026-01-07T16:02:00Z",
}
RESOLVED_EXAMPLE = {
    **COMMENT_EXAMPLE,
    "resolved_at": "2026-01-08T09:00:00Z",
    "resolved_by": "carol_customer",
}
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
REVIEW_EXAMPLE = {
    "id": 4,
    "due_date": "2026-04-01",
    "period_start": "2026-01-01",
    "period_end": "2026-03-31",
    "status": "decided",
    "findings": "Availability missed in March (99.2%).",
    "root_causes": "A storage controller failed twice.",
    "lessons": "Spare controllers on site.",
    "decision": "renegotiate",
    "decided_by": "alice_manager",
    "decided_at": "2026-04-02T10:00:00Z",
    "actions": [
        {
            "id": 9,
            "description": "Add a second storage controller",
            "owner": "alice_manager",
            "due_date": "2026-06-30",
            "status": "open",
        }
    ],
}


def _response_examples(name: str, value: Any) -> list[OpenApiExample]:
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
    latest = services.latest_version(agreement)
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
            for step in services.actions_for(user, agreement, latest=latest)
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
        examples=_response_examples("In negotiation, seen by a customer approver", STATE_EXAMPLE),
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
            *_response_examples("New state", STATE_EXAMPLE),
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
            services.review_start(agreement, user)
        case _:
            services.review_decide(agreement, user, step, **fields)


# --- Versions ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Versions of an agreement",
        description=(
            "Every proposed version, oldest first, with who accepted and who signed it. "
            "Versions are immutable: there is no PUT, PATCH or DELETE (405)."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: VersionSerializer(many=True), 404: NOT_FOUND},
        examples=_response_examples("Signed version", VERSION_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One version with its snapshot",
        description=(
            "The version with its `snapshot`: terms, the ten sections, targets and calendars "
            "exactly as proposed. `content_hash` is the SHA-256 of the snapshot serialised as "
            "JSON with sorted keys and no spaces, so anyone can check a signed version."
        ),
        parameters=[AGREEMENT_PK, VERSION_NUMBER],
        responses={200: VersionDetailSerializer, 404: NOT_FOUND},
        examples=_response_examples("Signed version", VERSION_DETAIL_EXAMPLE),
    ),
)
class AgreementVersionViewSet(AgreementRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Proposed versions of one agreement: immutable snapshots, read-only here."""

    queryset = AgreementVersion.objects.none()
    lookup_field = "number"
    lookup_value_regex = r"\d+"
    filter_backends: list = []

    def rows(self, agreement: Agreement) -> QuerySet[AgreementVersion]:
        versions = (
            AgreementVersion.objects.filter(agreement=agreement)
            .select_related("proposed_by")
            .prefetch_related(
                Prefetch("acceptances", queryset=Acceptance.objects.select_related("user")),
                "signatures",
            )
            .order_by("number")
        )
        if self.action == "list":
            versions = versions.defer("snapshot")  # only the detail shows it
        return versions

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return VersionDetailSerializer
        if self.action == "compare":
            return VersionComparisonSerializer
        return VersionSerializer

    @extend_schema(
        summary="Compare two versions",
        description=(
            "What changed from version `a` to version `b`, grouped by section (`terms` first); "
            "each change has its kind, a readable path, the old and new values as text and, for "
            "free-text fields, a word-level diff. Unchanged sections are left out."
        ),
        parameters=[AGREEMENT_PK, CompareQuerySerializer],
        responses={
            200: VersionComparisonSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A version number is missing, malformed or unknown.",
                examples=[
                    OpenApiExample(
                        "Unknown version", value={"b": ["SLA-2026-0007 has no version 9."]}
                    ),
                    OpenApiExample("Missing", value={"a": ["This field is required."]}),
                ],
            ),
            404: NOT_FOUND,
        },
        examples=_response_examples("P1 response relaxed", COMPARISON_EXAMPLE),
    )
    @action(detail=False, methods=["get"], url_path="compare", pagination_class=None)
    def compare(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        agreement = self.get_agreement()
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        a, b = query.validated_data["a"], query.validated_data["b"]
        snapshots = dict(
            AgreementVersion.objects.filter(agreement=agreement, number__in=[a, b]).values_list(
                "number", "snapshot"
            )
        )
        missing = {
            name: [f"{agreement.reference} has no version {number}."]
            for name, number in (("a", a), ("b", b))
            if number not in snapshots
        }
        if missing:
            raise ValidationError(missing)
        sections = [
            {
                "key": section.key,
                "title": "Terms" if section.key == TERMS else _section_title(section.key),
                "changes": [asdict(change) for change in section.changes],
            }
            for section in diff_snapshots(snapshots[a], snapshots[b], MARKDOWN_FIELDS)
        ]
        return Response(VersionComparisonSerializer({"a": a, "b": b, "sections": sections}).data)


def _section_title(key: str) -> str:
    # As the document and the emails name it: "3. Availability", never the internal key.
    return section_heading(key) if key in SECTIONS_BY_KEY else "Other"


# --- Comments ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Comments on an agreement",
        description=(
            "Remarks by either side on the sections of the versions under discussion, oldest "
            "first: each thread's remark (`parent` null) and its replies (`parent` set), with "
            "the thread's resolution on the remark. Requests for changes (made with the "
            "`request_changes` step) are listed here too, with `requests_change` set. Filter "
            "with `?section=` or `?parent=`."
        ),
        parameters=[AGREEMENT_PK],
        examples=_response_examples("Comment", COMMENT_EXAMPLE),
        responses={200: CommentSerializer(many=True), 404: NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One comment",
        parameters=[AGREEMENT_PK, COMMENT_ID],
        examples=_response_examples("Reply", REPLY_EXAMPLE),
        responses={200: CommentSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Comment on a section",
        description=(
            "Adds a remark on one section (or `general`) of the latest version, as you; with "
            "`parent`, a reply in that remark's thread. Either side may comment until the "
            "agreement has ended (then 409)."
        ),
        parameters=[AGREEMENT_PK],
        examples=[
            OpenApiExample("Comment", value=COMMENT_REQUEST, request_only=True),
            *_response_examples("Comment", COMMENT_EXAMPLE),
        ],
        responses={
            201: CommentSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The comment is malformed; nothing was saved.",
                examples=[
                    OpenApiExample("No text", value={"body": ["This field may not be blank."]})
                ],
            ),
            404: NOT_FOUND,
            409: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The agreement takes no more comments.",
                examples=[
                    OpenApiExample(
                        "Ended",
                        value={"status": ["The agreement has ended; it takes no more comments."]},
                    )
                ],
            ),
        },
    ),
)
class AgreementCommentViewSet(
    AgreementRowsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Comments on one agreement, by either side: threads of a remark and its replies, each
    thread open or resolved."""

    queryset = Comment.objects.none()
    serializer_class = CommentSerializer
    filterset_fields = ["section", "requests_change", "parent"]
    lookup_value_regex = r"\d+"

    def rows(self, agreement: Agreement) -> QuerySet[Comment]:
        return (
            comments_visible_to(self.request.user, agreement)
            .select_related("author", "version", "resolved_by")
            .defer("version__snapshot")
            .order_by("created_at", "id")
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "reply":
            return CommentReplySerializer
        return CommentSerializer

    def _parent(self, agreement: Agreement, parent_id: int | None) -> Comment | None:
        if parent_id is None:
            return None
        parent = self.rows(agreement).filter(pk=parent_id).first()
        if parent is None:
            raise ValidationError({"parent": [f"No comment {parent_id} on this agreement."]})
        return parent

    def _run(self, write: Any) -> Comment:
        try:
            return write()
        except machine.NotYourStep as exc:
            raise PermissionDenied({"status": [str(exc)]}) from exc
        except TransitionError as exc:
            raise Conflict({"status": [str(exc)]}) from exc

    def create(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        agreement = self.get_agreement()
        serializer = CommentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        parent = self._parent(agreement, data.pop("parent_id", None))
        comment = self._run(
            lambda: services.comment_add(agreement, request.user, parent=parent, **data)
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Reply in a thread",
        description=(
            "Adds a reply to the thread of this comment (a reply to a reply joins the thread of "
            "its first remark), on the same section. A resolved thread takes no replies until "
            "it is reopened (409)."
        ),
        parameters=[AGREEMENT_PK, COMMENT_ID],
        request=CommentReplySerializer,
        responses={
            201: CommentSerializer,
            400: OpenApiTypes.OBJECT,
            404: NOT_FOUND,
            409: OpenApiTypes.OBJECT,
        },
        examples=[
            OpenApiExample(
                "Reply", value={"body": "Yes: 15 minutes at night too."}, request_only=True
            ),
            *_response_examples("Reply", REPLY_EXAMPLE),
        ],
    )
    @action(detail=True, methods=["post"])
    def reply(
        self, request: Request, agreement_pk: str, pk: str, format: str | None = None
    ) -> Response:
        agreement = self.get_agreement()
        parent = self.get_object()
        serializer = CommentReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = self._run(
            lambda: services.comment_add(
                agreement, request.user, body=serializer.validated_data["body"], parent=parent
            )
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve a thread",
        description=(
            "Marks the thread of this comment resolved (on its first remark). Its author, a "
            "service manager or a customer approver may (else 403); an already resolved "
            "thread answers 409."
        ),
        parameters=[AGREEMENT_PK, COMMENT_ID],
        request=None,
        responses={
            200: CommentSerializer,
            403: OpenApiTypes.OBJECT,
            404: NOT_FOUND,
            409: OpenApiTypes.OBJECT,
        },
        examples=_response_examples("Resolved", RESOLVED_EXAMPLE),
    )
    @action(detail=True, methods=["post"])
    def resolve(
        self, request: Request, agreement_pk: str, pk: str, format: str | None = None
    ) -> Response:
        agreement, comment = self.get_agreement(), self.get_object()
        thread = self._run(lambda: services.comment_resolve(agreement, request.user, comment))
        return Response(CommentSerializer(thread).data)

    @extend_schema(
        summary="Reopen a thread",
        description="Opens a resolved thread again, for more replies (same people as resolve).",
        parameters=[AGREEMENT_PK, COMMENT_ID],
        request=None,
        responses={
            200: CommentSerializer,
            403: OpenApiTypes.OBJECT,
            404: NOT_FOUND,
            409: OpenApiTypes.OBJECT,
        },
        examples=_response_examples("Reopened", COMMENT_EXAMPLE),
    )
    @action(detail=True, methods=["post"])
    def reopen(
        self, request: Request, agreement_pk: str, pk: str, format: str | None = None
    ) -> Response:
        agreement, comment = self.get_agreement(), self.get_object()
        thread = self._run(lambda: services.comment_reopen(agreement, request.user, comment))
        return Response(CommentSerializer(thread).data)


# --- History -------------------------------------------------------------------------------


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
            *_response_examples("Signature", AUDIT_EXAMPLE),
            *_response_examples("Transition", TRANSITION_AUDIT_EXAMPLE),
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


# --- Reviews -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Reviews of an agreement",
        description=(
            "Scheduled, running and decided reviews, latest due date first, each with its "
            "findings, root causes, lessons, decision and follow-up actions. Reviews are "
            "started and decided with the `start_review`, `continue`, `renegotiate` and "
            "`terminate` steps."
        ),
        parameters=[AGREEMENT_PK],
        responses={200: ReviewSerializer(many=True), 404: NOT_FOUND},
        examples=_response_examples("Decided review", REVIEW_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="One review",
        parameters=[AGREEMENT_PK, REVIEW_ID],
        responses={200: ReviewSerializer, 404: NOT_FOUND},
        examples=_response_examples("Decided review", REVIEW_EXAMPLE),
    ),
)
class AgreementReviewViewSet(AgreementRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Reviews of one agreement, read-only: the lifecycle steps write them."""

    queryset = Review.objects.none()
    serializer_class = ReviewSerializer
    lookup_value_regex = r"\d+"
    filter_backends: list = []

    def rows(self, agreement: Agreement) -> QuerySet[Review]:
        return (
            agreement.reviews.select_related("decided_by")
            .prefetch_related(
                Prefetch("actions", queryset=ReviewAction.objects.select_related("owner"))
            )
            .order_by("-due_date")
        )
