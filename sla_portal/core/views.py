from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import health_report
from .selectors import organisations_visible_to, users_visible_to


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "core/home.html", {"organisations": organisations_visible_to(request.user)}
    )


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    organisations = organisations_visible_to(request.user)
    return render(request, "core/organisation_list.html", {"organisations": organisations})


@login_required
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = get_object_or_404(organisations_visible_to(request.user), slug=slug)
    members = users_visible_to(request.user).filter(organisation=organisation)
    return render(
        request,
        "core/organisation_detail.html",
        {"organisation": organisation, "members": members},
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
