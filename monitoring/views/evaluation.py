"""Pages of the evaluation engine: alerts, breaches, per-period compliance and the escalation
matrix.

Views stay thin: login, a selector scoped to ``request.user``
(``monitoring.selectors.evaluation``), a form, a service (``evaluation.actions``) and a
template. Rows of other customers are never loaded, so asking for one answers 404 exactly
like asking for a row that does not exist.
Figures are put into words by ``monitoring.presentation``.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agreements.models import Agreement
from monitoring.evaluation import ack, actions
from monitoring.format import period_label
from monitoring.forms.evaluation import AlertListFilter, EscalationContactForm, RootCauseForm
from monitoring.models import Alert
from monitoring.presentation import (
    alert_rows,
    availability_figures,
    burn_rows,
    goal_text,
    level_badge,
    period_facts,
    period_value,
    status_badge,
)
from monitoring.selectors.evaluation import (
    TargetCompliance,
    agreement_compliance,
    agreement_visible,
    alerts_visible_to,
    breach_alerts,
    breaches_visible_to,
    escalation_contacts,
    escalation_matrix,
    open_breaches,
)
from sla_portal.core.models import User
from sla_portal.core.selectors import delivery_status

PAGE_SIZE = 50


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
    state of their emails and acknowledgement. Provider staff also see the email queue:
    what waits, what is being retried after an error and what failed for good."""
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
            # Every organisation's emails: provider staff only.
            "delivery": delivery_status() if request.user.is_provider else None,
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


def alert_ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """The acknowledge link of an alert email, usable without logging in.

    GET shows what would be acknowledged and one button; only the POST of that button
    acknowledges (mail scanners follow every link of an email, and a GET must not record a
    person's word for them). The token names the alert and the person the email went to; a
    tampered, expired or already-used link gets a page that says which, never an error."""
    try:
        claim = ack.read_ack_token(token)
    except ack.AckLinkError as error:
        return _ack_page(request, error.reason, status=400 if error.reason == "invalid" else 410)
    person = User.objects.filter(pk=claim.user_id, is_active=True).first()
    alert = (
        alerts_visible_to(person).filter(pk=claim.alert_id).first()
        if person is not None and person.is_provider
        else None
    )
    if alert is None:
        return _ack_page(request, "invalid", status=400)
    if alert.acknowledged_at is not None:
        return _ack_page(request, "already", alert=alert, person=person)
    if request.method == "POST":
        alert = actions.alert_acknowledge(alert, person)
        done = alert.acknowledged_by_id == person.pk
        return _ack_page(request, "done" if done else "already", alert=alert, person=person)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return _ack_page(request, "confirm", alert=alert, person=person)


def _ack_page(
    request: HttpRequest,
    outcome: str,
    alert: Alert | None = None,
    person: User | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"outcome": outcome, "alert": alert, "person": person}
    if alert is not None:
        context["level"] = level_badge(alert.level)
    return render(request, "monitoring/alert_ack.html", context, status=status)


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
        "burn": burn_rows(current),
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
