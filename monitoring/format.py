"""Readable figures for alert texts and pages (no Django)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

# The words of the states, defined once. Pages, emails, reports, the PDF and the API's display
# fields all take them from here (``state_word``, and the badges of ``monitoring.presentation``
# built on it), so one event reads the same everywhere: the alert raised when a ticket or
# period passes its warning point says "At risk", as its timer or period does on the
# dashboard, not "Warning" on one page and "At risk" on another. Keys are the stored values of
# ``Status`` (timers, periods) and ``Level`` (alerts, breaches).
STATE_WORDS = {
    "running": "Running",
    "paused": "Paused",
    "met": "Met",
    "at_risk": "At risk",
    "missed_target": "Target missed",
    "breached": "Threshold breached",
    "no_data": "No data",
}
LEVEL_WORDS = {
    "warning": STATE_WORDS["at_risk"],
    "missed_target": STATE_WORDS["missed_target"],
    "breached": STATE_WORDS["breached"],
    "closed": "Recovered",
    "predicted_miss": "Predicted to miss",
    "predicted_breach": "Predicted to breach",
    # Burn-rate alerts (docs/burn-rates.md).
    "burn_page": "Budget burning fast",
    "burn_warn": "Budget burning",
    "burn_recovered": "Burn recovered",
}
# The same levels as a sentence about the target, for emails and screen-reader text.
LEVEL_MEANINGS = {
    "warning": "has passed its warning point and may miss its target",
    "missed_target": "has missed its target (still within the threshold)",
    "breached": "has breached the threshold of unacceptable service",
    "closed": "has recovered: the breach is over",
    "predicted_miss": "is forecast to miss its target by the end of the period",
    "predicted_breach": "is forecast to breach the threshold by the end of the period",
    "burn_page": "is spending its error budget fast enough to run out long before the period ends",
    "burn_warn": "is spending its error budget faster than the period can afford",
    "burn_recovered": "spends its error budget slowly enough again",
}


def state_word(state: str) -> str:
    """The word of a timer/period status or an alert/breach level, the same on every page."""
    state = str(state)
    if state in LEVEL_WORDS:
        return LEVEL_WORDS[state]
    return STATE_WORDS.get(state, state.replace("_", " ").capitalize())


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


# Percentages show at least two decimals, more when a goal is written with more (a 99.996 %
# target must not read "100.00 %"), and never more than four: beyond that the figures are
# noise of the measurement, not promises anyone made.
MIN_PERCENT_PLACES = 2
MAX_PERCENT_PLACES = 4


def decimals_of(value: float | Decimal | int | str | None) -> int:
    """How many decimals a figure is written with: 99.996 → 3, 99.9 → 1, 100 → 0.

    Floats are read through their shortest repr, so 99.9 (0x4058F99999999999A) counts as one
    decimal, not seventeen."""
    if value is None:
        return 0
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return 0
    if not exact.is_finite():
        return 0
    exponent = exact.normalize().as_tuple().exponent
    return max(-int(exponent), 0)


def percent_places(goals: Iterable[float | Decimal | None] = ()) -> int:
    """The decimals a percentage held against ``goals`` is shown with: as many as the most
    precise goal has, at least two, at most four."""
    wanted = max((decimals_of(goal) for goal in goals), default=0)
    return min(max(wanted, MIN_PERCENT_PLACES), MAX_PERCENT_PLACES)


def percent(
    value: float | Decimal | None,
    places: int | None = None,
    *,
    goals: Iterable[float | Decimal | None] = (),
) -> str:
    """A percentage as every page, email and report shows it: "99.996 %".

    ``places`` fixes the decimals; otherwise they follow ``goals`` (the target and threshold
    the value is held against, see ``percent_places``), so the value, its target and its
    threshold read with the same precision and a 99.996 % target is not rounded to 100.00 %.
    """
    if value is None:
        return "–"
    if places is None:
        places = percent_places(goals)
    return f"{float(value):.{places}f} %"


TIME_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}


def number(value: float | None, unit: str, goals: Iterable[float | Decimal | None] = ()) -> str:
    """A figure in its unit as people read it: '99.95 %', '12 min', '8 h', '3', '250 ms'.

    Percentages take their decimals from ``goals`` (see ``percent``)."""
    if value is None:
        return "no data"
    if unit == "percent":
        return percent(value, goals=goals)
    if unit in TIME_UNITS:
        return duration(float(value) * TIME_UNITS[unit])
    if unit == "count":
        return f"{value:g}"
    if unit == "score":  # CSAT 1-5 and NPS -100..100 are bare numbers: "4.33", "+30"
        return f"{float(value):.3g}"
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
