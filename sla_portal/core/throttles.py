"""API rate limits: per user, per anonymous address, and a separate budget for ingest.

REST framework's throttles count in the default cache (Redis in production, so every gunicorn
worker shares one count). The rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, set from
the environment in ``settings.py``; a rate of ``None`` lifts that limit.

Ingest endpoints (bulk uploads, webhooks) say ``throttle_scope = "ingest"``; they count only
against the ingest budget, the rest of the API only against the user or anonymous one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import throttling
from rest_framework.settings import api_settings

INGEST_SCOPE = "ingest"


class _LiveRates:
    """REST framework copies the rates into a class attribute at import; reading them at each
    request lets ``override_settings`` (the throttle tests) change them. A scope without a
    rate is not limited."""

    scope: str | None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")


def _is_ingest(view: Any) -> bool:
    return getattr(view, "throttle_scope", None) == INGEST_SCOPE


class AnonRateThrottle(_LiveRates, throttling.AnonRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        return _is_ingest(view) or super().allow_request(request, view)


class UserRateThrottle(_LiveRates, throttling.UserRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        return _is_ingest(view) or super().allow_request(request, view)


class IngestRateThrottle(_LiveRates, throttling.ScopedRateThrottle):
    """The ingest budget, per user (or per address for an anonymous sender)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        if not _is_ingest(view):
            return True
        return super().allow_request(request, view)


class WebhookRateThrottle(_LiveRates, throttling.SimpleRateThrottle):
    """The ingest budget for the webhook views, which are plain Django views: counted per
    source and sending address."""

    scope = INGEST_SCOPE

    def get_cache_key(self, request: Any, view: Any) -> str:
        source_id = getattr(view, "source_id", "")
        return self.cache_format % {
            "scope": f"{self.scope}-hook-{source_id}",
            "ident": self.get_ident(request),
        }


def too_many_requests(wait: float | None) -> JsonResponse:
    """429 in the API's words, with Retry-After in whole seconds."""
    seconds = max(1, round(wait)) if wait is not None else None
    detail = "Request was throttled."
    if seconds is not None:
        detail += f" Expected available in {seconds} second{'s' if seconds != 1 else ''}."
    response = JsonResponse({"detail": detail}, status=429)
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


class _HookView:
    """What the throttle reads from a view: only the source id."""

    def __init__(self, source_id: Any) -> None:
        self.source_id = source_id


def webhook_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a webhook view so that it answers 429 past the ingest rate."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, source_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = WebhookRateThrottle()
        if throttle.rate is not None and not throttle.allow_request(request, _HookView(source_id)):
            return too_many_requests(throttle.wait())
        return view(request, source_id, *args, **kwargs)

    return wrapped
