"""Importing an event log (one row per state change): upload, map columns, give states roles.

Event logs take the same first step as ticket CSVs (``monitoring.views.mapping``), then map their
columns (ticket id, event time, state, ...), then say what each distinct state means (new, open,
paused, resolved, closed) with a preview of the folded tickets. Their saved mapping keeps the
state roles under ``event_log.STATES_KEY`` in ``ColumnMapping.mapping``; their job is a
``generic_csv`` job with ``options["layout"] = "event_log"``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from monitoring.forms.mapping import ROLE_LABELS, CsvUploadForm, EventColumnsForm, EventStatesForm
from monitoring.forms.sources import time_zone_names
from monitoring.importers import ImportOptionError
from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.importers.folding import ROLES
from monitoring.jobs import import_job_submit
from monitoring.models import ImportJob, Source
from monitoring.models.imports import ColumnMapping
from monitoring.selectors.ingest import EVENT_LOG
from monitoring.views.mapping import (
    PREVIEW_ROWS,
    SESSION_KEY,
    name_taken_by_other_kind,
    pending_upload,
    remember,
    retried_job,
    saved_mapping,
    store_upload,
)
from sla_portal.core.permissions import require_drafter

# Beyond this many, the page lists the first ones and says how many more there are.
MAX_LISTED_PROBLEMS = 200


@require_drafter
def event_log_upload(request: HttpRequest) -> HttpResponse:
    """Event-log step 1: store the export and go on to map its columns."""
    form = CsvUploadForm(
        request.POST or None, request.FILES or None, user=request.user, kind=EVENT_LOG
    )
    if request.method == "POST" and form.is_valid():
        token = store_upload(request, form, EVENT_LOG)
        if token is not None:
            return redirect("monitoring:event-log-columns", token=token)
    status = 400 if request.method == "POST" else 200
    return render(request, "monitoring/event_log_upload.html", {"form": form}, status=status)


def _parse_event_log(
    pending: dict[str, Any], columns: dict[str, Any], roles: dict[str, str]
) -> el.EventLogResult:
    with default_storage.open(pending["file"], "rb") as stream:
        return el.parse_event_log(
            stream,
            columns["mapping"],
            roles,
            date_format=columns.get("resolved_date_format") or columns["date_format"],
            timezone=columns["timezone"] or None,
            preview_tickets=PREVIEW_ROWS,
        )


@require_drafter
def event_log_columns(request: HttpRequest, token: str) -> HttpResponse:
    """Event-log step 2: map the columns and check that the dates can be read."""
    pending, source = pending_upload(request, token, EVENT_LOG)
    saved = saved_mapping(request, pending, source, EVENT_LOG)
    if pending.get("columns"):
        chosen = pending["columns"]
        initial = EventColumnsForm.initial_for(
            chosen["mapping"], chosen["date_format"], chosen["timezone"]
        )
    elif saved is not None:
        initial = EventColumnsForm.initial_for(saved.mapping, saved.date_format, saved.timezone)
    else:
        initial = EventColumnsForm.initial_for(
            el.guess_mapping(pending["header"]), ColumnMapping.DateFormat.AUTO, source.timezone
        )
    form = EventColumnsForm(
        request.POST if request.method == "POST" else None,
        header=pending["header"],
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        columns = {
            "mapping": form.mapping(),
            "date_format": form.cleaned_data["date_format"],
            "timezone": form.cleaned_data["timezone"],
        }
        try:
            with default_storage.open(pending["file"], "rb") as stream:
                states = el.count_states(stream, columns["mapping"]["state"])
            # Every state gets a provisional role here; only dates and columns are checked.
            result = _parse_event_log(pending, columns, {state: "open" for state in states})
        except gc.DateFormatError as exc:
            form.add_error("date_format", str(exc))
        except ImportOptionError as exc:
            form.add_error(None, str(exc))
        else:
            if result.needs_timezone:
                form.add_error("timezone", "The dates carry no time zone: choose one.")
            else:
                columns["resolved_date_format"] = result.date_format
                remember(request, token, columns=columns)
                return redirect("monitoring:event-log-states", token=token)
    return render(
        request,
        "monitoring/event_log_columns.html",
        {
            "form": form,
            "source": source,
            "pending": pending,
            "saved": saved,
            "map_fields": [form[f"map_{name}"] for name in el.EVENT_FIELDS],
            "time_zones": time_zone_names(),
            "retry_of": retried_job(request, pending),
        },
    )


@require_drafter
def event_log_states(request: HttpRequest, token: str) -> HttpResponse:
    """Event-log step 3: say what each state means, preview the tickets, save or import."""
    pending, source = pending_upload(request, token, EVENT_LOG)
    columns = pending.get("columns")
    if not columns:
        return redirect("monitoring:event-log-columns", token=token)
    saved = saved_mapping(request, pending, source, EVENT_LOG)
    try:
        with default_storage.open(pending["file"], "rb") as stream:
            counts = el.count_states(stream, columns["mapping"]["state"])
    except ImportOptionError as exc:
        messages.error(request, str(exc))
        return redirect("monitoring:event-log-columns", token=token)
    states = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    saved_roles = dict(saved.mapping.get(el.STATES_KEY) or {}) if saved else {}
    initial = EventStatesForm.initial_for(states, pending.get("roles") or saved_roles)
    data = request.POST if request.method == "POST" else {**initial, "save_name": ""}
    form = EventStatesForm(data, states=states, initial=initial)
    action = request.POST.get("action", "preview")
    result: el.EventLogResult | None = None
    if form.is_valid():
        remember(request, token, roles=form.roles())
        try:
            result = _parse_event_log(pending, columns, form.roles())
        except ImportOptionError as exc:
            form.add_error(None, str(exc))
    if request.method == "POST" and result is not None and not form.errors:
        if action == "save":
            return _save_event_log_mapping(request, form, source, token, columns)
        if action == "import":
            if result.errors and not form.cleaned_data["skip_invalid"]:
                form.add_error(
                    None,
                    f"{result.problem_tickets} ticket(s) have problem rows (listed below): fix "
                    "the file or the mapping, or skip those tickets. Nothing was imported.",
                )
            else:
                return _submit_event_log(request, form, source, pending, token, result)
    return render(
        request,
        "monitoring/event_log_states.html",
        {
            "form": form,
            "source": source,
            "pending": pending,
            "pending_token": token,
            "columns": columns,
            "saved": saved,
            "result": result,
            "roles": [(role, ROLE_LABELS[role]) for role in ROLES],
            "retry_of": retried_job(request, pending),
            "problems": result.errors[:MAX_LISTED_PROBLEMS] if result else [],
            "more_problems": max(0, len(result.errors) - MAX_LISTED_PROBLEMS) if result else 0,
        },
    )


def _save_event_log_mapping(
    request: HttpRequest,
    form: EventStatesForm,
    source: Source,
    token: str,
    columns: dict[str, Any],
) -> HttpResponse:
    name = form.cleaned_data["save_name"].strip()
    if not name:
        messages.error(request, "Give the mapping a name to save it.")
    elif name_taken_by_other_kind(source, name, EVENT_LOG):
        messages.error(request, f"“{name}” is the name of a ticket-CSV mapping: choose another.")
    else:
        saved, created = ColumnMapping.objects.update_or_create(
            source=source,
            name=name,
            defaults={
                "mapping": {**columns["mapping"], el.STATES_KEY: form.roles()},
                "date_format": columns["date_format"],
                "timezone": columns["timezone"],
                "created_by": request.user,
            },
        )
        remember(request, token, mapping=saved.pk)
        verb = "Saved" if created else "Updated"
        messages.success(request, f"{verb} the event-log mapping “{name}” for {source.name}.")
    return redirect("monitoring:event-log-states", token=token)


def _submit_event_log(
    request: HttpRequest,
    form: EventStatesForm,
    source: Source,
    pending: dict[str, Any],
    token: str,
    result: el.EventLogResult,
) -> HttpResponse:
    columns = pending["columns"]
    job = import_job_submit(
        source=source,
        # No format of its own yet (that needs a migration of ImportJob.Format): an event log
        # is a generic CSV job told so by its options.
        format=ImportJob.Format.GENERIC_CSV,
        file=pending["file"],
        monitors_file=None,
        options={
            "layout": EVENT_LOG,
            "mapping": columns["mapping"],
            "states": form.roles(),
            # The detected order, so the job reads the file exactly as previewed.
            "date_format": result.date_format,
            "timezone": columns["timezone"],
            "skip_invalid": form.cleaned_data["skip_invalid"],
        },
        created_by=request.user,
        retry_of=retried_job(request, pending),
    )
    uploads = request.session[SESSION_KEY]
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    return redirect(reverse("monitoring:import-detail", args=[job.pk]))
