"""Public holidays by country and subdivision, from the holidays package.

Kept apart from ``agreements.calendars`` (which reads stored calendars) because the calendar
model validates its country with ``holiday_country_error``: the models must not import the
module that imports them.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays as holidays_lib

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


def years_around(today: date) -> tuple[int, ...]:
    """The years whose holidays a calendar expands around ``today``."""
    return tuple(range(today.year - HOLIDAY_YEARS_BACK, today.year + HOLIDAY_YEARS_AHEAD + 1))
