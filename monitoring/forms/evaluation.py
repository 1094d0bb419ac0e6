"""Forms of the evaluation pages: the alerts filter, the root-cause note and the escalation
matrix's contact form."""

from __future__ import annotations

import django_filters
from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from agreements.models import Agreement
from agreements.selectors import agreements_visible_to
from monitoring.format import state_word
from monitoring.models import Alert, EscalationContact, Level
from monitoring.presentation import LEVEL_CHOICES
from sla_portal.core.models import Organisation, User

ACKNOWLEDGED_CHOICES = (("no", "Not acknowledged"), ("yes", "Acknowledged"))


def _visible_agreements(request: HttpRequest | None) -> QuerySet[Agreement]:
    if request is None:
        return Agreement.objects.none()
    return agreements_visible_to(request.user).order_by("reference")


class AlertListFilter(django_filters.FilterSet):
    """Filters of the alerts list; needs ``request`` for the agreement choices, so an id of
    another customer's agreement is rejected like one that does not exist."""

    level = django_filters.ChoiceFilter(choices=LEVEL_CHOICES, empty_label="Any level")
    acknowledged = django_filters.ChoiceFilter(
        choices=ACKNOWLEDGED_CHOICES,
        method="filter_acknowledged",
        empty_label="Either",
        label="Acknowledged",
    )
    agreement = django_filters.ModelChoiceFilter(
        queryset=_visible_agreements, empty_label="Any agreement"
    )

    class Meta:
        model = Alert
        fields = ["level", "acknowledged", "agreement"]

    def filter_acknowledged(self, queryset: QuerySet[Alert], name: str, value: str):
        return queryset.filter(acknowledged_at__isnull=value != "yes")


class RootCauseForm(forms.Form):
    root_cause = forms.CharField(
        label="Root cause",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="What caused the breach and what was done about it, for the service review.",
    )


class EscalationContactForm(forms.Form):
    """One recipient for one level of an agreement's escalation matrix: a portal user (of
    the provider or of the agreement's customer) or a plain email address."""

    level = forms.ChoiceField(
        choices=[(value, word) for value, word in LEVEL_CHOICES if value != Level.CLOSED]
    )
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).select_related("organisation"),
        required=False,
        label="Portal user",
        empty_label="— none —",
    )
    email = forms.EmailField(
        required=False, label="or email address", help_text="For someone without an account."
    )

    def __init__(self, *args, agreement: Agreement, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        # Any active user validates (so a wrong one gets a clear reason below), but only the
        # people who may receive this agreement's alerts are offered.
        eligible = (
            User.objects.filter(is_active=True)
            .filter(
                Q(organisation__kind=Organisation.Kind.PROVIDER)
                | Q(organisation_id=agreement.customer_id)
            )
            .select_related("organisation")
            .order_by("organisation__name", "first_name", "last_name", "username")
        )
        self.fields["user"].widget.choices = [("", "— none —")] + [
            (user.pk, f"{user.display_name} ({user.organisation.name})") for user in eligible
        ]

    def clean_user(self) -> User | None:
        user = self.cleaned_data.get("user")
        foreign = user is not None and not user.is_provider
        if foreign and user.organisation_id != self.agreement.customer_id:
            raise forms.ValidationError(
                f"{user.display_name} belongs to {user.organisation.name}, not to "
                f"{self.agreement.customer.name}: alerts of this agreement may only go to "
                "the provider's staff and the customer's own people."
            )
        return user

    def clean_email(self) -> str:
        return self.cleaned_data.get("email", "").strip().lower()

    def clean(self) -> dict:
        cleaned = super().clean()
        user, email, level = cleaned.get("user"), cleaned.get("email"), cleaned.get("level")
        if self.errors:
            return cleaned
        if user is None and not email:
            raise forms.ValidationError("Choose a portal user or enter an email address.")
        if user is not None and email:
            raise forms.ValidationError(
                "Choose a portal user or enter an email address, not both: add each separately."
            )
        existing = EscalationContact.objects.filter(agreement=self.agreement, level=level)
        duplicate = existing.filter(user=user) if user is not None else existing.filter(email=email)
        if duplicate.exists():
            who = user.display_name if user is not None else email
            raise forms.ValidationError(
                f"{who} already hears about “{state_word(level)}” alerts of this agreement."
            )
        return cleaned

    def save(self) -> EscalationContact | None:
        """Add the contact; ``None`` (with a form error) when someone added it meanwhile."""
        data = self.cleaned_data
        try:
            # The unique constraints decide a race between two people adding the same contact.
            with transaction.atomic():
                return EscalationContact.objects.create(
                    agreement=self.agreement,
                    level=data["level"],
                    user=data["user"],
                    email="" if data["user"] else data["email"],
                )
        except IntegrityError:
            self.add_error(None, "That contact was just added by someone else.")
            return None
