"""The agreement document: the readable page and its PDF, for both sides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from agreements.models import Agreement
from agreements.pdf import render_agreement_pdf
from agreements.presentation import document_context
from agreements.selectors import agreement_document


def _visible_agreement(request: HttpRequest, pk: int) -> Agreement:
    # 404 rather than 403 for another organisation's agreement: a customer must not learn
    # that a reference exists.
    try:
        return agreement_document(request.user, pk)
    except Agreement.DoesNotExist:
        raise Http404("No such agreement.") from None


def agreement_page(
    request: HttpRequest,
    pk: int,
    *,
    extra_context: Callable[[Agreement], dict[str, Any]] | None = None,
) -> HttpResponse:
    """All ten sections of one agreement; the provider also sees differences from the tier
    and what is still missing, and a service manager gets edit links while it is a draft.

    The page also shows how the agreement performs, which reporting knows and agreements may
    not import (apps point down): the routed view, ``reporting.views.agreements
    .agreement_detail``, logs the user in and passes that part as ``extra_context``."""
    agreement = _visible_agreement(request, pk)
    context = document_context(agreement, review=request.user.is_provider)
    context["can_edit"] = request.user.can_draft_agreements and agreement.is_editable
    if extra_context is not None:
        context.update(extra_context(agreement))
    return render(request, "agreements/document.html", context)


@login_required
def agreement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement as a signable PDF (attachment named after its reference)."""
    agreement = _visible_agreement(request, pk)
    pdf = render_agreement_pdf(agreement, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    # The header helper quotes or encodes whatever characters the reference holds.
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{agreement.reference}.pdf"
    )
    return response
