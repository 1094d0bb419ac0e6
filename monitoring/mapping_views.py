"""Importing any service desk's CSV export: upload, map columns to ticket fields, preview, import.

Step 1 stores the file and remembers it in the uploader's session under a random token; step 2
shows the mapping form with a preview of the mapped rows, saves mappings per source, and
submits the import as an ordinary ``ImportJob`` (format ``generic_csv``) whose page shows its
progress. The pending upload lives in the session, so no one else can reach it, and its source
is re-read through ``sources_visible_to`` on every request.

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

from sla_portal.core.models import User
from sla_portal.core.permissions import require_drafter

from .forms import time_zone_names
from .importers import ImportOptionError
from .importers import generic_csv as gc
from .jobs import import_job_submit
from .models import ImportJob, Source
from .models.imports import ColumnMapping
from .selectors import sources_visible_to

SESSION_KEY = "csv_uploads"
PREVIEW_ROWS = 20
FIELD_LABELS = {name: name.replace("_", " ").capitalize() for name in gc.TICKET_FIELDS}


def mappings_visible_to(user: User) -> Any:
    """Saved column mappings of the sources the user may see."""
    return ColumnMapping.objects.visible_to(user).select_related("source")


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

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sources_visible_to(user)
        self.fields["mapping"].queryset = mappings_visible_to(user)
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


def _pending(request: HttpRequest, token: str) -> tuple[dict[str, Any], Source]:
    """The upload stored under ``token`` in this session and its (still visible) source."""
    pending = request.session.get(SESSION_KEY, {}).get(token)
    if pending is None:
        raise Http404("No such upload in this session.")
    source = get_object_or_404(sources_visible_to(request.user), pk=pending["source"])
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


@require_drafter
def csv_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: store the CSV and go on to map its columns."""
    form = CsvUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            header = gc.read_header(upload)
        except (ImportOptionError, UnicodeDecodeError) as exc:
            form.add_error("file", f"Not a readable CSV file: {exc}")
        else:
            upload.seek(0)
            name = default_storage.save(f"imports/{upload.name}", upload)
            token = secrets.token_urlsafe(12)
            saved = form.cleaned_data["mapping"]
            uploads = request.session.get(SESSION_KEY, {})
            uploads[token] = {
                "file": name,
                "name": upload.name,
                "header": header,
                "source": form.cleaned_data["source"].pk,
                "mapping": saved.pk if saved else None,
            }
            request.session[SESSION_KEY] = uploads
            return redirect("monitoring:csv-mapping", token=token)
    return render(request, "monitoring/mapping_upload.html", {"form": form})


@require_drafter
def csv_mapping(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2: map the columns, preview the result, save the mapping or import the file."""
    pending, source = _pending(request, token)
    saved = (
        mappings_visible_to(request.user).filter(pk=pending["mapping"], source=source).first()
        if pending["mapping"]
        else None
    )
    if saved is not None:
        initial = MappingForm.initial_for(saved.mapping, saved.date_format, saved.timezone)
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
        },
    )


def _save_mapping(
    request: HttpRequest, form: MappingForm, source: Source, token: str
) -> HttpResponse:
    name = form.cleaned_data["save_name"].strip()
    if not name:
        messages.error(request, "Give the mapping a name to save it.")
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
    )
    uploads = request.session[SESSION_KEY]
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    return redirect(reverse("monitoring:import-detail", args=[job.pk]))
