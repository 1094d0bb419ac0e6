"""The organisation page: its people with role, state and last login, its signatories and
escalation contacts, and (for provider admins) the actions on its accounts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from reporting.selectors.people import organisation_page
from sla_portal.core.selectors import organisations_visible_to


@login_required
@require_safe
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = get_object_or_404(organisations_visible_to(request.user), slug=slug)
    return render(
        request,
        "core/organisation_detail.html",
        {"page": organisation_page(request.user, organisation), "organisation": organisation},
    )
