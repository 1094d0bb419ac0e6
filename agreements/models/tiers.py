"""Tier templates (Gold, Silver, Bronze, ...): default targets, hours and charges."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from agreements.choices import Period
from sla_portal.core.scoping import ScopedManager


class Tier(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in lists.")
    is_active = models.BooleanField(default=True)
    service_calendar = models.ForeignKey(
        "agreements.Calendar", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    support_calendar = models.ForeignKey(
        "agreements.Calendar", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_interval_months = models.PositiveSmallIntegerField(default=6)
    fee_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    fee_period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    currency = models.CharField(max_length=3, default="EUR")
    credit_cap_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    maintenance_max_minutes = models.PositiveIntegerField(default=240)
    maintenance_notice_days = models.PositiveSmallIntegerField(default=5)
    maintenance_excluded = models.BooleanField(default=True)

    # Tier templates carry the provider's pricing: provider users only.
    scope_paths: tuple[str, ...] = ()
    objects = ScopedManager()

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_cap_percent__gte=0, credit_cap_percent__lte=100),
                name="tier_credit_cap_range",
            ),
            models.CheckConstraint(
                condition=Q(review_interval_months__gte=1, review_interval_months__lte=60),
                name="tier_review_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name
