"""What the catalogue forms share: small Bootstrap widgets, a text input with suggestions, and
:class:`Editor`, which bundles a main form with the formsets of its rows so a view can ask one
question ("is everything valid?") and save everything in one transaction or nothing at all.
"""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.db.models import Model
from django.forms import BaseInlineFormSet
from django.utils.html import format_html, format_html_join

SMALL = {"class": "form-control form-control-sm"}
SMALL_SELECT = {"class": "form-select form-select-sm"}


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


def small_widgets(form: forms.BaseForm) -> None:
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


def legend(text: str) -> str:
    # Bootstrap's legends are heading-sized; inside a card of fields a smaller one reads better.
    return format_html('<span class="fs-6 fw-semibold">{}</span>', text)


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
