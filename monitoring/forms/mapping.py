"""Forms of the column-mapping imports: the upload, a ticket CSV's mapping, and an event log's
columns and state roles. The mapping forms are built from the uploaded file's header."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.importers.folding import ROLES
from monitoring.models.imports import ColumnMapping
from monitoring.selectors.ingest import TICKETS, mappings_visible_to, sources_accepting_data
from sla_portal.core.models import User

FIELD_LABELS = {name: name.replace("_", " ").capitalize() for name in gc.TICKET_FIELDS}
ROLE_LABELS = {
    "new": "New (no response yet)",
    "open": "Open / working",
    "paused": "Pauses the clock",
    "resolved": "Resolves",
    "closed": "Closes",
}


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
