"""Dashboards: live compliance for customers, the provider's overview.

``/dashboard/`` renders the page; its live part is a partial that htmx fetches every few
seconds (``/dashboard/live/``). The poll carries the fingerprint of the data the browser
shows (``reporting.selectors.fingerprint``): one small query decides, *before* anything is
built or rendered, whether anything changed. When nothing did the answer is ``204 No
Content`` and htmx leaves the page alone, so focus, scroll position and open ``<details>``
survive; when a new evaluation changed a figure, the partial comes back and replaces the
old one. Countdowns are kept current by the browser, so time passing alone is no change.

The rendered live part is cached under that fingerprint (``LIVE_CACHE_SECONDS``): equal
fingerprints mean equal pages, so everyone of one organisation who opens or polls the page
after a change gets the render of the first, and an unchanged page costs the fingerprint
query plus a cache read. The key names the organisation (or the provider view) besides the
fingerprint, so one organisation's partial is never served to another even if both
fingerprints were equal. The countdowns in a cached render are as old as the render: it says
"as of" when it was made, and the browser recounts them (and hides that note) every second.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from agreements.selectors import agreements_visible_to
from reporting.selectors.breaches import breach_history
from reporting.selectors.dashboards import (
    customer_dashboard,
    provider_dashboard,
    signed_agreements_to_come,
)
from reporting.selectors.experience import experience_from_results
from reporting.selectors.fingerprint import dashboard_fingerprint
from sla_portal.core.models import User

logger = logging.getLogger(__name__)

# How often the browser asks for news; a new evaluation shows within this plus the render.
POLL_SECONDS = 3
BREACH_PAGE_SIZE = 50
# A safety net only: a change of data changes the fingerprint, and with it the key.
LIVE_CACHE_SECONDS = 60


def _live_context(request: HttpRequest) -> tuple[str, dict]:
    now = timezone.now()
    if request.user.is_provider:
        board = provider_dashboard(request.user, now)
        shown = {
            light.agreement.pk: [t.current for t in light.targets] for light in board.agreements
        }
        return "reporting/_dashboard_provider.html", {
            "board": board,
            "experience": experience_from_results(request.user, shown),
            "now": now,
        }
    panels = customer_dashboard(request.user, now)
    shown = {panel.agreement.pk: [t.current for t in panel.targets] for panel in panels}
    return "reporting/_dashboard_customer.html", {
        "panels": panels,
        # Experience beside compliance, from the rows the panels read (no query of its own).
        "experience": experience_from_results(request.user, shown),
        "to_come": list(signed_agreements_to_come(request.user)),
        "now": now,
    }


def _render_live(request: HttpRequest) -> str:
    template, context = _live_context(request)
    return render_to_string(template, context, request=request)


def live_cache_key(user: User, version: str) -> str:
    """Who sees this render, and of which data. The partials show no per-user or per-role
    content (a customer's viewers and approvers see the same page), so the audience is the
    organisation for a customer, every provider user for the provider view, and each
    superuser outside the provider organisation on their own (they see every organisation)."""
    if user.is_provider:
        audience = "provider"
    elif user.is_superuser:
        audience = f"superuser-{user.pk}"
    else:
        audience = f"org-{user.organisation_id}"
    return f"dashboard-live:{audience}:{version}"


def _live_body(request: HttpRequest, version: str) -> str:
    """The live part for ``version``: from the cache when someone of the same audience
    already rendered it, else rendered and kept for the next request. The cache only saves
    work: when it cannot be reached the page is rendered as if it were empty."""
    cache = caches["dashboard"]
    key = live_cache_key(request.user, version)
    try:
        body = cache.get(key)
    except Exception:  # any failure (Redis down) means "not cached"
        logger.warning("Dashboard cache unavailable; rendering without it.", exc_info=True)
        return _render_live(request)
    if body is None:
        body = _render_live(request)
        try:
            cache.set(key, body, LIVE_CACHE_SECONDS)
        except Exception:
            logger.warning("Dashboard cache unavailable; render not kept.", exc_info=True)
    return body


def _page_context(request: HttpRequest, version: str) -> dict:
    return {
        "live_body": _live_body(request, version),
        "version": version,
        "poll_seconds": POLL_SECONDS,
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The customer's live compliance, or the provider's overview, by who is asking."""
    # The fingerprint is read before the data: a change in between shows at the next poll.
    version = dashboard_fingerprint(request.user)
    return render(
        request,
        "reporting/dashboard.html",
        _page_context(request, version),
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
        _page_context(request, version),
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
