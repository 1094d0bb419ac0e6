"""Forms of the lifecycle pages: proposals, change requests, acceptance, comments, the
version comparison, supporting agreements and the review record.

The forms only parse what was posted. Who may act and whether the text is enough are the
lifecycle services' rules (``agreements.services.lifecycle``), so a refusal reads the same
from the page, the API and a script.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.forms import formset_factory
from django.http import QueryDict

from agreements.facts import agreement_completeness
from agreements.forms.targets import share_choices
from agreements.models import SupportingAgreement
from agreements.sections import SECTIONS
from sla_portal.core.models import User

GENERAL = "general"
SECTION_CHOICES = [
    (GENERAL, "General (the whole agreement)"),
    *((section.key, f"{section.number}. {section.title}") for section in SECTIONS),
]


def _text_area(rows: int, **attrs: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


class ProposeForm(forms.Form):
    """Send the working copy as the next version, with a note for the other side. With an
    ``agreement``, the form knows what is still missing (``gaps``: section title and what,
    ``blocking``: what stops the proposal); the service decides either way."""

    note = forms.CharField(
        required=False,
        widget=_text_area(2),
        label="Note for the customer",
        help_text="Optional: what this version changes.",
    )
    confirm_incomplete = forms.BooleanField(
        required=False,
        label="I know these sections are incomplete and propose the agreement as it is.",
    )

    def __init__(self, *args, agreement=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gaps: list[tuple[str, list[str]]] = []
        self.blocking: list[str] = []
        if agreement is not None:
            report = agreement_completeness(agreement)
            titles = {s.key: f"{s.number}. {s.title}" for s in SECTIONS}
            grouped: dict[str, list[str]] = {}
            for gap in report.expected:
                grouped.setdefault(titles[gap.section], []).append(gap.what)
            self.gaps = list(grouped.items())
            self.blocking = [gap.what for gap in report.blocking]
        if not self.gaps:
            # Nothing to confirm: the box is not shown (and not needed).
            self.fields["confirm_incomplete"].widget = forms.HiddenInput()


class SectionField(forms.ChoiceField):
    """A section of the agreement, or the agreement as a whole when none is chosen."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=SECTION_CHOICES, initial=GENERAL, required=False, **kwargs)

    def clean(self, value: str) -> str:
        return super().clean(value) or GENERAL


class RequestChangesForm(forms.Form):
    """The customer asks for changes; the service refuses an empty request."""

    section = SectionField()
    # Required in the browser; the service says why when someone posts nothing anyway.
    body = forms.CharField(
        required=False, widget=_text_area(3, required="required"), label="Changes needed"
    )


class AcceptForm(forms.Form):
    """Which version the person saw when accepting: a newer proposal must not be accepted
    by a click on an older page."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    """A remark on one section, or on the agreement as a whole; with ``parent``, a reply in
    that remark's thread (the reply forms under each thread post it)."""

    section = SectionField()
    body = forms.CharField(
        required=False, widget=_text_area(3, required="required"), label="Comment"
    )
    parent = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class EmptyForm(forms.Form):
    """Actions that need nothing but the button (sign, start review)."""


class CompareForm(forms.Form):
    """Two version numbers to put side by side, from the query string. Without ``b`` the
    latest version is shown; without ``a``, the one before ``b``."""

    a = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Compare")
    b = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="with")

    def __init__(self, *args, numbers: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.numbers = sorted(numbers)
        choices = [(number, f"Version {number}") for number in self.numbers]
        self.fields["a"].choices = choices
        self.fields["b"].choices = choices

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        b = data.get("b") or self.numbers[-1]
        a = data.get("a")
        if a is None:
            a = max((number for number in self.numbers if number < b), default=None)
        data["a"], data["b"] = a, b
        return data


class SupportingAgreementForm(forms.ModelForm):
    """An OLA or underpinning contract; the view attaches it to the agreement."""

    class Meta:
        model = SupportingAgreement
        fields = ("kind", "reference", "party", "description")


class ReviewForm(forms.Form):
    """What the review found; the decision comes from the button pressed."""

    findings = forms.CharField(required=False, widget=_text_area(4))
    root_causes = forms.CharField(
        required=False,
        widget=_text_area(3),
        label="Root causes",
        help_text="Why targets were missed, where they were.",
    )
    lessons = forms.CharField(required=False, widget=_text_area(3), label="Lessons learned")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class ReviewActionForm(forms.Form):
    """One follow-up action of a review; a row left empty is skipped."""

    description = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    # Actions are owned by the provider's people: they answer for the service.
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(organisation__kind="provider", is_active=True).order_by(
            "first_name", "last_name", "username"
        ),
        required=False,
        empty_label="No owner yet",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
        label="Due",
    )


ReviewActionFormSet = formset_factory(ReviewActionForm, extra=3)


def review_actions_formset(data: QueryDict | None = None) -> forms.BaseFormSet:
    """The actions formset; every row's owner select reads the users once, not per row."""
    formset = ReviewActionFormSet(data, prefix="actions")
    share_choices(formset, "owner")
    return formset
