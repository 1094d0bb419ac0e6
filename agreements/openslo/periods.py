"""OpenSLO time windows to the portal's measurement periods (month, quarter, year)."""

from __future__ import annotations

from datetime import date, datetime

# Length of each portal period in days, to find the nearest one to any window.
PERIOD_DAYS = {"month": 30.44, "quarter": 91.31, "year": 365.25}
EXACT_MONTHS = {1: "month", 3: "quarter", 12: "year"}
DAYS_PER_UNIT = {"m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7}
MONTHS_PER_UNIT = {"M": 1, "Q": 3, "Y": 12}
ALPHA_UNITS = {
    "Second": ("m", 1 / 60),
    "Minute": ("m", 1),
    "Hour": ("h", 1),
    "Day": ("d", 1),
    "Week": ("w", 1),
    "Month": ("M", 1),
    "Quarter": ("Q", 1),
    "Year": ("Y", 1),
}
PERIOD_DURATION = {"month": "1M", "quarter": "1Q", "year": "1Y"}
PERIOD_START_MONTHS = {"month": range(1, 13), "quarter": (1, 4, 7, 10), "year": (1,)}


def period_for(count: float, unit: str, rolling: bool) -> tuple[str, bool]:
    """The portal period for a window of ``count`` ``unit`` (m h d w M Q Y), and whether the
    mapping is exact (a calendar-aligned month, quarter or year)."""
    if unit in MONTHS_PER_UNIT:
        months = count * MONTHS_PER_UNIT[unit]
        if not rolling and months in EXACT_MONTHS:
            return EXACT_MONTHS[int(months)], True
        days = months * PERIOD_DAYS["month"]
    else:
        days = count * DAYS_PER_UNIT[unit]
    nearest = min(PERIOD_DAYS, key=lambda p: abs(PERIOD_DAYS[p] - days))
    return nearest, False


def start_is_period_start(start: object, zone: object, period: str) -> bool:
    """A calendar window that starts at midnight UTC on the first day of a period adds
    nothing the portal's own calendar periods do not already say."""
    if str(zone) != "UTC":
        return False
    if isinstance(start, datetime):
        moment = start
    elif isinstance(start, date):
        moment = datetime(start.year, start.month, start.day)
    else:
        try:
            moment = datetime.strptime(str(start), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return False
    return (
        moment.day == 1
        and (moment.hour, moment.minute, moment.second) == (0, 0, 0)
        and moment.month in PERIOD_START_MONTHS[period]
    )
