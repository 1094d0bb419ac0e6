"""Forms of the agreement editor: the new-from-tier form, one form per section, and the
related lists edited with a section."""

from __future__ import annotations

from django import forms
from django.forms import inlineformset_factory, modelform_factory

from agreements.forms.targets import mark_invalid
from agreements.models import (
    Agreement,
    Calendar,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    SupportChannel,
    Tier,
)
from agreements.sections import MARKDOWN_FIELDS, Section
from sla_portal.core.models import Organisation

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TERMS_FIELDS = (
    "title",
    "reference",
    "effective_from",
    "effective_to",
    "review_interval_months",
    "services",
)


class NewAgreementForm(forms.Form):
    """Start a draft from a tier template (or from nothing)."""

    tier = forms.ModelChoiceField(
        queryset=Tier.objects.filter(is_active=True),
        required=False,
        empty_label="No tier (start empty)",
        help_text="Targets, hours and charges are copied from the tier; every value can be "
        "changed afterwards.",
    )
    customer = forms.ModelChoiceField(queryset=Organisation.objects.filter(kind="customer"))
    title = forms.CharField(max_length=200)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    effective_from = forms.DateField(widget=DATE)
    effective_to = forms.DateField(widget=DATE, required=False, help_text="Empty: open-ended.")
    reference = forms.CharField(
        max_length=40, required=False, help_text="Leave empty for the next SLA-YYYY-NNNN."
    )

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"].strip()
        if reference and Agreement.objects.filter(reference=reference).exists():
            raise forms.ValidationError(f"Reference {reference} is already used.")
        return reference

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end <= start:
            self.add_error("effective_to", "Time-bound: the agreement must end after it starts.")
        return data


def _widgets(fields: tuple[str, ...]) -> dict:
    widgets = {}
    for name in fields:
        if name in MARKDOWN_FIELDS:
            widgets[name] = forms.Textarea(attrs={"rows": 4})
        elif name in ("effective_from", "effective_to"):
            widgets[name] = DATE
        elif name in ("services", "service_calendars"):
            widgets[name] = forms.CheckboxSelectMultiple
    return widgets


def section_form_class(fields: tuple[str, ...]) -> type[forms.ModelForm]:
    """A ModelForm of exactly the given agreement fields, with Markdown hints."""
    form_class = modelform_factory(Agreement, fields=fields, widgets=_widgets(fields))

    class SectionForm(form_class):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            for name, field in self.fields.items():
                if name in MARKDOWN_FIELDS:
                    hint = "Markdown: **bold**, lists with '-', links."
                    field.help_text = f"{field.help_text} {hint}".strip()
            for name in ("service_calendars", "support_calendar"):
                if name in self.fields:
                    self.fields[name].queryset = Calendar.objects.order_by("name")

    return SectionForm


def terms_form_class() -> type[forms.ModelForm]:
    return section_form_class(TERMS_FIELDS)


class RowForm(forms.ModelForm):
    """One row of a related list: small inputs labelled by their column, help texts left to
    the column headers (so no input points at a help text that is not there), and each input
    in error tied to its message."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(field.widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", field.label)
            field.help_text = ""

    def full_clean(self) -> None:
        super().full_clean()
        mark_invalid(self)


SignatoryFormSet = inlineformset_factory(
    Agreement,
    Signatory,
    form=RowForm,
    fields=["side", "name", "role", "organisation_name", "email"],
    extra=1,
    can_delete=True,
)
SupportChannelFormSet = inlineformset_factory(
    Agreement,
    SupportChannel,
    form=RowForm,
    fields=["kind", "contact", "hours"],
    extra=1,
    can_delete=True,
)
PriorityDefinitionFormSet = inlineformset_factory(
    Agreement,
    PriorityDefinition,
    form=RowForm,
    fields=["priority", "name", "meaning"],
    extra=0,
    can_delete=True,
    widgets={"meaning": forms.Textarea(attrs={"rows": 2})},
)
CreditBandFormSet = inlineformset_factory(
    Agreement,
    CreditBand,
    form=RowForm,
    fields=["metric", "achieved_below", "credit_percent"],
    extra=1,
    can_delete=True,
)

RELATED_FORMSETS = {
    "signatories": (SignatoryFormSet, "Signatories"),
    "support_channels": (SupportChannelFormSet, "Service desk channels and contacts"),
    "priority_definitions": (PriorityDefinitionFormSet, "Priority definitions"),
    "credit_bands": (CreditBandFormSet, "Service-credit schedule"),
}


def related_formsets(
    section: Section, agreement: Agreement, data=None
) -> list[tuple[str, str, object]]:
    """(name, title, formset) for each related list the section edits."""
    result = []
    for name in section.related:
        formset_class, title = RELATED_FORMSETS[name]
        result.append((name, title, formset_class(data, instance=agreement, prefix=name)))
    return result
