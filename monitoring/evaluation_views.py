"""Pages of the evaluation engine: alerts, breaches, per-period compliance and the escalation
matrix.

Views stay thin: login, a selector scoped to ``request.user`` (``evaluation.selectors``), a
form, a service (``evaluation.actions``) and a template. Rows of other customers are never
loaded, so asking for one answers 404 exactly like asking for a row that does not exist.
The helpers at the top turn stored figures into words; they take plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agreements.models import Agreement

from .evaluation import actions
from .evaluation.format import duration, number, percent, period_label
from .evaluation.selectors import (
    Delivery,
    TargetCompliance,
    agreement_compliance,
    agreement_visible,
    alert_deliveries,
    alerts_visible_to,
    breach_alerts,
    breaches_visible_to,
    escalation_contacts,
    escalation_matrix,
    open_breaches,
)
from .evaluation_forms import AlertListFilter, EscalationContactForm, RootCauseForm
from .models import Alert, Level, PeriodResult, Status, TicketTimer

PAGE_SIZE = 50


# --- Presentation helpers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    """A state as it is shown: never colour alone, always an icon and the word."""

    css: str
    icon: str
    text: str


STATUS_STYLE = {
    Status.RUNNING: ("text-body-secondary", "bi-play-circle"),
    Status.PAUSED: ("text-body-secondary", "bi-pause-circle"),
    Status.MET: ("state-ok", "bi-check-circle-fill"),
    Status.AT_RISK: ("state-warn", "bi-exclamation-triangle-fill"),
    Status.MISSED_TARGET: ("state-bad", "bi-x-circle"),
    Status.BREACHED: ("state-bad", "bi-x-octagon-fill"),
    Status.NO_DATA: ("text-body-secondary", "bi-dash-circle"),
}
LEVEL_STYLE = {
    Level.WARNING: ("state-warn", "bi-exclamation-triangle-fill"),
    Level.MISSED_TARGET: ("state-bad", "bi-x-circle"),
    Level.BREACHED: ("state-bad", "bi-x-octagon-fill"),
    Level.CLOSED: ("state-ok", "bi-check-circle"),
}


def status_badge(status: str) -> Badge:
    css, icon = STATUS_STYLE.get(status, ("text-body-secondary", "bi-question-circle"))
    return Badge(css, icon, Status(status).label if status in Status.values else status)


def level_badge(level: str) -> Badge:
    css, icon = LEVEL_STYLE.get(level, ("text-body-secondary", "bi-bell"))
    return Badge(css, icon, Level(level).label if level in Level.values else level)


# Time units of targets, in seconds, so "480 minutes" reads "8 h".
def period_value(row: PeriodResult) -> str:
    """The period's value; without one, why (nothing to measure is not missing data)."""
    if row.value is not None:
        return number(row.value, row.value_unit)
    details = row.details or {}
    if details.get("incidents") == 0:
        return "no incidents"
    if "met" in details and row.status != Status.NO_DATA:
        return "none decided yet"
    return "no data"


def minutes(seconds: float | None) -> str:
    """Seconds as whole minutes with thousands separators: '44,640 min'."""
    if seconds is None:
        return "–"
    places = 0 if abs(seconds) >= 600 else 1
    return f"{seconds / 60:,.{places}f}\u00a0min"


def goal_text(row: PeriodResult) -> str:
    """What the period's value is held against, in words."""
    unit = row.value_unit
    if row.metric in ("response_time", "resolution_time"):
        within = number(float(row.target_value), row.unit)
        return (
            f"{number(row.goal_target, unit)} of tickets within {within} "
            f"(threshold {number(row.goal_threshold, unit)})"
        )
    word = "at least" if row.direction == "higher" else "at most"
    return f"{word} {number(row.goal_target, unit)} (threshold {number(row.goal_threshold, unit)})"


def period_facts(row: PeriodResult) -> str:
    """The period's supporting figures in one line (ticket counts, downtime, events)."""
    d = row.details or {}
    if "met" in d:
        return f"{d['met']} met · {d['missed']} missed · {d['pending']} pending"
    if "counted_seconds" in d:
        return f"down {minutes(d['down_seconds'])} of {minutes(d['counted_seconds'])} counted"
    if "count" in d:
        return f"{d['count']} event{'s' if d['count'] != 1 else ''}"
    if "incidents" in d:
        return f"{d['incidents']} incident{'s' if d['incidents'] != 1 else ''}"
    if "samples" in d:
        return f"{d['samples']} sample{'s' if d['samples'] != 1 else ''}"
    return d.get("reason", "")


def availability_figures(row: PeriodResult) -> dict | None:
    """The availability formula's terms for one period, formatted (None for other targets)."""
    d = row.details or {}
    if "counted_seconds" not in d:
        return None
    budget_left = d["budget_left_seconds"]
    return {
        "service": minutes(d["service_seconds"]),
        "excluded": minutes(d["excluded_seconds"]),
        "counted": minutes(d["counted_seconds"]),
        "down": minutes(d["down_seconds"]),
        "elapsed": minutes(d["elapsed_seconds"]),
        "budget": minutes(d["budget_seconds"]),
        "budget_left": minutes(abs(budget_left)),
        "budget_spent": budget_left < 0,
        "threshold_budget": minutes(d["threshold_budget_seconds"]),
        "so_far": percent(d["so_far"]) if d.get("so_far") is not None else "–",
        "value": number(row.value, "percent"),
        "target": percent(row.goal_target),
    }


def delivery_text(alert: Alert, delivery: Delivery) -> str:
    """One line on where the alert's emails are, for the list and screen readers."""
    if not alert.emailed:
        return "Recorded only"
    if alert.notified_at is None:
        return "Waiting to be sent"
    parts = []
    if delivery.sent:
        parts.append(f"{delivery.sent} sent")
    if delivery.pending:
        parts.append(f"{delivery.pending} pending")
    if delivery.failed:
        parts.append(f"{delivery.failed} failed")
    if delivery.digest:
        parts.append(f"{delivery.digest} in daily digest")
    return ", ".join(parts) or "No recipients"


def alert_rows(alerts: list[Alert]) -> list[dict]:
    deliveries = alert_deliveries(alerts)
    return [
        {
            "alert": alert,
            "level": level_badge(alert.level),
            "delivery": deliveries[alert.pk],
            "delivery_text": delivery_text(alert, deliveries[alert.pk]),
        }
        for alert in alerts
    ]


def timer_rows(timers: list[TicketTimer]) -> list[dict]:
    """A ticket's timers for its page: state, deadlines and business time used vs allowed."""
    return [
        {
            "timer": timer,
            "state": status_badge(timer.state),
            "used": duration(timer.used_seconds),
            "allowed": duration(timer.target_seconds),
            "threshold": duration(timer.threshold_seconds),
        }
        for timer in timers
    ]


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _agreement(request: HttpRequest, pk: int) -> Agreement:
    try:
        return agreement_visible(request.user, pk)
    except Agreement.DoesNotExist:
        raise Http404("No such agreement.") from None


# --- Alerts -----------------------------------------------------------------------------------


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    """Alerts the user may see, newest first, filterable and paginated, with the delivery
    state of their emails and acknowledgement."""
    filterset = AlertListFilter(
        request.GET, queryset=alerts_visible_to(request.user), request=request
    )
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/alert_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": alert_rows(list(page)),
            "query": _query_without_page(request),
            "filtered": any(value for key, value in request.GET.items() if key != "page"),
        },
    )


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """A provider team member says they are on it; the first acknowledgement stands."""
    alert = get_object_or_404(alerts_visible_to(request.user), pk=pk)
    if not request.user.is_provider:
        raise PermissionDenied("Only the provider's team acknowledges alerts.")
    earlier = alert.acknowledged_at is not None
    alert = actions.alert_acknowledge(alert, request.user)
    who = alert.acknowledged_by.display_name if alert.acknowledged_by else "someone"
    when = timezone.localtime(alert.acknowledged_at)
    if earlier or alert.acknowledged_by != request.user:
        messages.info(request, f"Already acknowledged by {who} at {when:%d %b %H:%M}.")
    else:
        messages.success(request, f"Acknowledged: {alert.target_label} ({alert.subject}).")
    return redirect(_back(request, reverse("monitoring:alert-list")))


# --- Breaches ---------------------------------------------------------------------------------


@login_required
def breach_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A breach's facts and alerts; the provider writes its root-cause note here."""
    breach = get_object_or_404(breaches_visible_to(request.user), pk=pk)
    can_edit = request.user.is_provider
    form = RootCauseForm(initial={"root_cause": breach.root_cause})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the provider writes root-cause notes.")
        form = RootCauseForm(request.POST)
        if form.is_valid():
            try:
                actions.breach_root_cause_set(breach, request.user, form.cleaned_data["root_cause"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "Root-cause note saved.")
                return redirect("monitoring:breach-detail", pk=breach.pk)
    rows = alert_rows(list(breach_alerts(breach)))
    return render(
        request,
        "monitoring/breach_detail.html",
        {
            "breach": breach,
            "level": level_badge(breach.level),
            "rows": rows,
            # A breach stores no zone; its alerts carry the target calendar's.
            "zone": rows[0]["alert"].zone if rows else timezone.get_current_timezone_name(),
            "form": form,
            "can_edit": can_edit,
        },
    )


# --- Compliance -------------------------------------------------------------------------------


def _target_view(target: TargetCompliance, now: datetime) -> dict:
    current = target.current
    return {
        "target": target,
        "current": current,
        "label": period_label(current),
        "is_current": current.period_start <= now < current.period_end,
        "value": period_value(current),
        "goal": goal_text(current),
        "state": status_badge(current.status),
        "facts": period_facts(current),
        "availability": availability_figures(current),
        "tickets": current.details if "met" in (current.details or {}) else None,
        "past": [
            {
                "row": row,
                "label": period_label(row),
                "value": period_value(row),
                "state": status_badge(row.status),
                "facts": period_facts(row),
            }
            for row in target.past
        ],
    }


@login_required
def compliance(request: HttpRequest, pk: int) -> HttpResponse:
    """Per target of one agreement: the current period against target and threshold, the
    periods before it (closed ones frozen) and the agreement's open breaches."""
    agreement = _agreement(request, pk)
    now = timezone.now()
    targets = [_target_view(t, now) for t in agreement_compliance(request.user, agreement, now)]
    return render(
        request,
        "monitoring/compliance.html",
        {
            "agreement": agreement,
            "targets": targets,
            "breaches": [
                {"breach": breach, "level": level_badge(breach.level)}
                for breach in open_breaches(request.user, agreement)
            ],
            "now": now,
        },
    )


# --- Escalation matrix ------------------------------------------------------------------------


@login_required
def escalation(request: HttpRequest, pk: int) -> HttpResponse:
    """Who hears of each alert level of an agreement; service managers add and remove
    contacts, everyone who sees the agreement may read it."""
    agreement = _agreement(request, pk)
    can_edit = request.user.can_draft_agreements
    form = EscalationContactForm(agreement=agreement)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only service managers change the escalation matrix.")
        form = EscalationContactForm(request.POST, agreement=agreement)
        if form.is_valid() and (contact := form.save()) is not None:
            messages.success(request, f"Added {contact}.")
            return redirect("monitoring:escalation", pk=agreement.pk)
    return render(
        request,
        "monitoring/escalation.html",
        {
            "agreement": agreement,
            "matrix": escalation_matrix(request.user, agreement),
            "form": form,
            "can_edit": can_edit,
        },
    )


@login_required
@require_POST
def escalation_remove(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    """Remove one explicit contact; a level left without any falls back to the defaults."""
    agreement = _agreement(request, pk)
    if not request.user.can_draft_agreements:
        raise PermissionDenied("Only service managers change the escalation matrix.")
    contact = get_object_or_404(escalation_contacts(request.user, agreement), pk=contact_pk)
    text = str(contact)
    contact.delete()
    messages.success(request, f"Removed {text}.")
    return redirect("monitoring:escalation", pk=agreement.pk)
