"""Daily uptime of one service over the last days: plain arithmetic over outage intervals.

No Django here (house style, point 2). A day's uptime is the share of its *measured* time
that no outage covered. Measured time starts with the service's first check or outage (before
it nobody was looking: "no data", not 100 %) and ends now (today's bar is the day so far).
Outages of several sources may overlap; they are merged first, so a minute down counts once.
The status page shows wall-clock days in UTC: it speaks to everyone, whatever their service
hours, so business hours (which the agreement's availability figure uses) play no part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

Interval = tuple[datetime, datetime]

# Levels of a day by its uptime (percent), worst first; a day at or above ``minimum`` has
# that level. The page prints the figure beside every bar, so colour is never the only sign.
LEVELS = (("outage", 0.0), ("degraded", 99.0), ("operational", 99.9))


@dataclass(frozen=True)
class DayBar:
    day: date
    uptime: float | None  # percent; None when nothing was measured that day
    measured_seconds: float
    down_seconds: float

    @property
    def level(self) -> str:
        if self.uptime is None:
            return "nodata"
        found = "outage"
        for level, minimum in LEVELS:
            if self.uptime >= minimum:
                found = level
        return found


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals joined, sorted by start."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap(intervals: list[Interval], start: datetime, end: datetime) -> float:
    seconds = 0.0
    for left, right in intervals:
        if right <= start:
            continue
        if left >= end:
            break
        seconds += (min(right, end) - max(left, start)).total_seconds()
    return seconds


def daily_uptime(
    outages: Iterable[tuple[datetime, datetime | None]],
    measured_from: datetime | None,
    now: datetime,
    days: int = 90,
    unmeasured: Iterable[Interval] = (),
) -> list[DayBar]:
    """One bar per UTC day, oldest first, ending with today (``now``'s day).

    ``outages`` are (start, end or None while open); ``measured_from`` is the first evidence
    about the service (None: never measured, so every day is "no data"). ``unmeasured`` is
    time nobody measured (the silence of stale sources, ``monitoring.silence``): like the
    SLA's availability, it is neither up nor down and leaves the day's measured time."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    down = merge((start, end or now) for start, end in outages)
    silent = merge(unmeasured)
    bars = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
        start = day_start if measured_from is None else max(day_start, measured_from)
        end = min(day_start + timedelta(days=1), now)
        if measured_from is None or end <= start:
            bars.append(DayBar(day, None, 0.0, 0.0))
            continue
        span = (end - start).total_seconds() - _overlap(silent, start, end)
        if span <= 0:
            bars.append(DayBar(day, None, 0.0, 0.0))
            continue
        lost = min(span, _overlap(down, start, end))
        bars.append(DayBar(day, max(0.0, (span - lost) / span * 100), span, lost))
    return bars


def overall_uptime(bars: list[DayBar]) -> float | None:
    """Uptime over all measured time of ``bars`` (days weighted by their measured time)."""
    measured = sum(bar.measured_seconds for bar in bars)
    if measured <= 0:
        return None
    lost = sum(bar.down_seconds for bar in bars)
    return (measured - lost) / measured * 100
