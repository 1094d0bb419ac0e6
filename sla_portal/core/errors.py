"""Error pages: styled pages in every mode for people, JSON for API clients.

Django's own handlers (``handler400`` … ``handler500`` in ``sla_portal/urls.py``) and the CSRF
failure view (``CSRF_FAILURE_VIEW``) are the views below. They answer JSON under ``/api/``
(``{"detail": …}``, like REST framework's own errors) and otherwise render ``<status>.html``,
which extend ``base.html`` and say what happened and where to go next.

A database that cannot answer (down, restarting, out of connections, a lock or statement
timeout) is not a bug: such a request answers ``503`` with ``Retry-After``, JSON under
``/api/`` and ``/hooks/`` and the styled ``503.html`` for people, so that a client retries
instead of giving up. Nothing is written: every write runs in a transaction that the error
rolls back.

With ``DEBUG`` on, Django skips the handlers and shows its technical pages (a 404 lists every
URL of the portal, a 500 shows the traceback). ``DebugErrorPagesMiddleware`` gives those
requests the same styled pages; the traceback is still logged to the terminal. A developer
who wants Django's technical pages back sets ``DEBUG_ERROR_PAGES=1``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.log import log_response

API_PREFIX = "/api/"
# Webhooks: machines that read JSON too (their answers are ``{"error": …}``).
HOOKS_PREFIX = "/hooks/"

# Said to API clients, in the words REST framework uses for its own errors.
API_DETAIL = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    500: "A server error occurred.",
    503: "The database is unavailable; nothing was changed. Try again later.",
}

# The errors of a database that is there but cannot answer now: the connection failed or was
# lost, or a lock or statement timeout, a deadlock or a serialization failure ended the
# statement (psycopg2 raises all of these as OperationalError). Retrying later can succeed.
# Integrity, data and programming errors are bugs or bad input and stay 500 / 400.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def is_api_request(request: HttpRequest) -> bool:
    """API clients get JSON errors; the API documentation page is a page for people."""
    path = request.path
    return path.startswith(API_PREFIX) and not path.startswith(f"{API_PREFIX}docs/")


def _back_url(request: HttpRequest) -> str:
    """The page the person came from, when it is one of ours (never an outside address)."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return ""


def _message(exception: BaseException | None) -> str:
    """Our own exceptions say what happened ("Only service managers …"); Django's generic
    ones name a model or a resolver and say nothing useful to a reader."""
    if exception is None or not exception.args:
        return ""
    message = exception.args[0]
    if not isinstance(message, str) or "matches the given query" in message:
        return ""
    return message


def _page(
    request: HttpRequest, status: int, exception: BaseException | None = None, **extra
) -> HttpResponse:
    if is_api_request(request):
        detail = _message(exception) if status in (403, 404) else ""
        return JsonResponse({"detail": detail or API_DETAIL[status]}, status=status)
    context = {
        "status_code": status,
        "message": _message(exception) if status in (403, 404) else "",
        "back_url": _back_url(request),
        "request_path": request.path,
        # After logging in, back to the page that was refused.
        "next_path": request.get_full_path() if status == 403 else "",
        **extra,
    }
    return render(request, f"{status}.html", context, status=status)


def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    return _page(request, 400, exception)


def permission_denied(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    return _page(request, 403, exception)


def page_not_found(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    return _page(request, 404, exception)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the database could not answer this request (see
    ``DATABASE_UNAVAILABLE``). Rendered without the request's context, which would read the
    session and the user from that same database."""
    retry_after = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    if is_api_request(request):
        response = JsonResponse({"detail": API_DETAIL[503]}, status=503)
    elif request.path.startswith(HOOKS_PREFIX):
        response = JsonResponse({"error": API_DETAIL[503]}, status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"status_code": 503, "retry_after": retry_after}),
            status=503,
        )
    response["Retry-After"] = retry_after
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls handler500 while it handles the exception, so the exception is at hand.
    if isinstance(sys.exception(), DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    if is_api_request(request):
        return JsonResponse({"detail": API_DETAIL[500]}, status=500)
    try:
        return _page(request, 500)
    except Exception:
        # Whatever broke may break the page too (the database, a context processor): the
        # same page without the request's context needs neither.
        return HttpResponse(render_to_string("500.html", {"status_code": 500}), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without a valid token, usually an old tab."""
    if is_api_request(request):
        return JsonResponse({"detail": f"CSRF failed: {reason}"}, status=403)
    return render(
        request,
        "403.html",
        {
            "status_code": 403,
            "csrf_failure": True,
            # The reason is for developers ("CSRF cookie not set."); people get the remedy.
            "csrf_reason": reason if settings.DEBUG else "",
            "back_url": _back_url(request),
            "request_path": request.path,
        },
        status=403,
    )


class DebugErrorPagesMiddleware:
    """With DEBUG on, the styled error pages instead of Django's technical ones.

    Does nothing with DEBUG off (Django uses the handlers then) or with
    ``DEBUG_ERROR_PAGES`` on. Sits below CommonMiddleware, so that a missing slash is still
    redirected before a 404 is shown.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and not settings.DEBUG_ERROR_PAGES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No URL matched: Django answered with its technical 404 (the list of every URL).
        if (
            self._active()
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
        ):
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._active() or isinstance(exception, PermissionDenied):
            return None  # 403 goes to handler403 in every mode already
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, SuspiciousOperation):
            logging.getLogger(f"django.security.{exception.__class__.__name__}").error(
                str(exception), exc_info=exception, extra={"status_code": 400, "request": request}
            )
            return bad_request(request, exception)
        if isinstance(exception, (BadRequest, MultiPartParserError)):
            response = bad_request(request, exception)
            log_response(
                "Bad request: %s",
                request.path,
                response=response,
                request=request,
                exception=exception,
            )
            return response
        # As Django does for an uncaught exception: tell the listeners, log the traceback.
        signals.got_request_exception.send(sender=None, request=request)
        response = server_error(request)
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=request,
            exception=exception,
        )
        return response
