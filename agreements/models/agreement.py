"""The service level agreement: ten ITIL sections, structured where they can be measured."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from agreements.choices import Period
from sla_portal.core.scoping import ScopedManager

# Written only by the lifecycle services (see Agreement.save).
LIFECYCLE_FIELDS = frozenset({"status", "in_force_version", "activated_at"})


class Agreement(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_NEGOTIATION = "in_negotiation", "In negotiation"
        AGREED = "agreed", "Agreed (awaiting signatures)"
        ACTIVE = "active", "Active"
        UNDER_REVIEW = "under_review", "Under review"
        RENEGOTIATING = "renegotiating", "Renegotiating"
        TERMINATED = "terminated", "Terminated"
        EXPIRED = "expired", "Expired"

    class BusinessPriority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Business critical"

    # --- Identity and terms
    customer = models.ForeignKey(
        "core.Organisation",
        on_delete=models.PROTECT,
        related_name="agreements",
        limit_choices_to={"kind": "customer"},
    )
    services = models.ManyToManyField("agreements.Service", related_name="agreements")
    tier = models.ForeignKey(
        "agreements.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agreements",
    )
    title = models.CharField(max_length=200)
    reference = models.CharField(max_length=40, unique=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Empty: open-ended.")
    review_interval_months = models.PositiveSmallIntegerField(default=6)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    in_force_version = models.ForeignKey(
        "agreements.AgreementVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The signed version monitoring and reports measure against.",
    )
    activated_at = models.DateTimeField(null=True, blank=True)

    # --- 1. Service description
    service_description = models.TextField(
        blank=True, help_text="Key business functions and deliverables (Markdown)."
    )
    scale = models.TextField(blank=True, help_text="Users, sites, volumes covered (Markdown).")
    business_impact = models.TextField(
        blank=True, help_text="What an outage means to the business (Markdown)."
    )
    business_priority = models.CharField(
        max_length=16, choices=BusinessPriority.choices, default=BusinessPriority.MEDIUM
    )
    # --- 2. Service hours
    service_calendars = models.ManyToManyField(
        "agreements.Calendar", related_name="service_agreements", blank=True
    )
    service_hours_notes = models.TextField(blank=True)
    # --- 3. Availability
    maintenance_max_minutes = models.PositiveIntegerField(
        default=240, help_text="Most planned maintenance allowed per month, in minutes."
    )
    maintenance_notice_days = models.PositiveSmallIntegerField(
        default=5, help_text="Days of notice before planned maintenance."
    )
    maintenance_excluded = models.BooleanField(
        default=True, help_text="Announced maintenance does not count as downtime."
    )
    availability_notes = models.TextField(blank=True)
    # --- 4. Support levels
    support_calendar = models.ForeignKey(
        "agreements.Calendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_agreements",
        help_text="Service desk hours.",
    )
    after_hours_procedure = models.TextField(blank=True)
    # --- 5. Performance
    performance_notes = models.TextField(blank=True)
    # --- 6. Functionality
    functionality_notes = models.TextField(blank=True)
    # --- 7. Charges
    fee_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    fee_period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    currency = models.CharField(max_length=3, default="EUR")
    charging_formula = models.TextField(blank=True)
    credit_cap_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Most credit per period, as % of the period fee.",
    )
    credit_exclusions = models.TextField(blank=True)
    # --- 8. Continuity
    rto_minutes = models.PositiveIntegerField(null=True, blank=True)
    rpo_minutes = models.PositiveIntegerField(null=True, blank=True)
    dr_plan_reference = models.CharField(max_length=200, blank=True)
    continuity_notes = models.TextField(blank=True)
    # --- 9. Security
    security_procedures = models.TextField(blank=True)
    security_protocols = models.TextField(blank=True)
    security_measures = models.TextField(blank=True)
    # --- 10. Changes
    change_policy = models.TextField(blank=True)
    change_notice_days = models.PositiveSmallIntegerField(default=10)
    change_approval = models.TextField(blank=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="agreement_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(review_interval_months__gte=1, review_interval_months__lte=60),
                name="agreement_review_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(credit_cap_percent__gte=0, credit_cap_percent__lte=100),
                name="agreement_credit_cap_range",
            ),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="agreement_fee_positive"),
        ]
        indexes = [models.Index(fields=["customer", "status"], name="agreement_customer_status")]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def save(self, *args, **kwargs) -> None:
        # The lifecycle fields move only through the lifecycle services, which name them in
        # update_fields; any other save of an existing row (an editor form, the admin, a
        # script holding an older copy) leaves them as they are in the database.
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in LIFECYCLE_FIELDS
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("agreements:detail", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        if self.effective_to and self.effective_from and self.effective_to <= self.effective_from:
            raise ValidationError(
                {"effective_to": "Time-bound: the agreement must end after it starts."}
            )
        if self.customer_id and self.customer.is_provider:
            raise ValidationError({"customer": "An agreement is with a customer organisation."})

    @property
    def is_editable(self) -> bool:
        """The provider may change the working copy while negotiating (a counter-proposal
        is an edit followed by a new proposal); never once agreed or in force."""
        from agreements.lifecycle import EDITABLE_STATES

        return self.status in EDITABLE_STATES

    @property
    def not_editable_reason(self) -> str:
        return (
            f"{self.reference} is {self.get_status_display().lower()}: an agreement can only be "
            "changed while it is drafted or negotiated."
        )

    @property
    def stage(self) -> str:
        from agreements.lifecycle import STAGE_OF_STATE

        return STAGE_OF_STATE[self.status]


class Signatory(models.Model):
    class Side(models.TextChoices):
        PROVIDER = "provider", "Provider"
        CUSTOMER = "customer", "Customer"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="signatories")
    side = models.CharField(max_length=8, choices=Side.choices)
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=120)
    organisation_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["side", "name"]

    def __str__(self) -> str:
        return f"{self.name}, {self.role} ({self.organisation_name})"


class SupportChannel(models.Model):
    class Kind(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        PORTAL = "portal", "Self-service portal"
        CHAT = "chat", "Chat"
        ONSITE = "onsite", "On site"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="support_channels"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    contact = models.CharField(max_length=200, help_text="Number, address or URL.")
    hours = models.CharField(max_length=120, blank=True, help_text="e.g. 24x7, or desk hours.")

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.contact}"
