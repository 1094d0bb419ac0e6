"""Forms of the organisation and people pages."""

from __future__ import annotations

from django import forms

from .models import Organisation
from .services import roles_for


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organisation name")
    contact_email = forms.EmailField(
        required=False, label="Contact email", help_text="The organisation's general IT address."
    )


class InviteForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(
        max_length=150,  # it becomes the username, which holds 150 characters
        help_text="The invitation with a set-password link goes here; it is also the username.",
    )
    role = forms.ChoiceField()
    job_title = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles_for(organisation)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles_for(organisation)


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses the token, e.g. “ServiceNow nightly export”."
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Read: look data up. Write: every other change your role allows. Ingest: "
        "push monitoring data to the bulk endpoints.",
    )

    def __init__(self, *args, scopes: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = scopes
