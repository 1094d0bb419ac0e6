"""Home and the work inbox: what is waiting for the person who is logged in.

Home lives here rather than in ``core`` because it shows the inbox, which reads agreements and
monitoring (layers point down only: core ← agreements ← monitoring ← reporting).

The navigation's count is not computed by a context processor: every page would pay for the
inbox's queries, including the pages whose query counts are guarded. Pages that compute the
inbox anyway (Home, /inbox/) pass it to the navigation; every other page lets htmx fetch the
small badge from ``/inbox/badge/`` once it has loaded.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reporting.selectors.inbox import inbox_for
from sla_portal.core.selectors import organisations_visible_to

# Items per kind in Home's panel; the inbox page lists them all.
HOME_ITEMS_PER_KIND = 3


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    inbox = inbox_for(request.user)
    return render(
        request,
        "core/home.html",
        {
            "inbox": inbox,
            "inbox_groups": inbox.groups(limit=HOME_ITEMS_PER_KIND),
            "organisations": organisations_visible_to(request.user),
        },
    )


@login_required
@require_safe
def inbox_page(request: HttpRequest) -> HttpResponse:
    inbox = inbox_for(request.user)
    return render(
        request,
        "reporting/inbox.html",
        {"inbox": inbox, "inbox_groups": inbox.groups(), "full_list": True},
    )


@never_cache
@require_safe
def inbox_badge(request: HttpRequest) -> HttpResponse:
    """The navigation's count, fetched by htmx after the page loaded.

    Logged out meanwhile (another tab), the answer is 204 No Content, which htmx leaves
    alone: a redirect to the login page would put that whole page into the navigation."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(request, "includes/inbox_badge.html", {"inbox": inbox_for(request.user)})
