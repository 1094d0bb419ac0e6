"""Forms of the service catalogue: services, calendars (service hours) and tier templates.

A calendar and a tier are each edited on one page together with their rows (weekly hours and
closures; targets and credit bands). :class:`Editor` bundles the main form with those
formsets so a view can ask one question ("is everything valid?") and save everything in one
transaction or nothing at all.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from datetime import date, time
from decimal import Decimal
from functools import cache
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.db import transaction
from django.db.models import Model
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify

from agreements.forms.targets import TierTargetFormSet, share_choices
from agreements.models import Calendar, CalendarHours, ClosureDate, Service, Tier, TierCreditBand
from agreements.public_holidays import holiday_country_error
from agreements.selectors import calendars_visible_to
from sla_portal.core.models import User
from sla_portal.core.netguard import validate_probe_url

SMALL = {"class": "form-control form-control-sm"}
SMALL_SELECT = {"class": "form-select form-select-sm"}
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


class DatalistInput(forms.TextInput):
    """A text input with a ``<datalist>`` of suggestions: free typing with completion, which
    works on phones too and is lighter to use than a select of 600 zones."""

    def __init__(self, options: tuple[str, ...], list_id: str, attrs: dict | None = None) -> None:
        super().__init__(attrs={**(attrs or {}), "list": list_id, "autocomplete": "off"})
        self.options = options
        self.list_id = list_id

    def render(self, name, value, attrs=None, renderer=None) -> str:
        options = format_html_join("", '<option value="{}"></option>', ((o,) for o in self.options))
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            self.list_id,
            options,
        )


def _small_widgets(form: forms.BaseForm) -> None:
    """Compact controls for table rows, each labelled for screen readers (no visible label)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", SMALL_SELECT["class"])
        else:
            widget.attrs.setdefault("class", SMALL["class"])
        widget.attrs.setdefault("aria-label", field.label)


def _legend(text: str) -> str:
    # Bootstrap's legends are heading-sized; inside a card of fields a smaller one reads better.
    return format_html('<span class="fs-6 fw-semibold">{}</span>', text)


# --- Services


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class ServiceForm(forms.ModelForm):
    """A catalogue entry; the owner is one of the provider's people."""

    owner = OwnerChoiceField(
        queryset=User.objects.none(), required=False, help_text="Who answers for this service."
    )
    probe_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Probe URL",
        help_text=Service._meta.get_field("probe_url").help_text,
        validators=[validate_probe_url],
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "description",
            "owner",
            "criticality",
            "probe_url",
            "probe_interval_seconds",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        labels = {"probe_interval_seconds": "Probe interval (seconds)"}
        help_texts = {"probe_interval_seconds": "At least 10 seconds."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(
            organisation__kind="provider", is_active=True
        ).order_by("first_name", "last_name", "username")
        self.fields["probe_interval_seconds"].min_value = 10
        self.fields["probe_interval_seconds"].widget.attrs["min"] = 10
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "name",
            "description",
            Row(Column("owner", css_class="col-md-6"), Column("criticality", css_class="col-md-6")),
            Row(
                Column("probe_url", css_class="col-md-8"),
                Column("probe_interval_seconds", css_class="col-md-4"),
            ),
        )

    def clean_probe_interval_seconds(self) -> int:
        value = self.cleaned_data["probe_interval_seconds"]
        if value is not None and value < 10:
            raise forms.ValidationError("Probe at most every 10 seconds.")
        return value


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
        _small_widgets(self)

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
        _small_widgets(self)


CalendarHoursFormSet = inlineformset_factory(
    Calendar, CalendarHours, form=CalendarHoursForm, extra=2, can_delete=True
)
ClosureDateFormSet = inlineformset_factory(
    Calendar, ClosureDate, form=ClosureDateForm, extra=1, can_delete=True
)


# --- Tiers


CURRENCY = re.compile(r"^[A-Z]{3}$")


class TierForm(forms.ModelForm):
    """The tier template's own defaults; its targets and credit bands are formsets."""

    class Meta:
        model = Tier
        fields = [
            "name",
            "slug",
            "description",
            "position",
            "is_active",
            "service_calendar",
            "support_calendar",
            "review_interval_months",
            "fee_amount",
            "fee_period",
            "currency",
            "credit_cap_percent",
            "maintenance_max_minutes",
            "maintenance_notice_days",
            "maintenance_excluded",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "is_active": "Offered for new agreements",
            "review_interval_months": "Review every (months)",
            "fee_amount": "Fee",
            "fee_period": "per",
            "credit_cap_percent": "Credit cap (% of the period fee)",
            "maintenance_max_minutes": "Maintenance per month, at most (minutes)",
            "maintenance_notice_days": "Maintenance notice (days)",
            "maintenance_excluded": "Announced maintenance is not downtime",
        }
        help_texts = {"slug": "Used in the address; made from the name when left empty."}

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        for name in ("service_calendar", "support_calendar"):
            # The options need names only, not each calendar's prefetched hours.
            self.fields[name].queryset = (
                calendars_visible_to(user).prefetch_related(None).order_by("name")
            )
            self.fields[name].empty_label = "24x7 (no calendar)"
        self.fields["currency"].widget.attrs.update({"class": "text-uppercase", "maxlength": 3})
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _legend("Template"),
                Row(
                    Column("name", css_class="col-md-5"),
                    Column("slug", css_class="col-md-4"),
                    Column("position", css_class="col-md-3"),
                ),
                "description",
                "is_active",
            ),
            Fieldset(
                _legend("Hours and review"),
                Row(
                    Column("service_calendar", css_class="col-md-4"),
                    Column("support_calendar", css_class="col-md-4"),
                    Column("review_interval_months", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                _legend("Charges"),
                Row(
                    Column("fee_amount", css_class="col-sm-4"),
                    Column("fee_period", css_class="col-sm-4"),
                    Column("currency", css_class="col-sm-4"),
                ),
                "credit_cap_percent",
            ),
            Fieldset(
                _legend("Planned maintenance"),
                Row(
                    Column("maintenance_max_minutes", css_class="col-md-6"),
                    Column("maintenance_notice_days", css_class="col-md-6"),
                ),
                "maintenance_excluded",
            ),
        )

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"] or slugify(self.cleaned_data.get("name", ""))

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].strip().upper()
        if not CURRENCY.match(value):
            raise forms.ValidationError("Use the three-letter ISO code, for example EUR.")
        return value

    def clean_fee_amount(self) -> Decimal | None:
        value = self.cleaned_data["fee_amount"]
        if value is not None and value < 0:
            raise forms.ValidationError("A fee cannot be negative.")
        return value

    def clean_credit_cap_percent(self) -> Decimal | None:
        value = self.cleaned_data["credit_cap_percent"]
        if value is not None and not 0 <= value <= 100:
            raise forms.ValidationError("The cap is a share of the fee between 0 and 100%.")
        return value

    def clean_review_interval_months(self) -> int:
        value = self.cleaned_data["review_interval_months"]
        if value is not None and value < 1:
            raise forms.ValidationError("Review at least once: 1 month or more.")
        if value is not None and value > 60:
            raise forms.ValidationError("Review at least every 5 years: 60 months or fewer.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # An empty slug made from the name is validated here, since the field was blank.
        if not data.get("slug") and data.get("name"):
            self.add_error("slug", "Give a slug: the name has no letters or digits to make one.")
        return data


class TierCreditBandForm(forms.ModelForm):
    class Meta:
        model = TierCreditBand
        fields = ["metric", "achieved_below", "credit_percent"]
        labels = {"achieved_below": "Achieved below", "credit_percent": "Credit (% of fee)"}
        widgets = {
            "achieved_below": forms.NumberInput(attrs={"step": "any"}),
            "credit_percent": forms.NumberInput(attrs={"step": "any"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _small_widgets(self)

    def clean_credit_percent(self) -> Decimal | None:
        value = self.cleaned_data["credit_percent"]
        if value is not None and not 0 <= value <= 100:
            raise forms.ValidationError("A credit is between 0 and 100% of the period fee.")
        return value


class CreditBandFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, Any]] = set()
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form):
                continue
            key = (form.cleaned_data.get("metric"), form.cleaned_data.get("achieved_below"))
            if None in key:
                continue
            if key in seen:
                form.add_error("achieved_below", "This step is listed twice for the metric.")
            seen.add(key)


TierCreditBandFormSet = inlineformset_factory(
    Tier,
    TierCreditBand,
    form=TierCreditBandForm,
    formset=CreditBandFormSet,
    extra=1,
    can_delete=True,
)


# --- One page, one transaction


class Editor:
    """A main model form with the inline formsets of its rows, valid and saved together."""

    def __init__(self, form: forms.ModelForm, formsets: dict[str, BaseInlineFormSet]) -> None:
        self.form = form
        self.formsets = formsets

    def is_valid(self) -> bool:
        # Validate every part (not stopping at the first) so all errors show at once.
        results = [self.form.is_valid(), *(fs.is_valid() for fs in self.formsets.values())]
        return all(results)

    @transaction.atomic
    def save(self) -> Model:
        instance = self.form.save()
        for formset in self.formsets.values():
            formset.instance = instance
            formset.save()
        return instance


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


def tier_editor(data: Any, tier: Tier | None, user: User) -> Editor:
    """The tier form with its default targets and credit bands."""
    tier = tier or Tier()
    targets_queryset = tier.targets.select_related("calendar") if tier.pk else None
    targets = TierTargetFormSet(data, instance=tier, prefix="targets", queryset=targets_queryset)
    share_choices(targets, "calendar")
    return Editor(
        TierForm(data, instance=tier, prefix="tier", user=user),
        {"targets": targets, "bands": TierCreditBandFormSet(data, instance=tier, prefix="bands")},
    )
