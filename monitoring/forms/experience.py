"""The NPS schedule of an agreement, set by its service manager."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from monitoring.experience.nps import EARLIEST_START, LATEST_START_AHEAD


class NpsScheduleForm(forms.Form):
    every_months = forms.TypedChoiceField(
        label="Ask the NPS question",
        coerce=int,
        choices=[
            (0, "Never (no NPS survey)"),
            (1, "Every month"),
            (3, "Every 3 months"),
            (6, "Every 6 months"),
            (12, "Every 12 months"),
        ],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    starts_on = forms.DateField(
        label="First round on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        help_text="Empty: today.",
    )

    def clean_starts_on(self):
        value = self.cleaned_data.get("starts_on")
        latest = timezone.localdate() + LATEST_START_AHEAD
        if value is not None and not EARLIEST_START <= value <= latest:
            raise forms.ValidationError(
                f"The first round lies between {EARLIEST_START:%d %b %Y} and a year from today."
            )
        return value
