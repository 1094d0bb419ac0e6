"""Agreement list and 'new agreement from tier'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from agreements.forms.agreement import NewAgreementForm
from agreements.models import Agreement
from agreements.selectors import agreements_visible_to
from agreements.services.drafting import AgreementError, agreement_create_from_tier
from sla_portal.core.permissions import require_drafter


@login_required
def agreement_list(request: HttpRequest) -> HttpResponse:
    """Agreements the user may see, filterable by status and searchable by title/reference."""
    agreements = (
        agreements_visible_to(request.user)
        .prefetch_related("services")
        .annotate(target_count=Count("targets", distinct=True))
        .order_by("-updated_at")
    )
    status = request.GET.get("status", "")
    if status in Agreement.Status.values:
        agreements = agreements.filter(status=status)
    query = request.GET.get("q", "").strip()
    if query:
        from django.db.models import Q

        agreements = agreements.filter(Q(title__icontains=query) | Q(reference__icontains=query))
    page = Paginator(agreements, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/list.html",
        {"page": page, "status": status, "query": query, "statuses": Agreement.Status.choices},
    )


@login_required
@require_drafter
def agreement_create(request: HttpRequest) -> HttpResponse:
    """Start a draft from a tier template: the tier's defaults are copied in."""
    form = NewAgreementForm(request.POST or None, initial={"tier": request.GET.get("tier")})
    if request.method == "POST" and form.is_valid():
        try:
            agreement = agreement_create_from_tier(created_by=request.user, **form.cleaned_data)
        except AgreementError as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            # A rule of the agreement model (e.g. a tier default out of range): say which.
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(
                request,
                f"Draft {agreement.reference} created"
                + (f" from the {agreement.tier} tier." if agreement.tier else "."),
            )
            return redirect("agreements:edit", pk=agreement.pk)
    return render(request, "agreements/create.html", {"form": form})
