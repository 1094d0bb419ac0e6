"""The NPS schedule of an agreement, set by its service manager."""

from __future__ import annotations

from django import forms


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
