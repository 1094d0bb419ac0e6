"""OpenSLO on the agreement pages: import into a draft (upload or paste, preview, confirm)
and export the targets as a YAML download."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header

from agreements.forms.openslo import OpenSLOImportForm
from agreements.selectors import agreements_visible_to
from agreements.services.openslo import (
    AgreementNotEditable,
    ImportPlan,
    OpenSLOImportRefused,
    openslo_export,
    openslo_import,
    openslo_plan,
)
from sla_portal.core.permissions import DrafterOrReadOnly

DRAFTERS_ONLY = DrafterOrReadOnly.message


@login_required
def openslo_import_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload or paste a file, see what it would do (targets, rule-based changes, errors per
    document), then confirm: the confirmation carries the same text and imports it."""
    # The agreement first: another organisation's answers 404 whoever asks (a 403 would say
    # that it exists); then only those who draft may import.
    agreement = get_object_or_404(agreements_visible_to(request.user), pk=pk)
    if not request.user.can_draft_agreements:
        raise PermissionDenied(DRAFTERS_ONLY)
    if not agreement.is_editable:
        messages.error(request, agreement.not_editable_reason)
        return redirect(agreement)
    plan, text = None, ""
    form = OpenSLOImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        filename = form.cleaned_data.get("filename", "")
        if "confirm" in request.POST:
            try:
                plan = openslo_import(
                    user=request.user, agreement=agreement, text=text, filename=filename
                )
            except AgreementNotEditable as exc:
                messages.error(request, str(exc))
                return redirect(agreement)
            except OpenSLOImportRefused as exc:
                plan = exc.plan
            else:
                counts = plan.counts()
                messages.success(
                    request,
                    f"OpenSLO imported: {counts['create']} target(s) added, {counts['update']} "
                    f"changed, {counts['unchanged']} unchanged; {len(plan.notes)} value(s) set "
                    "by a rule (see the history for the details).",
                )
                return redirect(agreement)
        else:
            plan = openslo_plan(user=request.user, agreement=agreement, text=text)
    confirm_form = None
    if plan is not None and plan.ok:
        # An upload is passed on as bytes, so the reader refuses one that is not UTF-8 (as the
        # API does) rather than importing "caf\ufffd"; read without a problem, it is UTF-8.
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        confirm_form = OpenSLOImportForm(
            initial={"yaml": text, "filename": form.cleaned_data.get("filename", "")}
        )
    return render(
        request,
        "agreements/openslo/import.html",
        {
            "agreement": agreement,
            "form": form,
            "plan": plan,
            "confirm_form": confirm_form,
            "notes_by_document": _by_document(plan, plan.notes) if plan else [],
            "errors_by_document": _by_document(plan, plan.problems) if plan else [],
        },
    )


def _by_document(plan: ImportPlan, items: list) -> list[tuple[str, list]]:
    """Errors or notes grouped under the document they belong to, in file order."""
    objects = {o.index: o for o in plan.objects}
    groups: dict[int | None, list] = {}
    for item in items:
        groups.setdefault(item.index, []).append(item)
    result = []
    for index in sorted(groups, key=lambda i: -1 if i is None else i):
        if index is None or index not in objects:
            heading = "The file"
        else:
            obj = objects[index]
            heading = f"Document #{index + 1}"
            heading += f" · {obj.kind}" if obj.kind else ""
            heading += f" “{obj.name}”" if obj.name else ""
        result.append((heading, groups[index]))
    return result


@login_required
def openslo_export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement's availability and performance targets as an OpenSLO YAML file."""
    agreement = get_object_or_404(agreements_visible_to(request.user), pk=pk)
    response = HttpResponse(
        openslo_export(user=request.user, agreement=agreement),
        content_type="application/yaml; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{agreement.reference}-openslo.yaml"
    )
    return response
