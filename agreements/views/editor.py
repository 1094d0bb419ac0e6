"""The multi-section editor: terms, then the ten ITIL sections, each saved as a draft."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sla_portal.core.permissions import require_drafter

from ..forms.agreement import related_formsets, section_form_class, terms_form_class
from ..forms.targets import agreement_targets_formset, share_choices, table_columns
from ..models import Agreement
from ..sections import SECTIONS, SECTIONS_BY_KEY, Section
from ..selectors import agreements_visible_to
from ..services import differing_target_ids, missing_sections

TERMS = Section(
    "terms",
    0,
    "Terms",
    "Title, reference, effective dates, review interval and the services covered.",
    (),
)
EDITOR_SECTIONS = (TERMS, *SECTIONS)


@login_required
@require_drafter
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect("agreements:edit-section", pk=pk, section="terms")


@login_required
@require_drafter
def section_edit(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    """Edit one section; everything on the page is saved together or not at all."""
    agreement = get_object_or_404(agreements_visible_to(request.user), pk=pk)
    if section == "terms":
        current = TERMS
    elif section in SECTIONS_BY_KEY:
        current = SECTIONS_BY_KEY[section]
    else:
        raise Http404("No such section.")
    if not agreement.is_editable:
        messages.error(request, agreement.not_editable_reason)
        return redirect(agreement)

    data = request.POST if request.method == "POST" else None
    form_class = terms_form_class() if current is TERMS else section_form_class(current.fields)
    form = form_class(data, instance=agreement, prefix="section")
    related = related_formsets(current, agreement, data) if current.related else []
    targets = None
    if current.target_metrics:
        formset_class = agreement_targets_formset(current.target_metrics)
        targets = formset_class(
            data,
            instance=agreement,
            prefix="targets",
            queryset=agreement.targets.filter(metric__in=current.target_metrics).select_related(
                "calendar"
            ),
        )
        share_choices(targets, "calendar")

    if request.method == "POST":
        parts = [form, *(formset for _n, _t, formset in related)]
        if targets is not None:
            parts.append(targets)
        if all(part.is_valid() for part in parts):
            with transaction.atomic():
                # Lock and look again: a proposal or acceptance may have come in meanwhile.
                locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
                if not locked.is_editable:
                    messages.error(request, locked.not_editable_reason)
                    return redirect(locked)
                for part in parts:
                    part.save()
            if agreement.status == agreement.Status.DRAFT:
                messages.success(request, f"{current.title} saved. The agreement is still a draft.")
            else:
                # Negotiating: the edit becomes a counter-proposal once it is sent.
                messages.success(
                    request,
                    f"{current.title} saved. Send a new proposal when your changes are ready.",
                )
            return redirect(_after_save(request, agreement.pk, current))
        messages.error(request, "Nothing was saved: please correct the marked fields.")

    return render(
        request,
        "agreements/editor/section.html",
        {
            "agreement": agreement,
            "section": current,
            "sections": EDITOR_SECTIONS,
            "form": form,
            "related": related,
            "targets": targets,
            "missing": missing_sections(agreement),
            "differing_targets": differing_target_ids(agreement) if targets is not None else set(),
            "next_section": _next(current),
            "columns": table_columns(current.target_metrics) if targets is not None else {},
        },
        status=400 if request.method == "POST" else 200,
    )


def _next(current: Section) -> Section | None:
    index = EDITOR_SECTIONS.index(current)
    return EDITOR_SECTIONS[index + 1] if index + 1 < len(EDITOR_SECTIONS) else None


def _after_save(request: HttpRequest, pk: int, current: Section) -> str:
    from django.urls import reverse

    following = _next(current)
    if "save_next" in request.POST and following is not None:
        return reverse("agreements:edit-section", args=[pk, following.key])
    if "save_close" in request.POST:
        return reverse("agreements:detail", args=[pk])
    return reverse("agreements:edit-section", args=[pk, current.key])
