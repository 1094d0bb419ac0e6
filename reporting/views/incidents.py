"""Incidents and status page links in the portal.

Incidents: every signed-in person lists and reads the incidents they may see (a customer its
own organisation's, without the provider's internal notes); provider service managers and
admins post incidents and their updates. Status page links: provider staff see them; service
managers and admins create, rotate, disable and enable them (a new link is shown once).
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from reporting.forms.status import IncidentForm, IncidentUpdateForm, StatusPageForm
from reporting.selectors.status import incidents_visible_to, status_pages_visible_to
from reporting.services.status import (
    incident_create,
    incident_update_post,
    status_page_create,
    status_page_rotate,
    status_page_set_enabled,
)

PAGE_SIZE = 25


def require_incident_writer(view):
    """Provider service managers and admins; others 403 (a customer 404 on a page it
    cannot know)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only the provider's service managers post incidents.")
        return view(request, *args, **kwargs)

    return wrapper


def require_provider_staff(view):
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_provider:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def _form_errors(form, error: ValidationError) -> None:
    for field, texts in error.message_dict.items():
        form.add_error(field if field in form.fields else None, texts)


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = incidents_visible_to(request.user)
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "reporting/status/incident_list.html",
        {"page_obj": page, "incidents": page.object_list},
    )


@require_incident_writer
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incident_create(
                customer=data["customer"],
                title=data["title"],
                impact=data["impact"],
                services=data["services"],
                message=data["message"],
                status=data["status"],
                internal_note=data["internal_note"],
                by=request.user,
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Incident posted; subscribers are being notified.")
            return redirect("reporting:incident-detail", pk=incident.pk)
    return render(request, "reporting/status/incident_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(incidents_visible_to(request.user), pk=pk)
    form = IncidentUpdateForm(request.POST or None, initial={"status": incident.status})
    if request.method == "POST":
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only the provider's service managers post updates.")
        if form.is_valid():
            try:
                incident_update_post(
                    incident,
                    form.cleaned_data["status"],
                    form.cleaned_data["message"],
                    request.user,
                )
            except ValidationError as error:
                _form_errors(form, error)
            else:
                messages.success(request, "Update posted; subscribers are being notified.")
                return redirect("reporting:incident-detail", pk=incident.pk)
    return render(
        request,
        "reporting/status/incident_detail.html",
        {
            "incident": incident,
            "form": form,
            "can_post": request.user.can_draft_agreements and incident.is_active,
            "show_internal": request.user.is_provider,
        },
    )


@require_provider_staff
@require_http_methods(["GET", "POST"])
def status_page_list(request: HttpRequest) -> HttpResponse:
    form = StatusPageForm(request.POST or None)
    new_link = None
    if request.method == "POST":
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only the provider's service managers manage status pages.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                page, token = status_page_create(
                    data["customer"], data["name"], data["services"], request.user
                )
            except ValidationError as error:
                _form_errors(form, error)
            else:
                new_link = (page, request.build_absolute_uri(reverse("status-page", args=[token])))
                form = StatusPageForm()
    pages = status_pages_visible_to(request.user).prefetch_related("services")
    return render(
        request,
        "reporting/status/page_list.html",
        {"form": form, "pages": pages, "new_link": new_link},
    )


@require_incident_writer
@require_POST
def status_page_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    page = get_object_or_404(status_pages_visible_to(request.user), pk=pk)
    new_link = None
    if action == "rotate":
        token = status_page_rotate(page)
        new_link = (page, request.build_absolute_uri(reverse("status-page", args=[token])))
        messages.success(request, f"{page.name} has a new link; the old one no longer works.")
    elif action in ("disable", "enable"):
        status_page_set_enabled(page, action == "enable")
        messages.success(request, f"{page.name} is {action}d.")
        return redirect("reporting:status-page-list")
    else:
        raise Http404("No such action.")
    pages = status_pages_visible_to(request.user).prefetch_related("services")
    return render(
        request,
        "reporting/status/page_list.html",
        {"form": StatusPageForm(), "pages": pages, "new_link": new_link},
    )
