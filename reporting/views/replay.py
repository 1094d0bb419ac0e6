"""Negotiating with evidence: a proposal's targets replayed on history, in a page or panel.

The editor and the comparison of versions load the panel with htmx; opened directly the
same URL is a page. A replay too large for the request answers with a progress bar that
polls this same URL until the queued replay's result is in the cache.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from agreements.selectors import agreements_visible_to
from monitoring.presentation import status_badge
from reporting.replay.runs import (
    ReplayError,
    ReplayRequest,
    may_replay,
    progress_of,
    replay_for,
)


@login_required
@require_safe
def replay_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """``?version=draft|<n>&periods=12&until=YYYY-MM-DD``: the replay, or its progress."""
    if not may_replay(request.user):
        raise PermissionDenied("Only the provider's managers and the customer's approvers.")
    agreement = get_object_or_404(agreements_visible_to(request.user), pk=pk)
    partial = bool(request.headers.get("HX-Request"))
    context = {"agreement": agreement, "query": request.GET.urlencode(), "partial": partial}
    template = "reporting/replay/_panel.html" if partial else "reporting/replay/page.html"
    try:
        replay = ReplayRequest.parse(request.GET, timezone.localdate())
        key, result = replay_for(request.user, agreement, replay)
    except ReplayError as exc:
        context["error"] = exc
        # htmx swaps only 2xx answers by default: the panel shows the reason in place.
        return render(request, template, context, status=200 if partial else exc.status)
    if result is None:
        context["progress"] = _progress(progress_of(key))
    else:
        context.update(result=result, rows=display_rows(result))
    return render(request, template, context)


def _progress(found: dict | None) -> dict:
    found = found or {"done": 0, "total": 1, "state": "queued", "error": ""}
    total = max(found["total"], 1)
    return found | {"percent": round(found["done"] * 100 / total)}


def display_rows(result: dict) -> list[dict]:
    """Per proposed target, its periods beside the version in force's (matched by key)."""
    current = {t["key"]: t for t in (result["current"] or {}).get("targets", [])}
    rows = []
    for target in result["proposed"]["targets"]:
        other = current.get(target["key"])
        other_periods = {p["start"]: p for p in other["periods"]} if other else {}
        cells = []
        for period in target["periods"]:
            theirs = other_periods.get(period["start"])
            cells.append(
                {
                    # The month whose report would show the period (a quarter: its last).
                    "month": datetime.strptime(period["month"], "%Y-%m").strftime("%b %Y"),
                    "badge": status_badge(period["status"]),
                    "value": value_text(period["value"], target["value_unit"]),
                    "current": status_badge(theirs["status"]) if theirs else None,
                    "current_value": value_text(theirs["value"], other["value_unit"])
                    if theirs
                    else "",
                }
            )
        rows.append({"target": target, "current": other, "cells": cells})
    return rows


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "percent":
        return f"{value:.3f}".rstrip("0").rstrip(".") + " %"
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"
