"""Webhook endpoints: monitors and alert managers push checks and tickets to a source.

``/hooks/<source_id>/generic/`` takes the bulk API's row shapes, ``…/uptime-kuma/`` and
``…/alertmanager/`` take those tools' own notifications. There is no user here: the source's
``signing_secret`` is the credential, proven by an HMAC signature (:mod:`monitoring.signing`)
or, for the two tools that cannot compute one, by ``Authorization: Bearer <secret>``. This
module is the HTTP side (method, source, size, authentication, JSON); what a delivery writes
is ``monitoring.webhooks``. See ``docs/ingest.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from monitoring import signing
from monitoring.deliveries import delivery_accepted, delivery_refused
from monitoring.models import Source
from monitoring.webhooks import (
    Refused,
    Signed,
    alertmanager_receive,
    error,
    generic_receive,
    remember,
    uptime_kuma_receive,
)
from sla_portal.core import safejson

__all__ = ["alertmanager", "generic", "uptime_kuma"]

# Notifications are small; a megabyte is thousands of checks. Larger batches belong on the
# bulk API, which streams and allows 50 MB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# What a request without credentials is told, per endpoint: every scheme it accepts.
SIGNED_ONLY = f"missing {signing.TIMESTAMP_HEADER} or {signing.SIGNATURE_HEADER} header"
SIGNED_OR_BEARER = (
    "missing credentials: send Authorization: Bearer <the source's signing secret>, or sign "
    f"the request with {signing.TIMESTAMP_HEADER} and {signing.SIGNATURE_HEADER}"
)


# --- The common part: method, source, size, authentication, JSON ---------------------------


def _max_body_bytes() -> int:
    return getattr(settings, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


def _source(source_id: int) -> Source:
    # No acting user to scope by: the secret checked next is the credential, and the answer
    # is the same bare 404 for any id that is not a source.
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        raise error(404, "not found")
    return source


def _body(request: HttpRequest) -> bytes:
    """The raw body (the signature covers its exact bytes), refused above the limit without
    reading it when the length is declared."""
    limit = _max_body_bytes()
    too_large = error(413, f"the body is larger than {limit} bytes")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def _authenticate(request: HttpRequest, source: Source, body: bytes, bearer: bool) -> Signed | None:
    """Check the credentials; return the signature of a signed request (None for a bearer
    token). During the overlap after a rotation both the current and the previous secret
    verify."""
    signature = request.headers.get(signing.SIGNATURE_HEADER)
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER)
    authorization = request.headers.get("Authorization")
    now = time.time()
    secrets = source.verifying_secrets(datetime.fromtimestamp(now, UTC))
    if bearer and signature is None and authorization is not None:
        if any(signing.bearer_matches(secret, authorization) for secret in secrets):
            return None
        if authorization.strip().partition(" ")[0].lower() != "bearer":
            raise error(401, "the Authorization header must be: Bearer <signing secret>")
        raise error(401, "bearer token does not match the source's signing secret")
    if signature is None and timestamp is None:
        # Name every scheme this endpoint accepts, and only those.
        if bearer:
            raise error(401, SIGNED_OR_BEARER)
        if authorization is not None:
            raise error(
                401, f"{SIGNED_ONLY}: this endpoint takes signed requests, not a bearer token"
            )
        raise error(401, SIGNED_ONLY)
    # The reasons other than "does not match" (headers, clock) are the same for every secret.
    reasons = [signing.verify(secret, timestamp, signature, body, now=now) for secret in secrets]
    if None not in reasons:
        raise error(401, reasons[0])
    return Signed(signature, datetime.fromtimestamp(int(timestamp), UTC))


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = safejson.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise error(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise error(400, "expected a JSON object")
    return payload


def _webhook(
    handle: Callable[[HttpRequest, Source, Mapping[str, Any], Signed | None], dict[str, Any]],
    *,
    bearer: bool,
) -> Callable[..., HttpResponse]:
    """A view running the shared steps in the order that leaks least and works least for a
    refused request: method, source, size, authentication, then parsing."""

    @csrf_exempt
    def view(request: HttpRequest, source_id: int) -> HttpResponse:
        try:
            if request.method != "POST":
                response = JsonResponse({"error": "only POST is allowed"}, status=405)
                response["Allow"] = "POST"
                return response
            source = _source(source_id)
        except Refused as refused:
            return JsonResponse(refused.body, status=refused.status)
        try:
            body = _body(request)
            signed = _authenticate(request, source, body, bearer)
            if not source.enabled:
                # After authentication, so only the sender holding the secret learns it.
                raise error(403, "this source is disabled; its data is kept, new data refused")
            payload = _json_object(body)
            with transaction.atomic():
                if signed is not None:
                    remember(source, signed)
                answer = handle(request, source, payload, signed)
        except Refused as refused:
            # Counted on the source (its page and API show it) and announced once per
            # episode; a disabled source is refused on purpose, and a replay is most often a
            # sender's retry of a delivery already applied, so neither is announced.
            delivery_refused(
                source,
                refused.status,
                _reason(refused.body),
                announce=refused.status not in {403, 409},
            )
            return JsonResponse(refused.body, status=refused.status)
        delivery_accepted(source, answer.get("refused"))
        return JsonResponse(answer)

    view.__name__ = handle.__name__.lstrip("_")
    view.__doc__ = handle.__doc__
    return view


def _reason(body: dict[str, Any]) -> str:
    """One line saying why a request was refused, from the answer the sender got."""
    if "error" in body:
        return str(body["error"])
    errors = body.get("errors") or [{}]
    first = errors[0]
    where = first.get("field") or "body"
    more = body.get("error_count", 1) - 1
    return f"{where}: {first.get('reason', 'invalid')}" + (f" (and {more} more)" if more else "")


# --- The three endpoints -------------------------------------------------------------------


def _generic(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """``{"service": name, "checks": [...]}`` and/or ``{"tickets": [...]}``, rows as in the
    bulk API; both parts are written in one transaction or not at all. A ticket row signed
    before the newest change already applied to that ticket is skipped and listed as
    ``stale`` (see :func:`monitoring.webhooks.fresh_tickets`)."""
    return generic_receive(source, payload, signed)


def _uptime_kuma(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """An Uptime Kuma webhook notification: one check of the monitor's service."""
    return uptime_kuma_receive(source, payload, request.GET.get("service", "").strip())


def _alertmanager(
    request: HttpRequest, source: Source, payload: Mapping[str, Any], signed: Signed | None
) -> dict[str, Any]:
    """A Prometheus Alertmanager notification: firing alerts are down checks at their start,
    resolved ones add the up check at their end."""
    return alertmanager_receive(source, payload, request.GET.get("service", "").strip())


generic = _webhook(_generic, bearer=False)
uptime_kuma = _webhook(_uptime_kuma, bearer=True)
alertmanager = _webhook(_alertmanager, bearer=True)
