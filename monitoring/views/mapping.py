"""Importing any service desk's CSV export: upload, map columns to ticket fields, preview, import.

Step 1 stores the file and remembers it in the uploader's session under a random token; step 2
shows the mapping form with a preview of the mapped rows, saves mappings per source, and
submits the import as an ordinary ``ImportJob`` (format ``generic_csv``) whose page shows its
progress. The pending upload lives in the session, so no one else can reach it, and its source
is re-read through ``sources_visible_to`` on every request.

Event logs (one row per state change) take the same first step, then map their columns
(ticket id, event time, state, ...), then say what each distinct state means (new, open,
paused, resolved, closed) with a preview of the folded tickets. Their saved mapping keeps the
state roles under ``event_log.STATES_KEY`` in ``ColumnMapping.mapping``; their job is a
``generic_csv`` job with ``options["layout"] = "event_log"``.

The forms live here rather than in ``forms.py`` because they exist only for these two views and
the mapping form is built from the uploaded file's header.
"""

from __future__ import annotations

import secrets
import zoneinfo
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from monitoring.forms.ingest import time_zone_names
from monitoring.importers import ImportOptionError
from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.importers.folding import ROLES
from monitoring.jobs import import_job_copy_file, import_job_submit
from monitoring.models import ImportJob, Source
from monitoring.models.imports import ColumnMapping
from monitoring.selectors import import_jobs_visible_to, sources_accepting_data, sources_visible_to
from sla_portal.core.models import User
from sla_portal.core.permissions import require_drafter

SESSION_KEY = "csv_uploads"
PREVIEW_ROWS = 20
# Beyond this many, the page lists the first ones and says how many more there are.
MAX_LISTED_PROBLEMS = 200
FIELD_LABELS = {name: name.replace("_", " ").capitalize() for name in gc.TICKET_FIELDS}
TICKETS, EVENT_LOG = "tickets", "event_log"
ROLE_LABELS = {
    "new": "New (no response yet)",
    "open": "Open / working",
    "paused": "Pauses the clock",
    "resolved": "Resolves",
    "closed": "Closes",
}


def mappings_visible_to(user: User, kind: str | None = None) -> Any:
    """Saved column mappings of the sources the user may see, optionally of one kind.

    Event-log mappings are the ones holding state roles (``event_log.STATES_KEY``).
    """
    mappings = ColumnMapping.objects.visible_to(user).select_related("source")
    if kind == EVENT_LOG:
        return mappings.filter(mapping__has_key=el.STATES_KEY)
    if kind == TICKETS:
        return mappings.exclude(mapping__has_key=el.STATES_KEY)
    return mappings


class CsvUploadForm(forms.Form):
    """Step 1: which source, which file, and optionally a saved mapping to start from."""

    source = forms.ModelChoiceField(queryset=None, help_text="Which feed these tickets belong to.")
    file = forms.FileField(help_text="A CSV export with a header row: plain, .zip or .gz.")
    mapping = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Saved mapping",
        help_text="Start from a mapping saved for this source (optional).",
    )

    def __init__(self, *args: Any, user: User, kind: str = TICKETS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sources_accepting_data(user)
        self.fields["mapping"].queryset = mappings_visible_to(user, kind)
        self.fields["mapping"].label_from_instance = lambda m: f"{m.source.name}: {m.name}"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        mapping, source = data.get("mapping"), data.get("source")
        if mapping and source and mapping.source_id != source.pk:
            self.add_error("mapping", "Choose a mapping saved for this source.")
        return data


class MappingForm(forms.Form):
    """Step 2: a column for each ticket field, how dates are written, and what to do."""

    date_format = forms.ChoiceField(
        label="Dates",
        choices=ColumnMapping.DateFormat.choices,
        initial=ColumnMapping.DateFormat.AUTO,
    )
    timezone = forms.CharField(
        required=False,
        label="Time zone",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
        help_text="Zone of timestamps without an offset (required when the file has such).",
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label="Skip problem rows",
        help_text="Import the good rows; each skipped one is listed on the job page.",
    )
    save_name = forms.CharField(required=False, max_length=80, label="Save mapping as")

    def __init__(self, *args: Any, header: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *((column, column) for column in header)]
        columns = {
            f"map_{name}": forms.ChoiceField(
                label=FIELD_LABELS[name],  # crispy marks required fields itself
                choices=choices,
                required=name in gc.REQUIRED_FIELDS,
            )
            for name in gc.TICKET_FIELDS
        }
        self.fields = {**columns, **self.fields}  # the columns come first on the page

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name and name.upper() != "UTC" and name not in zoneinfo.available_timezones():
            raise forms.ValidationError(f"Unknown time zone {name!r}; use Area/City or UTC.")
        return "UTC" if name.upper() == "UTC" else name

    def mapping(self) -> dict[str, str]:
        """The chosen ``{ticket field: column}``, unmapped fields left out."""
        data = self.cleaned_data
        return {name: data[f"map_{name}"] for name in gc.TICKET_FIELDS if data.get(f"map_{name}")}

    @staticmethod
    def initial_for(mapping: dict[str, str], date_format: str, timezone: str) -> dict[str, Any]:
        return {
            **{f"map_{name}": column for name, column in mapping.items()},
            "date_format": date_format,
            "timezone": timezone,
        }


def _pending(
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


def _store_upload(request: HttpRequest, form: CsvUploadForm, kind: str) -> str | None:
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


def _retried_job(request: HttpRequest, pending: dict[str, Any]) -> ImportJob | None:
    """The earlier attempt a pending upload corrects, as the user may see it."""
    if not pending.get("retry_of"):
        return None
    return import_jobs_visible_to(request.user).filter(pk=pending["retry_of"]).first()


@require_drafter
def csv_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: store the CSV and go on to map its columns."""
    form = CsvUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        token = _store_upload(request, form, TICKETS)
        if token is not None:
            return redirect("monitoring:csv-mapping", token=token)
    status = 400 if request.method == "POST" else 200
    return render(request, "monitoring/mapping_upload.html", {"form": form}, status=status)


@require_drafter
def csv_mapping(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2: map the columns, preview the result, save the mapping or import the file."""
    pending, source = _pending(request, token)
    saved = _saved_mapping(request, pending, source, TICKETS)
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
            "retry_of": _retried_job(request, pending),
        },
    )


def _saved_mapping(
    request: HttpRequest, pending: dict[str, Any], source: Source, kind: str
) -> ColumnMapping | None:
    if not pending["mapping"]:
        return None
    mappings = mappings_visible_to(request.user, kind)
    return mappings.filter(pk=pending["mapping"], source=source).first()


def _name_taken_by_other_kind(source: Source, name: str, kind: str) -> bool:
    """True when ``source`` has a mapping of the other kind named ``name`` (names are unique
    per source, so saving would silently turn one kind into the other)."""
    same_name = ColumnMapping.objects.filter(source=source, name=name)
    if kind == TICKETS:
        return same_name.filter(mapping__has_key=el.STATES_KEY).exists()
    return same_name.exclude(mapping__has_key=el.STATES_KEY).exists()


def _save_mapping(
    request: HttpRequest, form: MappingForm, source: Source, token: str
) -> HttpResponse:
    name = form.cleaned_data["save_name"].strip()
    if not name:
        messages.error(request, "Give the mapping a name to save it.")
    elif _name_taken_by_other_kind(source, name, TICKETS):
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
        retry_of=_retried_job(request, pending),
    )
    uploads = request.session[SESSION_KEY]
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    return redirect(reverse("monitoring:import-detail", args=[job.pk]))


# --- Event logs: one row per state change ----------------------------------------------------


class EventColumnsForm(forms.Form):
    """Event-log step 2: a column for each event field, how dates are written, their zone."""

    date_format = MappingForm.base_fields["date_format"]
    timezone = MappingForm.base_fields["timezone"]
    clean_timezone = MappingForm.clean_timezone

    def __init__(self, *args: Any, header: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *((column, column) for column in header)]
        columns = {
            f"map_{name}": forms.ChoiceField(
                label=el.FIELD_LABELS[name],
                choices=choices,
                required=name in el.REQUIRED_FIELDS,
            )
            for name in el.EVENT_FIELDS
        }
        self.fields = {**columns, **self.fields}

    def mapping(self) -> dict[str, str]:
        """The chosen ``{event field: column}``, unmapped fields left out."""
        data = self.cleaned_data
        return {name: data[f"map_{name}"] for name in el.EVENT_FIELDS if data.get(f"map_{name}")}

    @staticmethod
    def initial_for(mapping: dict[str, Any], date_format: str, timezone: str) -> dict[str, Any]:
        return {
            **{f"map_{name}": mapping[name] for name in el.EVENT_FIELDS if mapping.get(name)},
            "date_format": date_format,
            "timezone": timezone,
        }


class EventStatesForm(forms.Form):
    """Event-log step 3: what each state found in the file means, and what to do."""

    skip_invalid = forms.BooleanField(
        required=False,
        label="Skip tickets with problem rows",
        help_text="Import the other tickets; every problem is listed on the job page.",
    )
    save_name = forms.CharField(required=False, max_length=80, label="Save mapping as")

    def __init__(self, *args: Any, states: list[tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.states = states
        for index, (state, count) in enumerate(states):
            self.fields[f"state_{index}"] = forms.ChoiceField(
                label=state,
                choices=[(role, ROLE_LABELS[role]) for role in ROLES],
                widget=forms.RadioSelect,
                help_text=f"{count} row{'s' if count != 1 else ''}",
            )

    @staticmethod
    def initial_for(states: list[tuple[str, int]], roles: dict[str, str]) -> dict[str, str]:
        """Saved roles where known, guessed from the state's name otherwise."""
        return {
            f"state_{index}": roles.get(state) or el.guess_role(state)
            for index, (state, _count) in enumerate(states)
        }

    def roles(self) -> dict[str, str]:
        """The chosen ``{state: role}``."""
        return {
            state: self.cleaned_data[f"state_{index}"]
            for index, (state, _count) in enumerate(self.states)
        }

    def rows(self) -> list[tuple[str, int, forms.BoundField]]:
        """``(state, count, field)`` per state, for the table of the template."""
        return [
            (state, count, self[f"state_{index}"])
            for index, (state, count) in enumerate(self.states)
        ]


@require_drafter
def event_log_upload(request: HttpRequest) -> HttpResponse:
    """Event-log step 1: store the export and go on to map its columns."""
    form = CsvUploadForm(
        request.POST or None, request.FILES or None, user=request.user, kind=EVENT_LOG
    )
    if request.method == "POST" and form.is_valid():
        token = _store_upload(request, form, EVENT_LOG)
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


def _remember(request: HttpRequest, token: str, **values: Any) -> None:
    uploads = request.session[SESSION_KEY]
    uploads[token].update(values)
    request.session[SESSION_KEY] = uploads


@require_drafter
def event_log_columns(request: HttpRequest, token: str) -> HttpResponse:
    """Event-log step 2: map the columns and check that the dates can be read."""
    pending, source = _pending(request, token, EVENT_LOG)
    saved = _saved_mapping(request, pending, source, EVENT_LOG)
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
                _remember(request, token, columns=columns)
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
            "retry_of": _retried_job(request, pending),
        },
    )


@require_drafter
def event_log_states(request: HttpRequest, token: str) -> HttpResponse:
    """Event-log step 3: say what each state means, preview the tickets, save or import."""
    pending, source = _pending(request, token, EVENT_LOG)
    columns = pending.get("columns")
    if not columns:
        return redirect("monitoring:event-log-columns", token=token)
    saved = _saved_mapping(request, pending, source, EVENT_LOG)
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
        _remember(request, token, roles=form.roles())
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
            "retry_of": _retried_job(request, pending),
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
    elif _name_taken_by_other_kind(source, name, EVENT_LOG):
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
        _remember(request, token, mapping=saved.pk)
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
        retry_of=_retried_job(request, pending),
    )
    uploads = request.session[SESSION_KEY]
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    return redirect(reverse("monitoring:import-detail", args=[job.pk]))
