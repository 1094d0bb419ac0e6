"""Forms of tier templates: the tier with its default targets and credit bands, edited on one
page (``tier_editor``)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils.text import slugify

from agreements.forms.common import Editor, legend, small_widgets
from agreements.forms.targets import TierTargetFormSet, share_choices
from agreements.models import Tier, TierCreditBand
from agreements.selectors import calendars_visible_to
from sla_portal.core.models import User

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
                legend("Template"),
                Row(
                    Column("name", css_class="col-md-5"),
                    Column("slug", css_class="col-md-4"),
                    Column("position", css_class="col-md-3"),
                ),
                "description",
                "is_active",
            ),
            Fieldset(
                legend("Hours and review"),
                Row(
                    Column("service_calendar", css_class="col-md-4"),
                    Column("support_calendar", css_class="col-md-4"),
                    Column("review_interval_months", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                legend("Charges"),
                Row(
                    Column("fee_amount", css_class="col-sm-4"),
                    Column("fee_period", css_class="col-sm-4"),
                    Column("currency", css_class="col-sm-4"),
                ),
                "credit_cap_percent",
            ),
            Fieldset(
                legend("Planned maintenance"),
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
        small_widgets(self)

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
