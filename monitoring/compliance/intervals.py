"""Sets of time intervals: merge, intersect, subtract, measure and cap them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitoring.compliance.states import Interval


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals (empty ones dropped)."""
    merged: list[list[datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """The time in both sorted, disjoint interval lists."""
    found, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            found.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return found


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """The time in ``a`` and not in ``b`` (both sorted and disjoint)."""
    found = []
    for start, end in a:
        cursor = start
        for cut_start, cut_end in b:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                found.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
        if cursor < end:
            found.append((cursor, end))
    return found


def total_seconds(intervals: Iterable[Interval]) -> float:
    """The length of the intervals, in seconds."""
    return sum((end - start).total_seconds() for start, end in intervals)


def cap(intervals: list[Interval], seconds: float) -> list[Interval]:
    """The first ``seconds`` of the intervals, in time order."""
    kept, left = [], seconds
    for start, end in intervals:
        if left <= 0:
            break
        length = (end - start).total_seconds()
        if length <= left:
            kept.append((start, end))
            left -= length
        else:
            kept.append((start, start + timedelta(seconds=left)))
            left = 0
    return kept
