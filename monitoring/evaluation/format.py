"""Readable figures for alert texts and pages (no Django)."""

from __future__ import annotations


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
