"""Comparing two versions of an agreement, section by section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agreements.diff import TERMS, diff_snapshots
from agreements.forms.lifecycle import CompareForm
from agreements.sections import MARKDOWN_FIELDS, SECTIONS_BY_KEY
from agreements.views.lifecycle import visible_agreement


@dataclass(frozen=True)
class SectionChanges:
    key: str
    title: str
    changes: list


def _section_title(key: str) -> str:
    if key == TERMS:
        return "Terms"
    section = SECTIONS_BY_KEY.get(key)
    return f"{section.number}. {section.title}" if section else "Other"


@login_required
@require_safe
def version_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two versions side by side (``?a=<n>&b=<n>``; by default the latest and the one before
    it): per changed section the old and new values, narrative text word by word."""
    agreement = visible_agreement(request, pk)
    versions = list(agreement.versions.defer("snapshot").order_by("number"))
    numbers = [version.number for version in versions]
    context: dict[str, Any] = {"agreement": agreement, "versions": versions, "sections": []}
    if not numbers:
        return render(request, "agreements/lifecycle/compare.html", context)

    form = CompareForm(request.GET, numbers=numbers)
    context["form"] = form
    if not form.is_valid():
        return render(request, "agreements/lifecycle/compare.html", context, status=400)
    a, b = form.cleaned_data["a"], form.cleaned_data["b"]
    pair = {v.number: v for v in agreement.versions.filter(number__in=[n for n in (a, b) if n])}
    old, new = pair.get(a), pair[b]
    context.update(old=old, new=new)
    if old is not None and old.pk != new.pk:
        context["sections"] = [
            SectionChanges(diff.key, _section_title(diff.key), diff.changes)
            for diff in diff_snapshots(old.snapshot, new.snapshot, MARKDOWN_FIELDS)
        ]
    return render(request, "agreements/lifecycle/compare.html", context)
