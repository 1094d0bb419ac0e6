"""The targets table: one row per SMART target, for agreements and tier templates alike."""

from __future__ import annotations

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.forms.fields import InvalidJSONInput

from agreements.models import Agreement, Calendar, Target, Tier, TierTarget
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.smart import (
    ALLOWED_SOURCES,
    DEFAULT_SOURCE,
    DEFAULT_UNIT,
    EXPERIENCE_METRICS,
    FIXED_DIRECTION,
    TICKET_METRICS,
    smart_errors,
)

# A tuple: inline formsets append their foreign key to a list of fields, in place.
ROW_FIELDS = TARGET_SPEC_FIELDS
# What a row edits: its spec, and in its "advanced" part the burn-rate rules.
EDITED_FIELDS = (*ROW_FIELDS, "burn_rules")
SMALL = {"class": "form-control form-control-sm"}
DECIMAL_FIELDS = (
    "target_value",
    "threshold_value",
    "compliance_target",
    "compliance_threshold",
    "warning_percent",
)


def plain_decimal(value) -> str:
    """A decimal without trailing zeros or exponent: 15.000 -> '15', 99.900 -> '99.9'."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


SMALL_SELECT = {"class": "form-select form-select-sm"}


def mark_invalid(form: forms.BaseForm) -> None:
    """Mark the inputs in error and tie each to its message, shown right under it with the
    id ``<input id>_error`` (templates/agreements/editor/cell.html)."""
    for name in getattr(form, "_errors", None) or {}:
        if name in form.fields:
            attrs = form.fields[name].widget.attrs
            attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{form[name].auto_id}_error"


class BurnRulesField(forms.JSONField):
    """The rules as JSON text; no rules show as an empty box, not ``null``. Text longer
    than a generous set of rules, or nested too deep for the JSON parser (a
    ``RecursionError``), is refused on the field rather than failing the page."""

    MAX_LENGTH = 20000

    def to_python(self, value):
        if isinstance(value, str) and len(value) > self.MAX_LENGTH:
            raise forms.ValidationError(
                f"At most {self.MAX_LENGTH} characters of rules (this has {len(value)}).",
                code="too_long",
            )
        try:
            return super().to_python(value)
        except (RecursionError, ValueError) as exc:
            raise forms.ValidationError(
                "Enter a valid JSON list of rules (it is nested too deeply or malformed).",
                code="invalid",
            ) from exc

    def bound_data(self, data, initial):
        # Shown back as typed (Django's own JSONField catches only JSONDecodeError).
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        if value in (None, "null", []):
            return ""
        return super().prepare_value(value)


class TargetRowForm(forms.ModelForm):
    """One target row. Unit, direction and data source default from the metric when left
    empty; every SMART rule that fails is shown on its own field."""

    class Meta:
        model = Target
        # Burn-rate rules sit in the row's "advanced" part (docs/burn-rates.md).
        fields = EDITED_FIELDS
        field_classes = {"burn_rules": BurnRulesField}
        widgets = {
            "burn_rules": forms.Textarea(
                attrs={
                    **SMALL,
                    "rows": 3,
                    "spellcheck": "false",
                    "class": "form-control form-control-sm font-monospace",
                    "placeholder": '[{"name": "fast", "severity": "page", "long_seconds": 3600, '
                    '"short_seconds": 300, "factor": 14.4}]',
                }
            ),
            "name": forms.TextInput(attrs={**SMALL, "placeholder": "label"}),
            "error_category": forms.TextInput(attrs={**SMALL, "placeholder": "category"}),
            "target_value": forms.NumberInput(attrs={**SMALL, "step": "any"}),
            "threshold_value": forms.NumberInput(attrs={**SMALL, "step": "any"}),
            "compliance_target": forms.NumberInput(attrs={**SMALL, "step": "any"}),
            "compliance_threshold": forms.NumberInput(attrs={**SMALL, "step": "any"}),
            "warning_percent": forms.NumberInput(attrs={**SMALL, "step": "any"}),
            "min_responses": forms.NumberInput(attrs={**SMALL, "min": "1"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Show 15, not 15.000.
        for name in DECIMAL_FIELDS:
            value = self.initial.get(name)
            if value is not None:
                self.initial[name] = plain_decimal(value)
        for name in ("unit", "direction", "data_source"):
            self.fields[name].required = False
        self.fields["calendar"].queryset = Calendar.objects.order_by("name")
        # Empty: the calendar of the target's section (docs/agreements.md), not "24x7",
        # which is a calendar of its own in the list.
        self.fields["calendar"].empty_label = "As its section"
        for field in self.fields.values():
            # The table shows no help texts (its headers and note explain the columns), so
            # no input may point at one with aria-describedby.
            field.help_text = ""
            if isinstance(field.widget, forms.Select):
                field.widget.attrs.update(SMALL_SELECT)
            elif isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs["class"] = "form-check-input"
            field.widget.attrs.setdefault("aria-label", field.label)

    def clean(self) -> dict:
        data = super().clean()
        metric = data.get("metric")
        if metric:
            defaults = {
                "unit": DEFAULT_UNIT.get(metric, ""),
                "direction": FIXED_DIRECTION.get(metric, ""),
                "data_source": DEFAULT_SOURCE.get(metric, ""),
            }
            for name, default in defaults.items():
                if name in self.errors:
                    # An invalid choice: its own message is shown, the value stays unset.
                    continue
                data[name] = data.get(name) or default
                setattr(self.instance, name, data[name])
            if "direction" not in self.errors and not data["direction"]:
                # Throughput goes up, latency down: only the manager knows which is better.
                # (add_error drops the field from cleaned_data: read nothing from it after.)
                self.add_error(
                    "direction",
                    "Measurable: say whether lower or higher is better for this value.",
                )
        return data

    def full_clean(self) -> None:
        super().full_clean()
        mark_invalid(self)

    def _post_clean(self) -> None:
        super()._post_clean()
        # Model.clean has run the SMART rules; show each on its own field, once.
        if self.cleaned_data.get("DELETE"):
            return
        errors = smart_errors(self.instance.spec()) if self.instance.metric else {}
        for field, messages in errors.items():
            target = field if field in self.fields else None
            for message in messages:
                already = target and message in self.errors.get(target, [])
                if not already and message not in self.non_field_errors():
                    self.add_error(target, message)


class TierTargetRowForm(TargetRowForm):
    class Meta(TargetRowForm.Meta):
        model = TierTarget


class OrderedFormSet(BaseInlineFormSet):
    """New rows go after the existing ones, so the table keeps its order."""

    def save(self, commit: bool = True):
        top = max((f.instance.position for f in self.forms if f.instance.pk), default=0)
        for form in self.forms:
            if not form.instance.pk and form.has_changed():
                top += 1
                form.instance.position = top
        return super().save(commit=commit)


def table_columns(metrics: tuple[str, ...]) -> dict[str, bool]:
    """Which columns the targets table of a section needs; the rest post hidden values."""
    return {
        "metric": len(metrics) > 1,
        "priority": bool(set(metrics) & {"response_time", "resolution_time"}),
        "error_category": "error_count" in metrics,
        "direction": any(m not in FIXED_DIRECTION for m in metrics),
        "data_source": any(len(ALLOWED_SOURCES[m]) > 1 for m in metrics),
        "compliance": bool(set(metrics) & TICKET_METRICS),
        "experience": bool(set(metrics) & EXPERIENCE_METRICS),
    }


def agreement_targets_formset(metrics: tuple[str, ...], inherited: str = "As its section"):
    """Formset class for the agreement's targets of the given metrics (one section);
    ``inherited`` names the empty calendar choice (the calendar the section gives)."""
    formset = inlineformset_factory(
        Agreement,
        Target,
        form=TargetRowForm,
        formset=OrderedFormSet,
        fields=EDITED_FIELDS,
        extra=1,
        can_delete=True,
    )
    form_class = formset.form

    class SectionTargetForm(form_class):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            choices = [(v, label) for v, label in self.fields["metric"].choices if v in metrics]
            if len(metrics) == 1:
                self.fields["metric"].initial = metrics[0]
            else:
                # A blank first option, so an untouched new row stays empty and unsaved.
                choices = [("", "Choose…"), *choices]
            self.fields["metric"].choices = choices
            self.fields["calendar"].empty_label = inherited

    formset.form = SectionTargetForm
    return formset


TierTargetFormSet = inlineformset_factory(
    Tier,
    TierTarget,
    form=TierTargetRowForm,
    formset=OrderedFormSet,
    fields=EDITED_FIELDS,
    extra=1,
    can_delete=True,
)


def share_choices(formset: BaseInlineFormSet, name: str) -> None:
    """Every row offers the same options: read them once, not once per row when rendered.
    (Submitted values are still checked against the field's queryset.)"""
    choices = list(formset.empty_form.fields[name].choices)
    for form in formset.forms:
        form.fields[name].choices = choices
