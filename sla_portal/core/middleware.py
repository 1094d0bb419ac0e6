"""Response headers the portal adds to every page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

PRIVATE_CONTENT_TYPES = ("text/csv", "application/pdf")


class PrivateCacheMiddleware:
    """``Cache-Control: private, no-store`` on what must not outlive the session in a cache:
    every response to a signed-in user, and every PDF and CSV (agreements and reports may
    reach a shared proxy or the browser's disk otherwise, and stay readable after logout)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if signed_in or content_type in PRIVATE_CONTENT_TYPES:
            # Added to what the view said (never_cache's max-age=0 stays); "public" goes.
            patch_cache_control(response, private=True, no_store=True)
        return response
