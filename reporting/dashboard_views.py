"""Dashboards: live compliance for customers, the provider's overview.

``/dashboard/`` renders the page; its live part is a partial that htmx fetches every few
seconds (``/dashboard/live/``). The poll carries a fingerprint of what the browser shows: when
nothing changed the answer is ``204 No Content`` and htmx leaves the page alone, so focus,
scroll position and open ``<details>`` survive; when a new evaluation changed a figure, the
partial comes back and replaces the old one.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from .selectors import customer_dashboard, provider_dashboard, signed_agreements_to_come

# How often the browser asks for news; a new evaluation shows within this plus the render.
POLL_SECONDS = 3


def _live_context(request: HttpRequest) -> tuple[str, dict]:
    now = timezone.now()
    if request.user.is_provider:
        return "reporting/_dashboard_provider.html", {
            "board": provider_dashboard(request.user, now),
            "now": now,
        }
    return "reporting/_dashboard_customer.html", {
        "panels": customer_dashboard(request.user, now),
        "to_come": list(signed_agreements_to_come(request.user)),
        "now": now,
    }


def _render_live(request: HttpRequest) -> tuple[str, str]:
    template, context = _live_context(request)
    body = render_to_string(template, context, request=request)
    return body, hashlib.sha256(body.encode()).hexdigest()[:16]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The customer's live compliance, or the provider's overview, by who is asking."""
    body, version = _render_live(request)
    return render(
        request,
        "reporting/dashboard.html",
        {"live_body": body, "version": version, "poll_seconds": POLL_SECONDS},
    )


def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The live part of the dashboard; 204 when it is what the browser already shows."""
    if not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out tab must not swap in the login page.
        return HttpResponse(status=286)
    body, version = _render_live(request)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    return render(
        request,
        "reporting/_dashboard_live.html",
        {"live_body": body, "version": version, "poll_seconds": POLL_SECONDS},
    )
