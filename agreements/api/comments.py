"""REST endpoints of the comments on an agreement: threads, replies, resolving."""

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
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from agreements import lifecycle as machine
from agreements.api.lifecycle import AGREEMENT_PK, NOT_FOUND, AgreementRowsMixin, response_examples
from agreements.lifecycle import TransitionError
from agreements.models import Agreement, Comment
from agreements.selectors import comments_visible_to
from agreements.serializers.common import Conflict
from agreements.serializers.lifecycle import CommentReplySerializer, CommentSerializer
from agreements.services import comments as services

COMMENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Id of the comment."
)
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
        examples=response_examples("Comment", COMMENT_EXAMPLE),
        responses={200: CommentSerializer(many=True), 404: NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One comment",
        parameters=[AGREEMENT_PK, COMMENT_ID],
        examples=response_examples("Reply", REPLY_EXAMPLE),
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
            *response_examples("Comment", COMMENT_EXAMPLE),
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
            *response_examples("Reply", REPLY_EXAMPLE),
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
        examples=response_examples("Resolved", RESOLVED_EXAMPLE),
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
        examples=response_examples("Reopened", COMMENT_EXAMPLE),
    )
    @action(detail=True, methods=["post"])
    def reopen(
        self, request: Request, agreement_pk: str, pk: str, format: str | None = None
    ) -> Response:
        agreement, comment = self.get_agreement(), self.get_object()
        thread = self._run(lambda: services.comment_reopen(agreement, request.user, comment))
        return Response(CommentSerializer(thread).data)
