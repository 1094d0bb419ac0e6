"""Importing any service desk's CSV export: upload, map columns to ticket fields, preview, import.

Step 1 stores the file and remembers it in the uploader's session under a random token; step 2
shows the mapping form with a preview of the mapped rows, saves mappings per source, and
submits the import as an ordinary ``ImportJob`` (format ``generic_csv``) whose page shows its
progress. The pending upload lives in the session, so no one else can reach it, and its source
is re-read through ``sources_visible_to`` on every request.

Event logs take the same first step (``monitoring.views.event_log``); the pending upload in the
session, its retry and the saved mappings are shared by both, here. The forms are in
``monitoring.forms.mapping``.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from monitoring.forms.mapping import CsvUploadForm, MappingForm
from monitoring.forms.sources import time_zone_names
from monitoring.importers import ImportOptionError
from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.jobs import import_job_copy_file, import_job_submit
from monitoring.models import ImportJob, Source
from monitoring.models.imports import ColumnMapping
from monitoring.selectors.ingest import (
    EVENT_LOG,
    TICKETS,
    import_jobs_visible_to,
    mappings_visible_to,
    sources_visible_to,
)
from sla_portal.core.permissions import require_drafter

SESSION_KEY = "csv_uploads"
PREVIEW_ROWS = 20


def pending_upload(
    request: HttpRequest, token: str, kind: str = TICKETS
) -> tuple[dict[str, Any], Source]:
    """The upload of ``kind`` stored under ``token`` in this session and its visible source."""
    pending = request.session.get(SESSION_KEY, {}).get(token)
    if pending is None or pending.get("kind", TICKETS) != kind:
        raise Http404("No such upload in this session.")
    source = get_object_or_404(sources_visible_to(request.user), pk=pending["source"])
    if not default_storage.exists(pending["file"]):
        # Left unfinished for longer than a day: monitoring.retention deleted the file.
        raise Http404("This upload has expired: upload the file again.")
    return pending, source


def _parse(pending: dict[str, Any], form: MappingForm) -> gc.MappedResult:
    with default_storage.open(pending["file"], "rb") as stream:
        return gc.parse_tickets(
            stream,
            form.mapping(),
            date_format=form.cleaned_data["date_format"],
            timezone=form.cleaned_data["timezone"] or None,
            preview_rows=PREVIEW_ROWS,
        )


def store_upload(request: HttpRequest, form: CsvUploadForm, kind: str) -> str | None:
    """Store a valid upload and remember it in the session; its token, or None if unreadable."""
    upload = form.cleaned_data["file"]
    try:
        header = gc.read_header(upload)
    except ImportOptionError as exc:
        # One sentence saying what is wrong (binary, truncated, not UTF-8, empty); nothing
        # is stored and no job is created.
        form.add_error("file", f"Not a readable CSV file. {exc}")
        return None
    upload.seek(0)
    name = default_storage.save(f"imports/{upload.name}", upload)
    token = secrets.token_urlsafe(12)
    saved = form.cleaned_data["mapping"]
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = {
        "kind": kind,
        "file": name,
        "name": upload.name,
        "header": header,
        "source": form.cleaned_data["source"].pk,
        "mapping": saved.pk if saved else None,
    }
    request.session[SESSION_KEY] = uploads
    return token


def start_retry(request: HttpRequest, job: ImportJob) -> HttpResponse:
    """Reopen a refused column-mapping job at its mapping step, on a copy of its stored file,
    with the choices of the first attempt filled in. The new job will point back at ``job``.

    The caller has checked that the file is still kept and the job is the user's to retry."""
    options = job.options
    event_log = options.get("layout") == EVENT_LOG
    name = import_job_copy_file(job.file)
    try:
        with default_storage.open(name, "rb") as stream:
            header = gc.read_header(stream)
    except ImportOptionError as exc:
        default_storage.delete(name)
        messages.error(request, f"The stored file cannot be read any more: {exc}")
        return redirect("monitoring:import-detail", pk=job.pk)
    token = secrets.token_urlsafe(12)
    pending: dict[str, Any] = {
        "kind": EVENT_LOG if event_log else TICKETS,
        "file": name,
        "name": name.rsplit("/", 1)[-1],
        "header": header,
        "source": job.source_id,
        "mapping": None,
        "retry_of": job.pk,
    }
    if event_log:
        pending["columns"] = {
            "mapping": options.get("mapping") or {},
            "date_format": options.get("date_format", gc.AUTO),
            "timezone": options.get("timezone", ""),
        }
        pending["roles"] = options.get("states") or {}
    else:
        pending["preset"] = {
            "mapping": options.get("mapping") or {},
            "date_format": options.get("date_format", gc.AUTO),
            "timezone": options.get("timezone", ""),
            "skip_invalid": bool(options.get("skip_invalid")),
        }
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = pending
    request.session[SESSION_KEY] = uploads
    step = "monitoring:event-log-columns" if event_log else "monitoring:csv-mapping"
    return redirect(step, token=token)


def retried_job(request: HttpRequest, pending: dict[str, Any]) -> ImportJob | None:
    """The earlier attempt a pending upload corrects, as the user may see it."""
    if not pending.get("retry_of"):
        return None
    return import_jobs_visible_to(request.user).filter(pk=pending["retry_of"]).first()


def remember(request: HttpRequest, token: str, **values: Any) -> None:
    uploads = request.session[SESSION_KEY]
    uploads[token].update(values)
    request.session[SESSION_KEY] = uploads


def saved_mapping(
    request: HttpRequest, pending: dict[str, Any], source: Source, kind: str
) -> ColumnMapping | None:
    if not pending["mapping"]:
        return None
    mappings = mappings_visible_to(request.user, kind)
    return mappings.filter(pk=pending["mapping"], source=source).first()


def name_taken_by_other_kind(source: Source, name: str, kind: str) -> bool:
    """True when ``source`` has a mapping of the other kind named ``name`` (names are unique
    per source, so saving would silently turn one kind into the other)."""
    same_name = ColumnMapping.objects.filter(source=source, name=name)
    if kind == TICKETS:
        return same_name.filter(mapping__has_key=el.STATES_KEY).exists()
    return same_name.exclude(mapping__has_key=el.STATES_KEY).exists()


@require_drafter
def csv_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: store the CSV and go on to map its columns."""
    form = CsvUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        token = store_upload(request, form, TICKETS)
        if token is not None:
            return redirect("monitoring:csv-mapping", token=token)
    status = 400 if request.method == "POST" else 200
    return render(request, "monitoring/mapping_upload.html", {"form": form}, status=status)


@require_drafter
def csv_mapping(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2: map the columns, preview the result, save the mapping or import the file."""
    pending, source = pending_upload(request, token)
    saved = saved_mapping(request, pending, source, TICKETS)
    preset = pending.get("preset")
    if saved is not None:
        initial = MappingForm.initial_for(saved.mapping, saved.date_format, saved.timezone)
    elif preset is not None:
        # A retry: start from what the refused attempt chose.
        initial = MappingForm.initial_for(
            preset["mapping"], preset["date_format"], preset["timezone"]
        )
        initial["skip_invalid"] = preset["skip_invalid"]
    else:
        initial = MappingForm.initial_for(
            gc.guess_mapping(pending["header"]), ColumnMapping.DateFormat.AUTO, source.timezone
        )
    # GET previews the initial mapping; POST previews, saves or imports what was chosen.
    data = request.POST if request.method == "POST" else {**initial, "save_name": ""}
    form = MappingForm(data, header=pending["header"], initial=initial)
    action = request.POST.get("action", "preview")
    result: gc.MappedResult | None = None
    if form.is_valid():
        try:
            result = _parse(pending, form)
        except gc.DateFormatError as exc:
            form.add_error("date_format", str(exc))
        except ImportOptionError as exc:
            form.add_error(None, str(exc))
        else:
            if result.needs_timezone:
                form.add_error("timezone", "The dates carry no time zone: choose one.")
    if request.method == "POST" and result is not None and not form.errors:
        if action == "save":
            return _save_mapping(request, form, source, token)
        if action == "import":
            return _submit(request, form, source, pending, token, result)
    return render(
        request,
        "monitoring/mapping_edit.html",
        {
            "form": form,
            "source": source,
            "pending": pending,
            "saved": saved,
            "result": result,
            "fields": gc.TICKET_FIELDS,
            "map_fields": [form[f"map_{name}"] for name in gc.TICKET_FIELDS],
            "time_zones": time_zone_names(),
            "retry_of": retried_job(request, pending),
        },
    )


def _save_mapping(
    request: HttpRequest, form: MappingForm, source: Source, token: str
) -> HttpResponse:
    name = form.cleaned_data["save_name"].strip()
    if not name:
        messages.error(request, "Give the mapping a name to save it.")
    elif name_taken_by_other_kind(source, name, TICKETS):
        messages.error(request, f"“{name}” is the name of an event-log mapping: choose another.")
    else:
        saved, created = ColumnMapping.objects.update_or_create(
            source=source,
            name=name,
            defaults={
                "mapping": form.mapping(),
                "date_format": form.cleaned_data["date_format"],
                "timezone": form.cleaned_data["timezone"],
                "created_by": request.user,
            },
        )
        uploads = request.session[SESSION_KEY]
        uploads[token]["mapping"] = saved.pk
        request.session[SESSION_KEY] = uploads
        verb = "Saved" if created else "Updated"
        messages.success(request, f"{verb} the mapping “{name}” for {source.name}.")
    return redirect("monitoring:csv-mapping", token=token)


def _submit(
    request: HttpRequest,
    form: MappingForm,
    source: Source,
    pending: dict[str, Any],
    token: str,
    result: gc.MappedResult,
) -> HttpResponse:
    job = import_job_submit(
        source=source,
        format=ImportJob.Format.GENERIC_CSV,
        file=pending["file"],
        monitors_file=None,
        options={
            "mapping": form.mapping(),
            # The detected order, so the job reads the file exactly as previewed.
            "date_format": result.date_format,
            "timezone": form.cleaned_data["timezone"],
            "skip_invalid": form.cleaned_data["skip_invalid"],
        },
        created_by=request.user,
        retry_of=retried_job(request, pending),
    )
    uploads = request.session[SESSION_KEY]
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    return redirect(reverse("monitoring:import-detail", args=[job.pk]))
