"""The gauge of one target: its scale, the target and threshold marks and the needle, worked
out here so the template only draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitoring.format import number
from monitoring.models import PeriodResult
from monitoring.presentation import goals


@dataclass(frozen=True)
class Gauge:
    """A horizontal bar with the value, the target and the threshold placed on it (positions
    in percent of the bar's width).

    The scale is honest: it starts at zero, so the bar's length is the value's share of the
    whole (a P2 share of 66.67 % fills two thirds of the bar). Only where target and
    threshold would be closer than ``MIN_VISIBLE_GAP`` of the bar (99.9 % and 99.5 % on
    0–100 % are one pixel apart) does the axis start higher, and then it says so: ``broken``
    draws a break symbol at the start of the bar and ``note`` ("axis starts at 98 %") is
    shown next to it."""

    value: float | None  # position 0–100, None: no value
    target: float
    threshold: float
    low: str  # the scale's ends, in words
    high: str
    clipped: bool  # the value lies outside the drawn scale (it is drawn at the edge)
    bottom: float = 0.0  # the scale's ends, as figures
    top: float = 100.0
    broken: bool = False  # the axis does not start at zero
    note: str = ""  # "axis starts at 98 %" when broken


# Target and threshold closer than this (in percent of the bar) cannot be told apart.
MIN_VISIBLE_GAP = 3.0


def higher_is_better(row: PeriodResult) -> bool:
    """Whether more is better for the period's value. Not ``row.direction``: that is the
    direction of the target itself, and for ticket time targets (lower is better) the period's
    value is the share of tickets within it (higher is better). A threshold is never better
    than its target, so the two goals say it, and the direction only breaks a tie."""
    if row.goal_target != row.goal_threshold:
        return row.goal_target > row.goal_threshold
    return row.direction == "higher"


def _round_down(x: float, span: float) -> float:
    """``x`` rounded down to a round step for an axis covering about ``span``: 98.7 → 98."""
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1.0
    return math.floor(round(x / step, 9)) * step


def _round_up(x: float, span: float) -> float:
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1.0
    return math.ceil(round(x / step, 9)) * step


def gauge_scale(
    value: float | None, target: float, threshold: float, unit: str, higher: bool
) -> tuple[float, float, bool]:
    """The ends of a gauge's axis and whether it is broken (starts above zero).

    Shares (percent) run 0–100 %, other figures from zero to a little past the largest; the
    axis starts higher only where target and threshold would otherwise be closer than
    ``MIN_VISIBLE_GAP`` of the bar, at a round number below the threshold and the value."""
    figures = [f for f in (value, target, threshold) if f is not None]
    gap = abs(target - threshold)
    if unit == "percent":
        top = 100.0
        if not higher:
            # Lower is better (an error rate): the axis still starts at zero and ends at a
            # round number above the threshold and the value.
            reach = max(max(figures) + (gap or 1.0) / 2, threshold + (gap or 1.0))
            top = min(100.0, _round_up(reach, reach))
    else:
        spare = gap or max(abs(target) * 0.1, 1.0)
        top = (
            max(figures) + spare / 2 if higher else max(threshold + spare, max(figures) + spare / 2)
        )
    bottom = min(0.0, *figures)
    broken = False
    if gap and gap / (top - bottom) * 100 < MIN_VISIBLE_GAP and higher and bottom == 0.0:
        lowest = min(threshold - 2 * gap, *(f - gap / 2 for f in figures))
        start = _round_down(lowest, top - lowest)
        if start > 0:
            bottom, broken = start, True
    return bottom, top, broken


def gauge_for(row: PeriodResult) -> Gauge:
    """Where the value, target and threshold of a period sit on its gauge."""
    target, threshold, value = row.goal_target, row.goal_threshold, row.value
    bottom, top, broken = gauge_scale(
        value, target, threshold, row.value_unit, higher_is_better(row)
    )
    span = (top - bottom) or 1.0

    def at(x: float) -> float:
        return round(min(max((x - bottom) / span * 100, 0.0), 100.0), 2)

    def end(x: float) -> str:
        # Round ends read as written ("0 %", "98 %"), not "0.00 %".
        if row.value_unit == "percent" and float(x).is_integer():
            return f"{x:g} %"
        return number(x, row.value_unit, goals(row))

    clipped = value is not None and not (bottom <= value <= top)
    return Gauge(
        value=None if value is None else at(value),
        target=at(target),
        threshold=at(threshold),
        low=end(bottom),
        high=end(top),
        clipped=clipped,
        bottom=bottom,
        top=top,
        broken=broken,
        note=f"axis starts at {end(bottom)}" if broken else "",
    )
