"""Forms of calendars (service hours): the calendar with its weekly hours and closure dates,
edited on one page (``calendar_editor``), and the preview of the coming days."""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import date, time
from functools import cache
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.forms import inlineformset_factory

from agreements.forms.common import DatalistInput, Editor, small_widgets
from agreements.models import Calendar, CalendarHours, ClosureDate
from agreements.public_holidays import holiday_country_error

HOURS_HELP = (
    "One row per interval; a weekday may have several (for example 08:00 to 12:00 and 13:00 "
    "to 17:00). An end of 00:00 means midnight at the end of the day; an end before the start "
    "runs overnight into the next morning (22:00 to 06:00). Public holidays and closure dates "
    "suppress the intervals of that date."
)


@cache
def iana_timezones() -> tuple[str, ...]:
    """Every IANA time zone name known to this machine, sorted (read once per process)."""
    return tuple(sorted(zoneinfo.available_timezones()))


# --- Calendars


class CalendarForm(forms.ModelForm):
    """Name, zone and holidays of a calendar; its hours and closures are formsets."""

    class Meta:
        model = Calendar
        fields = [
            "name",
            "description",
            "timezone",
            "is_24x7",
            "holiday_country",
            "holiday_subdivision",
        ]
        labels = {
            "timezone": "Time zone",
            "is_24x7": "Round the clock (24x7)",
            "holiday_country": "Public holidays of country",
            "holiday_subdivision": "Subdivision",
        }
        help_texts = {
            "timezone": "IANA name, for example Europe/Berlin or America/New_York. Hours are "
            "wall-clock times in this zone, daylight saving included.",
            "holiday_country": "ISO code such as DE, GB or US; leave empty for no public holidays.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].widget = DatalistInput(iana_timezones(), "iana-timezones")
        for name in ("holiday_country", "holiday_subdivision"):
            self.fields[name].widget.attrs["class"] = "text-uppercase"
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-6"), Column("timezone", css_class="col-md-6")),
            "description",
            "is_24x7",
            Row(
                Column("holiday_country", css_class="col-sm-6"),
                Column("holiday_subdivision", css_class="col-sm-6"),
            ),
        )

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value in iana_timezones():
            return value
        # Most wrong zones are typos or the wrong case ("europe/berlin", "Europe/Berln").
        by_lower = {zone.lower(): zone for zone in iana_timezones()}
        guess = by_lower.get(value.lower()) or next(
            iter(difflib.get_close_matches(value, iana_timezones(), n=1)), None
        )
        hint = f" Did you mean {guess}?" if guess else " For example Europe/Berlin."
        raise forms.ValidationError(f"'{value}' is not an IANA time zone.{hint}")

    def clean_holiday_country(self) -> str:
        return self.cleaned_data["holiday_country"].strip().upper()

    def clean_holiday_subdivision(self) -> str:
        return self.cleaned_data["holiday_subdivision"].strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.has_error("holiday_country"):  # too long, say; one message is enough
            return data
        country = data.get("holiday_country", "")
        subdivision = data.get("holiday_subdivision", "")
        if subdivision and not country:
            self.add_error("holiday_country", "A subdivision needs its country.")
        elif country:
            country_error = holiday_country_error(country)
            if country_error:
                self.add_error("holiday_country", country_error)
            elif subdivision:
                subdivision_error = holiday_country_error(country, subdivision)
                if subdivision_error:
                    self.add_error("holiday_subdivision", subdivision_error)
        return data

    def _post_clean(self) -> None:
        if self.has_error("holiday_country") or self.has_error("holiday_subdivision"):
            # The form has already named the problem on the right field; without this the
            # model's own holiday check would repeat it on the country field.
            self.cleaned_data.pop("holiday_country", None)
            self.cleaned_data.pop("holiday_subdivision", None)
            self.instance.holiday_country = self.instance.holiday_subdivision = ""
        super()._post_clean()


class PreviewForm(forms.Form):
    """The ``?from=YYYY-MM-DD&days=N`` of the calendar preview; bad values fall back."""

    DEFAULT_DAYS = 14
    MAX_DAYS = 60
    # Public holidays are computed for years around the first day; far-off years have none
    # worth checking, and the year 9999 would overflow.
    MAX_YEARS_AWAY = 50

    days = forms.IntegerField(
        required=False, label="Days", widget=forms.NumberInput(attrs={"min": 1, "max": MAX_DAYS})
    )

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        # "from" is the documented query parameter but a Python keyword, hence set here.
        self.fields = {
            "from": forms.DateField(
                required=False,
                label="From",
                input_formats=["%Y-%m-%d"],
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            ),
            **self.fields,
        }

    def clean_from(self) -> date | None:
        value = self.cleaned_data["from"]
        if value and abs(value.year - self.today.year) > self.MAX_YEARS_AWAY:
            raise forms.ValidationError(
                f"Preview a date within {self.MAX_YEARS_AWAY} years of today."
            )
        return value

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        # Asking for too many days is not an error worth a message: show the most we show.
        return self.DEFAULT_DAYS if days is None else min(max(days, 1), self.MAX_DAYS)

    def window(self) -> tuple[date, int]:
        """The first day and the number of days to preview."""
        self.is_valid()  # keeps the valid one of the two when the other is not
        data = getattr(self, "cleaned_data", {})
        return data.get("from") or self.today, data.get("days") or self.DEFAULT_DAYS


class CalendarHoursForm(forms.ModelForm):
    class Meta:
        model = CalendarHours
        fields = ["weekday", "start", "end"]
        widgets = {
            "start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["weekday"].choices = [("", "Weekday"), *CalendarHours.Weekday.choices]
        small_widgets(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and start == end and start != time(0):
            self.add_error(
                "end",
                f"Start and end are both {start:%H:%M}, which leaves no time: the end must "
                "differ from the start (00:00 to 00:00 is the whole day; for round-the-clock "
                "service tick 24x7).",
            )
        return data


class ClosureDateForm(forms.ModelForm):
    class Meta:
        model = ClosureDate
        fields = ["date", "reason"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs["placeholder"] = "e.g. Company holiday"
        small_widgets(self)


CalendarHoursFormSet = inlineformset_factory(
    Calendar, CalendarHours, form=CalendarHoursForm, extra=2, can_delete=True
)
ClosureDateFormSet = inlineformset_factory(
    Calendar, ClosureDate, form=ClosureDateForm, extra=1, can_delete=True
)


def calendar_editor(data: Any, calendar: Calendar | None) -> Editor:
    """The calendar form with its weekly hours and closure dates."""
    calendar = calendar or Calendar()
    hours = CalendarHoursFormSet(data, instance=calendar, prefix="hours")
    if calendar.pk is None:
        # A new calendar gets a blank row per working day, so a week fits in one go.
        hours.extra = 5
    return Editor(
        CalendarForm(data, instance=calendar, prefix="calendar"),
        {
            "hours": hours,
            "closures": ClosureDateFormSet(data, instance=calendar, prefix="closures"),
        },
    )
