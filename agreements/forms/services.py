"""The form of a service of the catalogue."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms

from agreements.models import Service
from sla_portal.core.models import User
from sla_portal.core.netguard import validate_probe_url

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
