"""Readable figures for alert texts and pages (no Django)."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """Business time as people say it: "45 min", "3 h 20 min", "2 d 4 h"."""
    negative = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 86400:
        hours, rest = divmod(round(seconds / 60), 60)
        text = f"{hours} h {rest} min" if rest else f"{hours} h"
    else:
        days, rest = divmod(round(seconds / 3600), 24)
        text = f"{days} d {rest} h" if rest else f"{days} d"
    return f"-{text}" if negative else text


def percent(value: float | None, places: int = 2) -> str:
    return "–" if value is None else f"{value:.{places}f} %"
