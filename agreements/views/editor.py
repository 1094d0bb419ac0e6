"""The multi-section editor: terms, then the ten ITIL sections, each saved as a draft."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from agreements.calendars import chosen_calendars, target_calendar
from agreements.facts import agreement_completeness
from agreements.forms.agreement import related_formsets, section_form_class, terms_form_class
from agreements.forms.targets import agreement_targets_formset, share_choices, table_columns
from agreements.models import Agreement, Target
from agreements.sections import (
    CALENDAR_SECTIONS,
    SECTIONS,
    SECTIONS_BY_KEY,
    Section,
    calendar_section_for,
)
from agreements.selectors import agreements_visible_to
from agreements.tier_differences import differing_target_ids
from sla_portal.core.permissions import require_drafter

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
    chosen = chosen_calendars(agreement)
    if current.target_metrics:
        formset_class = agreement_targets_formset(
            current.target_metrics, _inherited_label(current, chosen)
        )
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
    report = agreement_completeness(agreement)
    notes = _calendar_notes(agreement, current, chosen)
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
            "missing": report.missing,
            "essential": {gap.what for gap in report.blocking},
            "error_summary": error_summary(form, related, targets),
            "target_rows": (
                [
                    (row, target_calendar(row.instance, chosen, current.target_metrics[0]))
                    for row in targets.forms
                ]
                if targets is not None
                else []
            ),
            "calendar_notes": notes,
            "calendar_conflicts": sum(1 for note in notes if note["calendar"].disagrees),
            "differing_targets": differing_target_ids(agreement) if targets is not None else set(),
            "next_section": _next(current),
            "columns": table_columns(current.target_metrics) if targets is not None else {},
        },
        status=400 if request.method == "POST" else 200,
    )


def _inherited_label(current: Section, chosen: dict) -> str:
    """The empty calendar choice of a targets table: the calendar the section gives."""
    key = calendar_section_for(current.target_metrics[0], chosen)
    if key is None:
        return "24x7 (no calendar chosen in sections 2 or 4)"
    source = SECTIONS_BY_KEY[key]
    return f"As section {source.number}: {chosen[key].name}"


def _calendar_notes(agreement: Agreement, current: Section, chosen: dict) -> list[dict]:
    """On the calendar sections (2 and 4): the targets this section's calendar reaches, and
    those that name another calendar of their own."""
    if current.key not in CALENDAR_SECTIONS:
        return []
    notes = []
    for target in agreement.targets.select_related("calendar"):
        effective = target_calendar(target, chosen)
        if effective.section is None or effective.section.key != current.key:
            continue
        notes.append({"target": target, "calendar": effective})
    return notes


def error_summary(form, related, targets) -> list[dict]:
    """Where the problems are, each a link to its field; the messages themselves are shown
    once, beside their fields."""
    found = []
    for name, errors in form.errors.items():
        if name == "__all__":
            found.append({"href": "#editor-form", "text": f"The section: {errors[0]}"})
        else:
            found.append({"href": f"#{form[name].auto_id}", "text": form.fields[name].label})
    formsets = [(title, formset) for _n, title, formset in related]
    if targets is not None:
        formsets.append(("Targets", targets))
    for title, formset in formsets:
        for error in formset.non_form_errors():
            found.append({"href": f"#{formset.prefix}-table", "text": f"{title}: {error}"})
        for number, row in enumerate(formset.forms, start=1):
            if not row.errors:
                continue
            if isinstance(row.instance, Target) and row.instance.metric:
                what = row.instance.label
            else:
                what = str(row.instance) if row.instance.pk else "new row"
            where = f"{title}, row {number} ({what})"
            for name in row.errors:
                if name == "__all__":
                    found.append({"href": f"#{row.prefix}-errors", "text": where})
                elif name in row.fields:
                    label = row.fields[name].label
                    found.append({"href": f"#{row[name].auto_id}", "text": f"{where}: {label}"})
    return found


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
