"""The public status page and its subscription links: no login, the link is the key.

A request for the page costs one cache read when the page's stamp was read in the last
``STAMP_CACHE_SECONDS`` (else one small SQL query, ``page_stamp``) and, if the browser sent
the stamp back (``If-None-Match``), nothing more: 304. Otherwise the rendered page comes from
the cache under its stamp; only the first request after a change renders it. The page carries
no cookie, no CSRF token and nothing of the visitor, so one rendering serves everyone and
shared caches may keep it (``Cache-Control: public, max-age``).

The subscribe form therefore has no CSRF token: a forged request can only ask for a
confirmation email, which does nothing until its reader confirms, and it is counted against
the per-address and per-client limits like any other.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from reporting.forms.status import SubscribeForm
from reporting.selectors.status import page_content, page_for_token, page_stamp, token_hash
from reporting.services.status import (
    STAMP_CACHE_SECONDS,
    STAMP_TOMBSTONE,
    stamp_cache_key,
    subscribe,
    subscriber_confirm,
    subscriber_unsubscribe,
)
from sla_portal.core.client_ip import client_ip

logger = logging.getLogger(__name__)

# A rendered page is kept this long at most (it is keyed by its stamp, so never stale).
BODY_CACHE_SECONDS = 600
# The longest signed token accepted in a URL (real ones are about 80 characters).
MAX_TOKEN_LENGTH = 300


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # Redis down: render without it
        logger.warning("Status page cache unavailable.", exc_info=True)
        return None


def _cache_set(key: str, value, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("Status page cache unavailable; not kept.", exc_info=True)


def _stamp(token: str) -> tuple[int, str] | None:
    # A crowd asking at once reads the stamp from the cache (STAMP_CACHE_SECONDS).
    key = stamp_cache_key(token_hash(token))
    cached = _cache_get(key)
    if cached is not None and cached != STAMP_TOMBSTONE:
        return tuple(cached) if cached else None
    found = page_stamp(token, timezone.now())
    # An unknown link is remembered too, so guessing at links costs no query either. Only
    # where no stamp is: never over the mark a rotated, disabled or enabled link leaves.
    try:
        cache.add(key, list(found) if found else [], STAMP_CACHE_SECONDS)
    except Exception:
        logger.warning("Status page cache unavailable; not kept.", exc_info=True)
    return found


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    sent = request.META.get("HTTP_IF_NONE_MATCH", "")
    return any(part.strip().removeprefix("W/") == etag for part in sent.split(",")) or (
        sent.strip() == "*"
    )


def _public(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.STATUS_PAGE_MAX_AGE_SECONDS)
    # The link is the key: search engines must not list it, nor referrers leak it.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "HEAD"])
def status_page(request: HttpRequest, token: str) -> HttpResponse:
    """The public page: states, 90-day uptime bars, incidents, maintenance."""
    found = _stamp(token)
    if found is None:
        raise Http404("No status page at this address.")
    page_id, stamp = found
    etag = f'"{stamp}"'
    if _etag_matches(request, etag):
        return _public(HttpResponse(status=304), etag)
    body_key = f"status:body:{page_id}:{stamp}"
    body = _cache_get(body_key)
    if body is None:
        page = page_for_token(token)
        if page is None:  # rotated or disabled since the stamp was read
            raise Http404("No status page at this address.")
        content = page_content(page)
        body = render_to_string(
            "reporting/status/page.html",
            {"content": content, "token": token, "form": SubscribeForm()},
        )
        _cache_set(body_key, body, BODY_CACHE_SECONDS)
    return _public(HttpResponse(body), etag)


def _message(
    request: HttpRequest, title: str, text: str, status: int = 200, **extra
) -> HttpResponse:
    response = render(
        request,
        "reporting/status/message.html",
        {"title": title, "text": text, **extra},
        status=status,
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Not no-referrer: under it browsers send "Origin: null" with the page's own form, which
    # the CSRF check refuses. same-origin still keeps the signed link from other sites.
    response["Referrer-Policy"] = "same-origin"
    patch_cache_control(response, private=True, no_store=True)
    return response


@csrf_exempt
@require_POST
def status_subscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Ask for notices: a confirmation email goes to the address (double opt-in)."""
    page = page_for_token(token)
    if page is None:
        raise Http404("No status page at this address.")
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _message(
            request,
            "Check the address",
            "; ".join(form.errors.get("email", ["Enter an email address."])),
            status=400,
            back=token,
        )
    outcome = subscribe(page, form.cleaned_data["email"], client_ip(request))
    if outcome.result == "unavailable":
        response = _message(
            request,
            "Try again shortly",
            "Subscriptions are paused for a moment. Try again in a minute.",
            status=503,
            back=token,
        )
        response["Retry-After"] = "60"
        return response
    if outcome.result == "limited":
        response = _message(
            request,
            "Too many requests",
            "Too many subscription requests for this address or from your network. "
            "Try again in an hour.",
            status=429,
            back=token,
        )
        response["Retry-After"] = "3600"
        return response
    return _message(
        request,
        "Check your inbox",
        f"If {form.cleaned_data['email']} can receive email, a confirmation link is on its "
        f"way. Notices of {page.name} start once you follow it.",
        back=token,
    )


def _usable(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH


@require_http_methods(["GET", "POST"])
def status_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners follow links; they must not confirm), POST confirms."""
    if request.method == "GET":
        return _message(
            request,
            "Confirm your subscription",
            "Confirm that you want incident and maintenance notices at this address.",
            action="Confirm subscription",
        )
    outcome = subscriber_confirm(token) if _usable(token) else None
    if outcome is None or outcome.result == "invalid":
        return _message(
            request,
            "Link not valid",
            "This confirmation link was used already, replaced by a newer one, or is not "
            "complete. Subscribe again on the status page to get a new one.",
            status=400,
        )
    if outcome.result == "expired":
        return _message(
            request,
            "Link expired",
            "This confirmation link has expired. Subscribe again on the status page.",
            status=400,
        )
    return _message(
        request,
        "Subscribed",
        f"You will receive notices of {outcome.subscriber.page.name} at "
        f"{outcome.subscriber.email}. Every notice has a link to unsubscribe.",
    )


@csrf_exempt  # RFC 8058: mail programs POST here without a session (the link is signed).
@require_http_methods(["GET", "POST"])
def status_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, POST unsubscribes (also the mail program's List-Unsubscribe-Post click)."""
    if request.method == "GET":
        return _message(
            request,
            "Unsubscribe",
            "Stop receiving incident and maintenance notices at this address?",
            action="Unsubscribe",
        )
    outcome = subscriber_unsubscribe(token) if _usable(token) else None
    if outcome is None or outcome.result != "ok":
        return _message(
            request, "Link not valid", "This unsubscribe link is not complete.", status=400
        )
    return _message(
        request,
        "Unsubscribed",
        f"{outcome.subscriber.email} will receive no more notices of "
        f"{outcome.subscriber.page.name}.",
    )
