"""Readable figures for alert texts and pages (no Django)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def duration(seconds: float) -> str:
    """Business time as people say it: "45 min", "3 h 20 min", "2 d 4 h".

    The unit is chosen after rounding, so 59.7 s reads "1 min" and 3,599 s "1 h", never
    "60 s" or "60 min"."""
    minutes = round(abs(seconds) / 60)
    if round(abs(seconds)) < 60:
        text = f"{round(abs(seconds))} s"
    elif minutes < 60:
        text = f"{minutes} min"
    elif minutes < 1440:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} h {rest} min" if rest else f"{hours} h"
    else:
        days, rest = divmod(round(abs(seconds) / 3600), 24)
        text = f"{days} d {rest} h" if rest else f"{days} d"
    return f"-{text}" if seconds < 0 and text != "0 s" else text


def percent(value: float | None, places: int = 2) -> str:
    return "–" if value is None else f"{value:.{places}f} %"


TIME_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}


def number(value: float | None, unit: str) -> str:
    """A figure in its unit as people read it: '99.95 %', '12 min', '8 h', '3', '250 ms'."""
    if value is None:
        return "no data"
    if unit == "percent":
        return percent(value)
    if unit in TIME_UNITS:
        return duration(float(value) * TIME_UNITS[unit])
    if unit == "count":
        return f"{value:g}"
    return f"{float(value):g} {unit}"


def period_label(row: Any) -> str:
    """'Nov 2026', 'Q4 2026' or '2026'. Periods begin at midnight in the target's zone, which
    may be the evening before in UTC, so the label is taken from the period's middle."""
    middle = row.period_start + (row.period_end - row.period_start) / 2
    if row.period == "month":
        return f"{middle:%b %Y}"
    if row.period == "quarter":
        return f"Q{(middle.month - 1) // 3 + 1} {middle.year}"
    if row.period == "year":
        return f"{middle.year}"
    return f"{row.period_start:%d %b %Y}\u2013{row.period_end - timedelta(seconds=1):%d %b %Y}"
