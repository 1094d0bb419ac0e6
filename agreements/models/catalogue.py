"""The service catalogue and the calendars (service hours) services are provided in."""

from __future__ import annotations

import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from agreements.choices import Criticality
from agreements.public_holidays import holiday_country_error
from sla_portal.core.scoping import ScopedManager


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone (for example Europe/Berlin).")


class Service(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_services",
        limit_choices_to={"organisation__kind": "provider"},
    )
    criticality = models.CharField(
        max_length=16, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    probe_url = models.URLField(
        blank=True, help_text="Checked by the uptime monitor when set (HTTP GET)."
    )
    probe_interval_seconds = models.PositiveIntegerField(default=60)
    created_at = models.DateTimeField(auto_now_add=True)

    # Customers see the services of their own agreements.
    scope_paths = ("agreements__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probe_interval_seconds__gte=10), name="service_probe_interval_min"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Calendar(models.Model):
    """Service hours: a time zone, weekly hours, public holidays and extra closures."""

    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    timezone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    is_24x7 = models.BooleanField(
        default=False, help_text="Round the clock, every day; weekly hours are ignored."
    )
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code of public holidays (e.g. DE)."
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="State or region code, e.g. BY for Bavaria."
    )
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = (
        "service_agreements__customer",
        "support_agreements__customer",
        "targets__agreement__customer",
    )
    objects = ScopedManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.holiday_subdivision and not self.holiday_country:
            raise ValidationError({"holiday_country": "A subdivision needs its country."})
        if self.holiday_country:
            error = holiday_country_error(self.holiday_country, self.holiday_subdivision)
            if error:
                raise ValidationError({"holiday_country": error})


class CalendarHours(models.Model):
    """One interval of a weekday. An end of 00:00 means midnight ending that day; an end
    before the start runs overnight into the next day."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name_plural = "calendar hours"
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="calendarhours_weekday"),
            # 00:00-00:00 is the whole day; any other equal start and end is a mistake.
            models.CheckConstraint(
                condition=~Q(start=models.F("end")) | Q(start=time(0)),
                name="calendarhours_nonempty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}\N{EN DASH}{self.end:%H:%M}"


class ClosureDate(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="closure_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}".strip()
