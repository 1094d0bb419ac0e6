"""Forms of the status page: subscribing, and the provider's incidents and links."""

from __future__ import annotations

from django import forms

from agreements.models import Service
from reporting.models import Incident
from reporting.selectors.status import services_in_force
from sla_portal.core.models import Organisation
from sla_portal.core.notifications import ADDRESS_MAX_LENGTH, normalise_address


def _services_in_force():
    return services_in_force()


def _customers():
    return Organisation.objects.filter(kind=Organisation.Kind.CUSTOMER).order_by("name")


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(
            attrs={
                "autocomplete": "email",
                "placeholder": "you@example.com",
                "class": "form-control",
            }
        ),
    )

    def clean_email(self) -> str:
        # Normalised here, then measured: lowercasing can lengthen an address ("İ" becomes
        # two characters), and the stored form must fit the column.
        email = normalise_address(self.cleaned_data["email"])
        if len(email) > ADDRESS_MAX_LENGTH:
            raise forms.ValidationError(
                f"An address may have at most {ADDRESS_MAX_LENGTH} characters once lowercased "
                f"(this one has {len(email)})."
            )
        return email


class StatusPageForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Organisation.objects.none())
    name = forms.CharField(max_length=120, help_text="Shown as the page's title.")
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty for every service of the customer's agreements in force.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = _customers()
        self.fields["services"].queryset = _services_in_force()


class IncidentForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Organisation.objects.none())
    title = forms.CharField(max_length=200)
    impact = forms.ChoiceField(choices=Incident.Impact.choices)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Affected services: of the customer's agreements in force.",
    )
    status = forms.ChoiceField(
        choices=[c for c in Incident.Status.choices if c[0] != Incident.Status.RESOLVED],
        initial=Incident.Status.INVESTIGATING,
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)
    internal_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        help_text="Provider staff only: never shown to the customer or subscribers.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = _customers()
        self.fields["services"].queryset = _services_in_force()


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
