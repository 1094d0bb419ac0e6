"""Negotiating with evidence: a proposal's targets replayed on history, in a page or panel.

The editor and the comparison of versions load the panel with htmx; opened directly the
same URL is a page. A replay too large for the request answers with a progress bar that
polls this same URL until the queued replay's result is in the cache.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from agreements.selectors import agreements_visible_to
from monitoring.presentation import status_badge
from reporting.replay.runs import (
    ReplayError,
    ReplayRequest,
    may_replay,
    progress_of,
    replay_for,
)
from reporting.replay.uploads import replay_upload_poll, replay_upload_start


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def replay_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """``?version=draft|<n>&periods=12&until=YYYY-MM-DD``: the replay, or its progress. A
    POST with an export (``file``, ``format``, ``monitor``, ``service``) replays on it;
    ``?upload=<key>`` follows that replay."""
    if not may_replay(request.user):
        raise PermissionDenied("Only the provider's managers and the customer's approvers.")
    agreement = get_object_or_404(agreements_visible_to(request.user), pk=pk)
    partial = bool(request.headers.get("HX-Request"))
    # The polling URL never carries ``retry``: a "Try again" queues once, its polls only watch.
    polled = request.GET.copy()
    polled.pop("retry", None)
    context = {"agreement": agreement, "query": polled.urlencode(), "partial": partial}
    template = "reporting/replay/_panel.html" if partial else "reporting/replay/page.html"
    data = request.POST if request.method == "POST" else request.GET
    try:
        replay = ReplayRequest.parse(data, timezone.localdate())
        if request.method == "POST":
            key = replay_upload_start(
                request.user,
                agreement,
                replay,
                _file(request),
                request.POST.get("format", ""),
                request.POST.get("monitor", "").strip(),
                request.POST.get("service", ""),
            )
            context["query"] = urlencode({"upload": key})
            result = replay_upload_poll(agreement, key)
        elif request.GET.get("upload"):
            key = request.GET["upload"]
            result = replay_upload_poll(agreement, key)
        else:
            key, result = replay_for(request.user, agreement, replay)
    except ReplayError as exc:
        if exc.status == 404:
            raise Http404(exc.reason) from exc
        context["error"] = exc
        # htmx swaps only 2xx answers by default: the panel shows the reason in place.
        return render(request, template, context, status=200 if partial else exc.status)
    if result is None:
        context["progress"] = _progress(progress_of(key))
    else:
        rows = display_rows(result)
        context.update(
            result=result,
            rows=rows,
            months=month_headers(result),
            credit_cells=credit_cells(result),
        )
    return render(request, template, context)


def _file(request: HttpRequest):
    upload = request.FILES.get("file")
    if upload is None:
        raise ReplayError("file", "Choose the export to replay on.")
    return upload


def _progress(found: dict | None) -> dict:
    found = found or {"done": 0, "total": 1, "state": "queued", "error": ""}
    total = max(found["total"], 1)
    return found | {"percent": round(found["done"] * 100 / total)}


def display_rows(result: dict) -> list[dict]:
    """Per proposed target, its periods beside the version in force's (matched by key and
    by the month that reports the period: a term starting mid-month clips its first period,
    and the zones of the two sides may differ, so their starts need not be equal). One cell
    per month of the span replayed (``result["months"]``); a quarter or a year sits under
    the month it ends in, the other months of a longer target stay empty (``None``)."""
    current = {t["key"]: t for t in (result["current"] or {}).get("targets", [])}
    rows = []
    for target in result["proposed"]["targets"]:
        other = current.get(target["key"])
        other_periods = {p["month"]: p for p in other["periods"]} if other else {}
        mine = {p["month"]: p for p in target["periods"]}
        cells: list[dict | None] = []
        for month in span_of(result):
            period = mine.get(month)
            if period is None:
                cells.append(None)
                continue
            theirs = other_periods.get(month)
            cells.append(
                {
                    "month_key": month,
                    "badge": status_badge(period["status"]),
                    "value": value_text(period["value"], target["value_unit"]),
                    "closed": period.get("closed", True),
                    "current": status_badge(theirs["status"]) if theirs else None,
                    "current_value": value_text(theirs["value"], other["value_unit"])
                    if theirs
                    else "",
                }
            )
        rows.append({"target": target, "current": other, "cells": cells})
    return rows


def span_of(result: dict) -> list[str]:
    """The months of the span ("YYYY-MM"), oldest first (those of the periods for a result
    computed before the span was stored)."""
    if result.get("months"):
        return list(result["months"])
    return sorted({p["month"] for t in result["proposed"]["targets"] for p in t["periods"]})


def month_headers(result: dict) -> list[dict]:
    return [
        {"key": month, "label": datetime.strptime(month, "%Y-%m").strftime("%b %Y")}
        for month in span_of(result)
    ]


def credit_cells(result: dict) -> list[dict | None]:
    """The proposal's credits under the table's columns, one per month of the span, so the
    cells add up to the total beside them (a month without a credit computation is empty)."""
    months = {m["month"]: m for m in result["proposed"]["credits"]["months"]}
    return [months.get(month) for month in span_of(result)]


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "percent":
        return f"{value:.3f}".rstrip("0").rstrip(".") + " %"
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"
