"""Filters shared by the API's filter sets."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 timestamp, converted to UTC before it reaches the database.

    Python accepts offsets up to ±23:59, PostgreSQL only up to ±15:59: a value such as
    ``2026-03-02T09:00:00-20:27`` passed on with its offset fails in the database (a 500).
    In UTC every offset is fine; a value that leaves the calendar when converted (year 1 with
    a positive offset) is a 400 like any other malformed value."""

    def to_python(self, value: object) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Enter a date/time within the years 1 to 9999.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` whose value is compared in UTC (:class:`UtcIsoDateTimeField`)."""

    field_class = UtcIsoDateTimeField
