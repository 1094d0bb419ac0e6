"""The Sources pages: what feeds the portal, per customer, and how to set each feed up.

Who sees what (least privilege):

* provider admins and service managers list, create, edit, disable and enable sources; the
  signing secret of a new source is shown to its creator once, on the page right after
  creation, and never again; rotating it shows the new one the same way, once, to whoever
  rotated it (the page otherwise shows its last characters);
* provider team members see the list and each source read-only, without secrets and without
  the set-up instructions (they cannot change a sender's configuration anyway);
* customers see their own organisation's sources read-only (what feeds their figures and when
  data last arrived), without secrets or set-up details; other organisations' sources answer
  404 like sources that do not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitoring.format import duration
from monitoring.forms.sources import SOURCE_GROUPS, SourceAlertsForm, SourceForm, time_zone_names
from monitoring.models import ProbeState, Source
from monitoring.selectors.ingest import import_jobs_visible_to, source_rows, sources_visible_to
from monitoring.sources import (
    SharingRefused,
    secret_overlap,
    source_alerts_update,
    source_create,
    source_disable,
    source_enable,
    source_rotate_secret,
    source_set_shared,
    source_update,
)
from monitoring.staleness import source_interval, source_set_expectations
from sla_portal.core.permissions import require_drafter

# The secret travels from the creating POST to the next page in the creator's session and is
# removed as it is shown, so a reload, the back button or another person never sees it again.
SECRET_SESSION_KEY = "source_secret_once"
RECENT_IMPORTS = 5

# What each kind of source delivers, as the list says it.
FEEDS = {
    Source.Kind.API: "Tickets, checks, maintenance and events (REST API)",
    Source.Kind.CSV: "Tickets (CSV upload)",
    Source.Kind.SERVICENOW: "Tickets (ServiceNow export)",
    Source.Kind.JIRA: "Tickets (Jira export)",
    Source.Kind.ZAMMAD: "Tickets (Zammad export)",
    Source.Kind.UPTIME_KUMA: "Uptime checks",
    Source.Kind.UPPTIME: "Uptime checks (Upptime history)",
    Source.Kind.HEALTHCHECK: "Uptime checks (health-check history)",
    Source.Kind.STATUSPAGE: "Maintenance windows",
    Source.Kind.ALERTMANAGER: "Uptime checks from firing and resolved alerts",
    Source.Kind.WEBHOOK: "Uptime checks and tickets",
    Source.Kind.PROBE: "Uptime checks",
}
# Kinds whose data never comes as an uploaded export file.
NO_FILE_KINDS = frozenset({Source.Kind.WEBHOOK, Source.Kind.ALERTMANAGER, Source.Kind.PROBE})
HOOK_URL_NAMES = {
    Source.Kind.WEBHOOK: "monitoring:hook-generic",
    Source.Kind.UPTIME_KUMA: "monitoring:hook-uptime-kuma",
    Source.Kind.ALERTMANAGER: "monitoring:hook-alertmanager",
}


def reveal_secret_once(request: HttpRequest, source: Source, secret: str) -> None:
    """Keep ``secret`` for the next page of this session only (creation; later rotation)."""
    request.session[SECRET_SESSION_KEY] = {"source": source.pk, "secret": secret}


def _take_secret(request: HttpRequest, source: Source) -> str | None:
    kept = request.session.get(SECRET_SESSION_KEY)
    if not kept or kept.get("source") != source.pk:
        return None
    del request.session[SECRET_SESSION_KEY]
    return kept["secret"]


def feeds(source: Source) -> str:
    """What the source delivers, naming the probed service for a probe."""
    text = FEEDS.get(source.kind, "Monitoring data")
    if source.service_id:
        return f"{text} of {source.service.name}"
    return text


def _hook_url(request: HttpRequest, source: Source) -> str:
    kind = source.kind if source.kind in HOOK_URL_NAMES else Source.Kind.WEBHOOK
    return request.build_absolute_uri(reverse(HOOK_URL_NAMES[kind], args=[source.pk]))


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    """Every source the user may see, with its customer, kind, data and last delivery."""
    rows = [{"source": source, "feeds": feeds(source)} for source in source_rows(request.user)]
    return render(request, "monitoring/source_list.html", {"rows": rows})


@require_drafter
def source_new(request: HttpRequest) -> HttpResponse:
    """Step 1 of creating a source: choose how its data arrives."""
    groups = [(key, label, text) for key, (label, text, _kinds) in SOURCE_GROUPS.items()]
    return render(request, "monitoring/source_new.html", {"groups": groups})


@require_drafter
def source_create_view(request: HttpRequest, group: str) -> HttpResponse:
    """Step 2: the form for that kind of source; on success the secret is shown once."""
    if group not in SOURCE_GROUPS:
        raise Http404("No such kind of source.")
    form = SourceForm(request.POST or None, user=request.user, group=group)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        source, secret = source_create(
            customer=data["customer"],
            name=data["name"],
            kind=form.chosen_kind(),
            description=data["description"],
            timezone_name=data.get("timezone", ""),
            service=data.get("service"),
            probe=form.probe_settings(),
        )
        if source.receives_webhooks:
            reveal_secret_once(request, source, secret)
        messages.success(request, f"Created the source “{source.name}”.")
        return redirect("monitoring:source-detail", pk=source.pk)
    return render(
        request,
        "monitoring/source_form.html",
        {
            "form": form,
            "group_label": SOURCE_GROUPS[group][0],
            "group": group,
            "time_zones": time_zone_names(),
        },
    )


@login_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One source: what it is and feeds; for managers, how to set the sender up."""
    source = get_object_or_404(sources_visible_to(request.user).select_related("service"), pk=pk)
    manager = request.user.can_draft_agreements
    context: dict[str, Any] = {
        "source": source,
        "feeds": feeds(source),
        "manager": manager,
        # Only its creator's next page carries the secret; everyone else gets None.
        "secret": _take_secret(request, source) if manager else None,
        "recent_imports": import_jobs_visible_to(request.user).filter(source=source)[
            :RECENT_IMPORTS
        ],
        "probe_state": (
            ProbeState.objects.filter(service_id=source.service_id).first()
            if source.service_id
            else None
        ),
        "takes_files": source.kind not in NO_FILE_KINDS,
        "expected_interval": _interval_text(source),
        "stale": source.stale_at is not None and source.stale_at <= timezone.now(),
        "previous_active": source.previous_secret_until is not None
        and source.previous_secret_until > timezone.now(),
        "overlap_hours": f"{secret_overlap().total_seconds() / 3600:g}",
    }
    if manager and source.receives_webhooks:
        context["hook_url"] = _hook_url(request, source)
    return render(request, "monitoring/source_detail.html", context)


def _interval_text(source: Source) -> str:
    interval = source_interval(source)
    return duration(interval.total_seconds()) if interval else ""


@require_drafter
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a source's name, description, time zone or probe settings (never its secret)."""
    source = get_object_or_404(sources_visible_to(request.user).select_related("service"), pk=pk)
    group = "probe" if source.kind == Source.Kind.PROBE and source.service_id else "feed"
    form = SourceForm(
        request.POST or None,
        user=request.user,
        group=group,
        source=source,
        initial=SourceForm.initial_for(source),
    )
    # Alert senders also say how their service labels and alert times are read.
    alerts_form = (
        SourceAlertsForm(request.POST or None, source=source) if source.receives_webhooks else None
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and (alerts_form is None or alerts_form.is_valid())
    ):
        data = form.cleaned_data
        source_update(
            source,
            name=data["name"],
            description=data["description"],
            timezone_name=data.get("timezone", source.timezone),
            probe=form.probe_settings(),
        )
        if alerts_form is not None:
            source_alerts_update(
                source,
                service_map=alerts_form.cleaned_data["service_map"],
                for_seconds=alerts_form.cleaned_data.get("for_seconds"),
            )
        source_set_expectations(
            source,
            expected_interval_minutes=data["expected_interval_minutes"],
            silence_counts_as_down=data["silence_counts_as_down"],
        )
        messages.success(request, f"Saved the source “{source.name}”.")
        return redirect("monitoring:source-detail", pk=source.pk)
    return render(
        request,
        "monitoring/source_form.html",
        {
            "form": form,
            "alerts_form": alerts_form,
            "source": source,
            "group": group,
            "time_zones": time_zone_names(),
        },
    )


@require_drafter
@require_POST
def source_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Disable a source (new data refused, data kept) or enable it again."""
    source = get_object_or_404(sources_visible_to(request.user).select_related("service"), pk=pk)
    if request.POST.get("action") == "enable":
        source_enable(source)
        messages.success(request, f"“{source.name}” accepts data again.")
    else:
        source_disable(source)
        messages.success(
            request,
            f"Disabled “{source.name}”: new data sent to it is refused; its data is kept.",
        )
    return redirect("monitoring:source-detail", pk=source.pk)


@require_drafter
@require_POST
def source_rotate_secret_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Give a webhook source a new secret, shown once on the next page."""
    source = get_object_or_404(sources_visible_to(request.user), pk=pk)
    if not source.receives_webhooks:
        raise Http404("This kind of source has no signing secret to rotate.")
    secret = source_rotate_secret(source, by=request.user)
    reveal_secret_once(request, source, secret)
    messages.success(
        request,
        f"Rotated the signing secret of “{source.name}”; the previous one keeps working "
        "during the overlap.",
    )
    return redirect("monitoring:source-detail", pk=source.pk)


@require_drafter
@require_POST
def source_sharing_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Share a source's data with every agreement covering its services, or stop sharing
    (``monitoring.models.ownership``); recorded in the customer's account trail."""
    source = get_object_or_404(sources_visible_to(request.user), pk=pk)
    shared = request.POST.get("shared") == "on"
    try:
        source_set_shared(source, shared=shared, by=request.user)
    except SharingRefused as exc:
        messages.error(request, str(exc))
        return redirect("monitoring:source-detail", pk=source.pk)
    counted = "every agreement covering its services" if shared else f"{source.customer}'s only"
    state = "is shared" if shared else "is no longer shared"
    text = f"“{source.name}” {state}: its data counts for {counted}."
    messages.success(request, text)
    return redirect("monitoring:source-detail", pk=source.pk)
