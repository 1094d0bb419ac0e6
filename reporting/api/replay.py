"""``/api/agreements/<id>/replay/``: a proposal's targets replayed on history.

Provider managers and the customer's approvers (both negotiate); everyone else 403, and an
agreement the user cannot see 404. Answers 200 with the replay, or 202 with its progress
while a replay too large for the request runs in the background (ask again)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.api.common import NOT_FOUND, bad_request_response
from agreements.selectors import agreements_visible_to
from reporting.replay.runs import (
    ReplayError,
    ReplayRequest,
    may_replay,
    progress_of,
    replay_for,
)
from reporting.replay.uploads import replay_upload_poll, replay_upload_start
from reporting.serializers.replay import (
    ReplayProgressSerializer,
    ReplayQuerySerializer,
    ReplaySerializer,
    ReplayUploadSerializer,
)

EXAMPLE = {
    "agreement": 7,
    "source": "3",
    "content_hash": "5f1c…",
    "periods": 12,
    "until": "2026-11-30",
    "computed_at": "2026-12-07T10:00:00+00:00",
    "summary": [
        "Availability: 99.95 % would have been missed in 3 of the last 12 months and cost "
        "7,200.00 EUR in credits; 99.9 % in none.",
        "The proposed credit schedule would have paid 7,200.00 EUR over the 12 months "
        "replayed; the terms in force 0.00 EUR.",
    ],
    "proposed": {"label": "Version 3", "targets": [], "credits": {}},
    "current": {"label": "Version 2 (in force)", "targets": [], "credits": {}},
}


class AgreementReplayViewSet(viewsets.ViewSet):
    """The replay of one agreement's proposal (or working copy) on history."""

    @extend_schema(
        summary="Replay a proposal's targets on history",
        parameters=[ReplayQuerySerializer],
        responses={
            200: OpenApiResponse(
                ReplaySerializer, examples=[OpenApiExample("Replay", value=EXAMPLE)]
            ),
            202: ReplayProgressSerializer,
            400: bad_request_response(
                OpenApiExample("Too many periods", value={"periods": ["Give 1 to 36."]})
            ),
            404: NOT_FOUND,
            409: OpenApiResponse(
                description="The background replay failed (the reason under 'replay'); "
                "ask again with retry=1 to queue it anew.",
                examples=[
                    OpenApiExample(
                        "Failed",
                        value={"replay": ["The replay failed: the worker did not answer."]},
                    )
                ],
            ),
        },
    )
    def list(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        agreement = self._agreement(request, agreement_pk)
        query = ReplayQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = {k: str(v) for k, v in query.validated_data.items() if k != "upload"}
        data["retry"] = "1" if query.validated_data.get("retry") else ""
        try:
            replay = ReplayRequest.parse(data, timezone.localdate())
            if query.validated_data.get("upload"):
                key = query.validated_data["upload"]
                result = replay_upload_poll(agreement, key)
            else:
                key, result = replay_for(request.user, agreement, replay)
        except ReplayError as exc:
            return _error(exc)
        return _answer(key, result)

    @extend_schema(
        summary="Replay a proposal's targets on an uploaded export of uptime checks",
        request={"multipart/form-data": ReplayUploadSerializer},
        responses={
            202: ReplayProgressSerializer,
            400: bad_request_response(
                OpenApiExample("Unknown format", value={"format": ["Choose one of: …"]})
            ),
            404: NOT_FOUND,
        },
    )
    def create(self, request: Request, agreement_pk: str, format: str | None = None) -> Response:
        """Queue a replay on the export; follow it with ``GET ...?upload=<upload>``."""
        agreement = self._agreement(request, agreement_pk)
        form = ReplayUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        given = form.validated_data
        data = {k: str(v) for k, v in given.items() if k in {"version", "periods", "until"}}
        try:
            replay = ReplayRequest.parse(data, timezone.localdate())
            key = replay_upload_start(
                request.user,
                agreement,
                replay,
                given["file"],
                given["format"],
                given.get("monitor", ""),
                given["service"],
            )
            result = replay_upload_poll(agreement, key)
        except ReplayError as exc:
            return _error(exc)
        answer = _answer(key, result)
        answer.status_code = status.HTTP_202_ACCEPTED if result is None else status.HTTP_200_OK
        return answer

    def _agreement(self, request: Request, agreement_pk: str):
        if not may_replay(request.user):
            raise PermissionDenied("Only the provider's managers and the customer's approvers.")
        agreement = agreements_visible_to(request.user).filter(pk=agreement_pk).first()
        if agreement is None:
            raise NotFound("No Agreement matches the given query.")
        return agreement


def _error(exc: ReplayError) -> Response:
    if exc.status == 404:
        raise NotFound(exc.reason) from exc
    # 409: a replay that failed stays failed until asked again with ``retry=1``.
    return Response({exc.field: [exc.reason]}, status=exc.status)


def _answer(key: str, result: dict | None) -> Response:
    if result is None:
        found = progress_of(key) or {"done": 0, "total": 1, "state": "queued", "error": ""}
        if found["state"] == "failed" and ":" in key.removeprefix("replay:"):
            # An upload that could not be read stays so: say why, do not keep them polling.
            return Response({"file": [found["error"]]}, status=status.HTTP_400_BAD_REQUEST)
        found = found | {
            "percent": round(found["done"] * 100 / max(found["total"], 1)),
            "upload": key if ":" in key.removeprefix("replay:") else "",
        }
        return Response(ReplayProgressSerializer(found).data, status=status.HTTP_202_ACCEPTED)
    return Response(ReplaySerializer(result).data)
