"""Values as people read them: numbers without trailing zeros, units, durations, money,
percentages, weekly hours in words, the credit schedule in rows.

Pure: plain values in, text out, no Django, so these are tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

UNIT_SUFFIX = {
    "minutes": "min",
    "hours": "h",
    "seconds": "s",
    "ms": "ms",
    "percent": "%",
    "count": "",
    "score": "",
    "other": "",
}
WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# What a compliance goal counts, by where the target's measurements come from.
COMPLIANCE_NOUN = {
    "tickets": "tickets",
    "incidents": "incidents",
    "security_incidents": "incidents",
}
CENT = Decimal("0.01")
NBSP = "\u00a0"
DASH = "\u2013"  # the en dash of ranges: Mon-Fri, 08:00-18:00


def format_number(value: Decimal | int | float) -> str:
    """A number without the trailing zeros a DecimalField keeps: 99.900 -> '99.9',
    1500.000 -> '1,500' (never scientific notation)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{number.normalize():,f}"


def format_value(value: Decimal | int | float | None, unit: str) -> str:
    """A target or threshold with its unit, as people write it: '15 min', '99.9 %', '800 ms'.

    The space before the unit is a no-break space (U+00A0) so a narrow table cell or a PDF
    line never leaves the unit alone on the next line."""
    if value is None:
        return "—"
    suffix = UNIT_SUFFIX.get(unit, "")
    return f"{format_number(value)}{NBSP}{suffix}" if suffix else format_number(value)


def format_duration(minutes: int | None) -> str:
    """Minutes the way people say them: 45 -> '45 min', 240 -> '4 h', 90 -> '1 h 30 min',
    2880 -> '2 days' (no-break spaces, like ``format_value``)."""
    if minutes is None:
        return "—"
    if minutes >= 1440 and minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days}{NBSP}day{'s' if days != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}{NBSP}min"
    return f"{hours}{NBSP}h" + (f" {rest}{NBSP}min" if rest else "")


def format_money(amount: Decimal, currency: str) -> str:
    """'12,000.00 EUR': the amount as the invoice shows it, with its currency code."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,}{NBSP}{currency}"


def format_percent(value: Decimal | int | float | None) -> str:
    return format_value(value, "percent")


def compliance_text(goal: Decimal | None, breach_below: Decimal | None, noun: str) -> str:
    """'95 % of tickets; breach below 90 %'; empty when the target has no compliance goal."""
    if goal is None:
        return ""
    text = f"{format_percent(goal)} of {noun}"
    if breach_below is not None:
        text += f"; breach below {format_percent(breach_below)}"
    return text


def _clock(moment: time, is_end: bool) -> str:
    # An interval ending at 00:00 runs to midnight at the end of that day.
    if is_end and moment == time(0):
        return "24:00"
    return f"{moment:%H:%M}"


def _interval(start: time, end: time) -> str:
    overnight = " (overnight)" if end != time(0) and end < start else ""
    return f"{_clock(start, False)}{DASH}{_clock(end, True)}{overnight}"


def weekly_hours_text(intervals: Iterable[tuple[int, time, time]]) -> str:
    """Weekly hours in words, consecutive days with the same hours run together, with en
    dashes: 'Mon-Fri 07:00-12:00, 13:00-20:00; Sat 09:00-13:00'."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in intervals:
        by_day.setdefault(weekday, []).append((start, end))
    if not by_day:
        return "No weekly hours"
    day_text = {
        day: ", ".join(_interval(start, end) for start, end in sorted(spans))
        for day, spans in by_day.items()
    }
    runs: list[tuple[int, int, str]] = []  # first day, last day, hours
    for day in sorted(day_text):
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == day_text[day]:
            runs[-1] = (runs[-1][0], day, day_text[day])
        else:
            runs.append((day, day, day_text[day]))
    parts = []
    for first, last, hours in runs:
        days = WEEKDAY_ABBR[first]
        if last != first:
            days += f"{DASH}{WEEKDAY_ABBR[last]}"
        parts.append(f"{days} {hours}")
    return "; ".join(parts)


def holidays_text(country: str, subdivision: str) -> str:
    """Whose public holidays the clock stops on: 'DE (BE)', or 'none'."""
    if not country:
        return "none"
    return f"{country.upper()} ({subdivision.upper()})" if subdivision else country.upper()


def describe(value: Any) -> str:
    """Any stored value as short text, for the list of differences from the tier."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | float):
        return format_number(value)
    return str(value)


@dataclass(frozen=True)
class CreditBandRow:
    """One step of the service-credit schedule, in words."""

    metric: str
    achieved_below: str  # '99.9 %'
    applies_to: str  # '99.5 % to under 99.9 %'
    credit: str  # '5 %'
    amount: str  # '600.00 EUR' of the period fee


def credit_band_rows(
    bands: Iterable[tuple[str, Decimal, Decimal]], fee: Decimal, currency: str
) -> list[CreditBandRow]:
    """The credit schedule as rows, best band first, each with the range of achieved values
    it applies to and what its credit is worth at the agreed fee.

    ``bands`` are (metric label, achieved below, credit percent). Achieved values are
    percentages: availability, or the share of tickets that met their target."""
    by_metric: dict[str, list[tuple[Decimal, Decimal]]] = {}
    for metric, below, credit in bands:
        by_metric.setdefault(metric, []).append((below, credit))
    rows = []
    for metric, steps in by_metric.items():
        steps.sort(key=lambda step: step[0], reverse=True)
        for index, (below, credit) in enumerate(steps):
            upper = format_percent(below)
            if index + 1 < len(steps):
                applies_to = f"{format_percent(steps[index + 1][0])} to under {upper}"
            else:
                applies_to = f"under {upper}"
            rows.append(
                CreditBandRow(
                    metric=metric,
                    achieved_below=upper,
                    applies_to=applies_to,
                    credit=format_percent(credit),
                    amount=format_money(fee * credit / 100, currency),
                )
            )
    return rows
