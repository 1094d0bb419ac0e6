"""Forms of the import pages: uploading an export file for import, and retrying one."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from agreements.models import Agreement, Service
from agreements.selectors import agreements_visible_to
from monitoring.importers.servicenow import DEFAULT_PAUSING, DEFAULT_RESOLVING
from monitoring.models import ImportJob
from monitoring.selectors.ingest import sources_accepting_data
from sla_portal.core.models import User

CHECK_FORMATS = {
    ImportJob.Format.UPTIME_KUMA,
    ImportJob.Format.HEALTHCHECK,
    ImportJob.Format.UPPTIME,
}
MAPPED_FORMATS = CHECK_FORMATS | {ImportJob.Format.STATUSPAGE}


def _state_list(value: str) -> list[str]:
    return [state.strip() for state in value.split(",") if state.strip()]


class ImportUploadForm(forms.Form):
    """An export file, where it comes from and how to read it.

    The choices are scoped to the uploading user (sources and agreements they may see); the
    options are stored on the job as plain JSON for the worker.
    """

    source = forms.ModelChoiceField(queryset=None, help_text="Which feed these rows belong to.")
    # Generic CSV files go through the column-mapping pages instead.
    format = forms.ChoiceField(
        choices=[c for c in ImportJob.Format.choices if c[0] != ImportJob.Format.GENERIC_CSV]
    )
    file = forms.FileField(help_text="The export: CSV or JSON, plain, .zip or .gz.")
    monitors_file = forms.FileField(
        required=False, label="monitor.csv", help_text="Uptime Kuma only: its monitor list."
    )
    timezone = forms.CharField(
        required=False,
        label="Time zone",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
        help_text="Zone of the export's timestamps (required for ServiceNow), e.g. Europe/Lisbon.",
    )
    dayfirst = forms.TypedChoiceField(
        label="Dates",
        choices=[("1", "Day first (31/12/2016)"), ("0", "Month first (12/31/2016)")],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )
    pausing_states = forms.CharField(
        required=False,
        label="States that pause the clock",
        initial=", ".join(sorted(DEFAULT_PAUSING)),
        help_text="Comma-separated (ServiceNow).",
    )
    resolving_states = forms.CharField(
        required=False,
        label="States that resolve",
        initial=", ".join(sorted(DEFAULT_RESOLVING)),
        help_text="Comma-separated (ServiceNow).",
    )
    agreement = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text="Attach the tickets to this agreement of the source's customer (optional).",
    )
    service_map = forms.CharField(
        required=False,
        label="Service map",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Domain=Customer Portal"}),
        help_text="Checks and maintenance: one KEY=SERVICE line per monitor or component.",
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label="Skip unreadable rows",
        help_text="Import although some rows cannot be read; each one is still listed.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sources_accepting_data(user)
        self.fields["agreement"].queryset = agreements_visible_to(user).select_related("customer")
        self.fields["agreement"].label_from_instance = lambda agreement: (
            f"{agreement.reference} – {agreement.customer}"
        )

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name and name.upper() != "UTC" and name not in zoneinfo.available_timezones():
            raise forms.ValidationError(f"Unknown time zone {name!r}; use Area/City or UTC.")
        return "UTC" if name.upper() == "UTC" else name

    def clean_service_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["service_map"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, name = line.partition("=")
            if not sep or not key.strip() or not name.strip():
                raise forms.ValidationError(f"Line {number}: write KEY=SERVICE, not {line!r}.")
            mapping[key.strip()] = name.strip()
        return mapping

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("format")
        if kind == ImportJob.Format.SERVICENOW and not data.get("timezone"):
            self.add_error(
                "timezone", "ServiceNow exports have no time zone: say which one they use."
            )
        if kind == ImportJob.Format.UPTIME_KUMA and not data.get("monitors_file"):
            self.add_error("monitors_file", "Uptime Kuma needs its monitor.csv too.")
        pausing = set(_state_list(data.get("pausing_states", "")))
        resolving = set(_state_list(data.get("resolving_states", "")))
        if pausing & resolving:
            self.add_error(
                "resolving_states",
                f"States cannot both pause and resolve: {sorted(pausing & resolving)}",
            )
        mapping = data.get("service_map") or {}
        if kind in CHECK_FORMATS:
            known = set(
                Service.objects.filter(name__in=mapping.values()).values_list("name", flat=True)
            )
            unknown = sorted(set(mapping.values()) - known)
            if unknown:
                self.add_error("service_map", f"No service named {', '.join(map(repr, unknown))}.")
        agreement: Agreement | None = data.get("agreement")
        source = data.get("source")
        if agreement and source and agreement.customer_id != source.customer_id:
            self.add_error("agreement", "Choose an agreement of the source's customer.")
        return data

    def job_options(self) -> dict[str, Any]:
        """The options the worker needs, as JSON-ready values."""
        data = self.cleaned_data
        kind = data["format"]
        options: dict[str, Any] = {
            "timezone": data["timezone"],
            "skip_invalid": data["skip_invalid"],
        }
        if kind == ImportJob.Format.SERVICENOW:
            options["dayfirst"] = data["dayfirst"]
            # An emptied field means "the parser's defaults", not "no state pauses".
            if _state_list(data["pausing_states"]):
                options["pausing_states"] = _state_list(data["pausing_states"])
            if _state_list(data["resolving_states"]):
                options["resolving_states"] = _state_list(data["resolving_states"])
            if data["agreement"]:
                options["agreement"] = data["agreement"].reference
        if kind in MAPPED_FORMATS:
            options["map"] = data["service_map"]
        return options


# --- Sources ---------------------------------------------------------------------------------


# The kinds the Sources pages create, grouped by how data arrives. Each group has its own form
# (and page), so a webhook form never asks for a probe URL.
class ImportRetryForm(ImportUploadForm):
    """The upload form without its files: a refused job's options, to correct and run again on
    the file(s) already stored."""

    def __init__(self, *args: Any, user: User, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.job = job
        del self.fields["file"], self.fields["monitors_file"]

    def clean(self) -> dict[str, Any]:
        # The stored monitor.csv stands in for the upload the parent form asks for.
        self.cleaned_data.setdefault("monitors_file", self.job.monitors_file or None)
        return super().clean()

    def add_error(self, field: str | None, error: Any) -> None:
        # No file fields here: a missing file is a problem of the format chosen for the
        # stored upload (e.g. Uptime Kuma without its monitor.csv).
        super().add_error("format" if field in ("file", "monitors_file") else field, error)

    @staticmethod
    def initial_for(job: ImportJob, user: User) -> dict[str, Any]:
        """The first attempt's choices, as the form shows them."""
        options = job.options
        initial: dict[str, Any] = {
            "source": job.source_id,
            "format": job.format,
            "timezone": options.get("timezone", ""),
            "skip_invalid": options.get("skip_invalid", False),
            "dayfirst": "1" if options.get("dayfirst", True) else "0",
            "service_map": "\n".join(f"{k}={v}" for k, v in (options.get("map") or {}).items()),
        }
        for key in ("pausing_states", "resolving_states"):
            if options.get(key) is not None:
                initial[key] = ", ".join(options[key])
        if options.get("agreement"):
            agreement = agreements_visible_to(user).filter(reference=options["agreement"]).first()
            initial["agreement"] = agreement.pk if agreement else None
        return initial
