"""Recompute pages: ask for a recompute, watch its progress bar, apply its corrections.

Provider service managers and admins only: a customer answers 404 (runs are not its data;
corrections reach it as corrected reports), other provider staff 403.
"""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agreements.models import Calendar
from monitoring.format import state_word
from monitoring.models import Source
from monitoring.presentation import status_badge
from reporting.models import RecomputeRun
from reporting.recompute.apply import recompute_apply
from reporting.recompute.runs import (
    RecomputeBusy,
    RecomputeError,
    monitored_agreements,
    recompute_cancel,
    recompute_request,
)
from reporting.selectors.recompute import recompute_runs_visible_to
from reporting.services.schedule import result_month

PAGE_SIZE = 25
# States are never colour alone: an icon and the word go with each (see portal.css .state).
STATUS_STYLE = {
    RecomputeRun.Status.QUEUED: ("text-body-secondary", "bi-clock", "bg-secondary"),
    RecomputeRun.Status.RUNNING: ("state-warn", "bi-arrow-repeat", "bg-info"),
    RecomputeRun.Status.SUCCEEDED: ("state-ok", "bi-check-circle-fill", "bg-success"),
    RecomputeRun.Status.FAILED: ("state-bad", "bi-exclamation-triangle-fill", "bg-danger"),
    RecomputeRun.Status.CANCELLED: ("text-body-secondary", "bi-slash-circle", "bg-secondary"),
}


def require_recompute(view):
    """Provider managers and admins; a customer gets 404, other provider staff 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_provider:
            raise Http404("No such page.")
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only service managers and admins recompute.")
        return view(request, *args, **kwargs)

    return wrapper


class RecomputeForm(forms.Form):
    scope = forms.ChoiceField(
        choices=RecomputeRun.Scope.choices,
        widget=forms.RadioSelect,
        initial=RecomputeRun.Scope.AGREEMENT,
        label="What to recompute",
    )
    agreement = forms.ModelChoiceField(
        queryset=monitored_agreements().order_by("reference"),
        required=False,
        help_text="All its tickets and targets.",
    )
    calendar = forms.ModelChoiceField(
        queryset=Calendar.objects.all(),
        required=False,
        help_text="Every agreement in force measured in it (after its public holidays changed).",
    )
    source = forms.ModelChoiceField(
        queryset=Source.objects.select_related("customer").order_by("name"),
        required=False,
        help_text="The tickets of this source (after it re-sent corrected data).",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was corrected: it goes into the audit trail and any report correction.",
    )

    def clean(self) -> dict:
        data = super().clean()
        scope = data.get("scope")
        if scope and not data.get(scope):
            self.add_error(scope, f"Choose the {scope} to recompute.")
        return data


def _run_context(run: RecomputeRun) -> dict:
    text_class, icon, bar_class = STATUS_STYLE[run.status]
    return {"run": run, "status_class": text_class, "status_icon": icon, "bar_class": bar_class}


@require_recompute
def recompute_list(request: HttpRequest) -> HttpResponse:
    """Past and running recomputes, and the form to start one (pre-filled from the calendar,
    agreement or source page that links here)."""
    if request.method == "POST":
        form = RecomputeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = recompute_request(
                    request.user,
                    scope=data["scope"],
                    reason=data["reason"],
                    now=timezone.now(),
                    agreement=data.get("agreement"),
                    calendar=data.get("calendar"),
                    source=data.get("source"),
                )
            except RecomputeBusy as busy:
                messages.error(request, str(busy))
                return redirect(busy.run)
            except RecomputeError as refused:
                form.add_error(None, str(refused))
            else:
                messages.success(request, f"{run} started: {run.scope_text}.")
                return redirect(run)
        status = 400
    else:
        initial = {}
        for scope in ("agreement", "calendar", "source"):
            if request.GET.get(scope, "").isdigit():
                initial = {"scope": scope, scope: int(request.GET[scope])}
        form = RecomputeForm(initial=initial)
        status = 200
    page = Paginator(recompute_runs_visible_to(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [_run_context(run) for run in page]
    return render(
        request,
        "reporting/recompute_list.html",
        {"form": form, "page": page, "rows": rows},
        status=status,
    )


def _dated(change: dict) -> dict:
    def parse(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return change | {
        "old_due_at": parse(change.get("old_due_at")),
        "new_due_at": parse(change.get("new_due_at")),
        "old_word": state_word(change["old_state"]) if change.get("old_state") else "",
        "new_word": state_word(change["new_state"]) if change.get("new_state") else "",
    }


@require_recompute
def recompute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: its progress bar (polled while it runs), what changed, and the closed-period
    corrections waiting to be applied."""
    run = get_object_or_404(recompute_runs_visible_to(request.user), pk=pk)
    corrections = list(run.corrections.select_related("agreement", "report", "applied_by"))
    for correction in corrections:
        # Named by the month the period ends in, like the reports (a UTC date would say
        # "31 Aug" for a September that starts at midnight in Berlin).
        correction.month = result_month(correction.period_end)
        correction.old_word = status_badge(correction.old_status).text
        correction.new_word = status_badge(correction.new_status).text
    context = _run_context(run) | {
        "corrections": corrections,
        "pending": [c for c in corrections if c.applied_at is None],
        "timer_changes": [_dated(change) for change in run.timer_changes],
        "agreements": run.agreements.order_by("reference"),
    }
    return render(request, "reporting/recompute_detail.html", context)


@require_recompute
def recompute_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The status partial the run page polls every second while the run is active."""
    run = get_object_or_404(recompute_runs_visible_to(request.user), pk=pk)
    response = render(request, "reporting/_recompute_progress.html", _run_context(run))
    if run.finished and request.headers.get("HX-Request"):
        # The corrections and changes below the bar appear once the run is done.
        response["HX-Refresh"] = "true"
    return response


@require_POST
@require_recompute
def recompute_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(recompute_runs_visible_to(request.user), pk=pk)
    try:
        recompute_cancel(run, request.user)
        messages.info(request, f"{run} stops after its current step.")
    except RecomputeError as refused:
        messages.error(request, str(refused))
    return redirect(run)


@require_POST
@require_recompute
def recompute_apply_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(recompute_runs_visible_to(request.user), pk=pk)
    try:
        issued = recompute_apply(run, request.user, request.POST.get("note", ""), timezone.now())
    except RecomputeError as refused:
        messages.error(request, str(refused))
    else:
        names = ", ".join(f"{r.agreement.reference} {r.month:%B %Y}" for r in issued)
        messages.success(
            request,
            f"Corrections applied. Correction revisions issued: {names}."
            if issued
            else "Corrections applied. No issued report needed a new revision.",
        )
    return redirect(run)
