"""Calendars as the business-time clock sees them, public holidays, and the preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from agreements.clock import BusinessCalendar
from agreements.models import Calendar

# Holidays are expanded for this many years either side of today: enough for any ticket
# and any agreement term the portal evaluates.
HOLIDAY_YEARS_BACK = 15
HOLIDAY_YEARS_AHEAD = 10


def holiday_country_error(country: str, subdivision: str = "") -> str:
    """A readable reason why the country/subdivision is unknown to the holidays package."""
    supported = holidays_lib.list_supported_countries()
    if country.upper() not in supported:
        return f"'{country}' is not a country with known public holidays (use e.g. DE, GB, US)."
    if subdivision and subdivision.upper() not in supported[country.upper()]:
        known = ", ".join(supported[country.upper()][:12])
        return f"'{subdivision}' is not a subdivision of {country.upper()} (known: {known}, ...)."
    return ""


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str, years: tuple[int, ...]) -> dict[date, str]:
    """Public holidays with their names; empty without a country."""
    if not country:
        return {}
    found = holidays_lib.country_holidays(
        country.upper(), subdiv=subdivision.upper() or None, years=years
    )
    return dict(found.items())


def _years_around(today: date) -> tuple[int, ...]:
    return tuple(range(today.year - HOLIDAY_YEARS_BACK, today.year + HOLIDAY_YEARS_AHEAD + 1))


def holidays_with_names(calendar: Calendar, today: date | None = None) -> dict[date, str]:
    """Every local date of the calendar on which no interval counts, with its reason."""
    today = today or date.today()
    closed = dict(
        public_holidays(
            calendar.holiday_country, calendar.holiday_subdivision, _years_around(today)
        )
    )
    for closure in calendar.closures.all():
        closed[closure.date] = closure.reason or "Closure"
    return closed


def business_calendar(calendar: Calendar | None, today: date | None = None) -> BusinessCalendar:
    """The clock for a stored calendar (24x7 UTC when there is none)."""
    if calendar is None:
        return BusinessCalendar.always()
    if calendar.is_24x7:
        weekly = {day: [(time(0), time(0))] for day in range(7)}
        return BusinessCalendar(timezone=calendar.timezone, weekly_hours=weekly, holidays=set())
    weekly: dict[int, list[tuple[time, time]]] = {}
    for hours in calendar.hours.all():
        weekly.setdefault(hours.weekday, []).append((hours.start, hours.end))
    return BusinessCalendar(
        timezone=calendar.timezone,
        weekly_hours=weekly,
        holidays=set(holidays_with_names(calendar, today)),
    )


@dataclass(frozen=True)
class PreviewDay:
    day: date
    periods: list[tuple[datetime, datetime]]  # local start and end
    closed_reason: str

    @property
    def business_hours(self) -> float:
        return sum((end - start).total_seconds() for start, end in self.periods) / 3600


def preview(calendar: Calendar, start: datetime, days: int = 14) -> list[PreviewDay]:
    """The coming business periods, day by day in the calendar's own zone, so a person can
    check the calendar does what they meant (holidays and closures named)."""
    zone = ZoneInfo(calendar.timezone)
    clock = business_calendar(calendar, today=start.date())
    closed = {} if calendar.is_24x7 else holidays_with_names(calendar, today=start.date())
    first = start.astimezone(zone).date()
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_start = datetime.combine(day, time(0), tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        periods = [
            (a.astimezone(zone), b.astimezone(zone)) for a, b in clock.intervals(day_start, day_end)
        ]
        result.append(PreviewDay(day=day, periods=periods, closed_reason=closed.get(day, "")))
    return result
