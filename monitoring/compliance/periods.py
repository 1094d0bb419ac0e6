"""Measurement periods: the month, quarter or year that holds an instant, in a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitoring.compliance.states import Interval

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_bounds(period: str, instant: datetime, zone: str = "UTC") -> Interval:
    """The measurement period (month, quarter or year in ``zone``) that holds ``instant``,
    as aware UTC datetimes ``[start, end)``."""
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    step = _MONTHS[period]
    first_month = (local.month - 1) // step * step + 1
    start = datetime(local.year, first_month, 1, tzinfo=tz)
    return start.astimezone(UTC), _add_months(start, step).astimezone(UTC)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


def periods_between(period: str, first: datetime, last: datetime, zone: str = "UTC") -> list:
    """Every period from the one holding ``first`` to the one holding ``last``, in order."""
    found = []
    start, end = period_bounds(period, first, zone)
    while start <= last:
        found.append((start, end))
        start, end = period_bounds(period, end, zone)
    return found
