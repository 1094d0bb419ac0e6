"""Dashboards: live compliance for customers, the provider's overview.

``/dashboard/`` renders the page; its live part is a partial that htmx fetches every few
seconds (``/dashboard/live/``). The poll carries the fingerprint of the data the browser
shows (``reporting.selectors.fingerprint``): one small query decides, *before* anything is
built or rendered, whether anything changed. When nothing did the answer is ``204 No
Content`` and htmx leaves the page alone, so focus, scroll position and open ``<details>``
survive; when a new evaluation changed a figure, the partial comes back and replaces the
old one. Countdowns are kept current by the browser, so time passing alone is no change.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from agreements.selectors import agreements_visible_to

from .selectors import (
    breach_history,
    customer_dashboard,
    provider_dashboard,
    signed_agreements_to_come,
)
from .selectors.fingerprint import dashboard_fingerprint

# How often the browser asks for news; a new evaluation shows within this plus the render.
POLL_SECONDS = 3
BREACH_PAGE_SIZE = 50


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


def _render_live(request: HttpRequest) -> str:
    template, context = _live_context(request)
    return render_to_string(template, context, request=request)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The customer's live compliance, or the provider's overview, by who is asking."""
    # The fingerprint is read before the data: a change in between shows at the next poll.
    version = dashboard_fingerprint(request.user)
    return render(
        request,
        "reporting/dashboard.html",
        {"live_body": _render_live(request), "version": version, "poll_seconds": POLL_SECONDS},
    )


def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The live part of the dashboard; 204, from one query, when it is what the browser
    already shows."""
    if not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out tab must not swap in the login page.
        return HttpResponse(status=286)
    version = dashboard_fingerprint(request.user)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    return render(
        request,
        "reporting/_dashboard_live.html",
        {"live_body": _render_live(request), "version": version, "poll_seconds": POLL_SECONDS},
    )


@login_required
def agreement_breaches(request: HttpRequest, pk: int) -> HttpResponse:
    """Every breach of one agreement the user may see, newest first, a page at a
    time (the dashboard shows the newest few)."""
    agreement = agreements_visible_to(request.user).filter(pk=pk).first()
    if agreement is None:
        raise Http404("No such agreement.")
    page = Paginator(breach_history(request.user, agreement), BREACH_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reporting/dashboard_breaches.html",
        {"agreement": agreement, "page": page},
    )
