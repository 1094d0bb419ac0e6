"""A period's error budget in words and as a bar, for the dashboards and the agreement page.

The evaluation stored the figures with the period (``PeriodResult.details["budget"]``, from
``monitoring.compliance.budgets``); this module only says them the way people read them:
"12 min of 43 min used · 31 min left before the target, 1 h 10 min before the threshold",
with the moment it ran out. No query: it reads the row the panel already holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from monitoring.compliance.budgets import DOWNTIME, ERRORS, EXCESS, TICKETS, Budget
from monitoring.format import TIME_UNITS, duration
from monitoring.models import PeriodResult

# How the consumed part reads for each kind: "{used} of {allowed} ..." in the budget's unit.
USED = {
    DOWNTIME: "{used} of {allowed} downtime used",
    TICKETS: "{used} missed of {allowed} tickets allowed to miss",
    ERRORS: "{used} of {allowed} errors allowed",
    EXCESS: "{used} of {allowed} allowed excess over the target used",
}
# Units a performance figure is said in; another unit (a custom "other") goes unsaid.
SAID_UNITS = {"percent": "points", "count": "", "score": ""}
# Milliseconds read as seconds or minutes from this many on.
MS_AS_DURATION = 10_000


@dataclass(frozen=True)
class BudgetView:
    """One period's budget as text and as a bar (``bar_*``: percent of the threshold's
    allowance, the widest the bar draws)."""

    kind: str
    used: str  # "12 min of 43 min downtime used", "3 of 2 errors allowed"
    left: str  # "31 min left before the target" or "overspent by 5 min"
    threshold_left: str  # "1 h 10 min before the threshold" or "threshold overspent by ..."
    ran_out_at: datetime | None
    threshold_ran_out_at: datetime | None
    rag: str  # green: within, amber: past the target, red: past the threshold
    bar_used: float | None
    bar_target: float | None
    note: str = ""  # how the allowance was found
    # A moment it ran out is kept while its cause stands, even once more is allowed (more
    # tickets expected): then it is back within budget, and the page says so.
    back_within: bool = False
    short: str = ""  # "budget 45% left", for the provider's chips

    @property
    def summary(self) -> str:
        """The figures in one line, without the moments (the template dates them)."""
        return f"{self.used} · {self.left}, {self.threshold_left}"


def budget_view(row: PeriodResult) -> BudgetView | None:
    """The budget of ``row`` as the pages show it, ``None`` where its target has none."""
    data = (row.details or {}).get("budget")
    budget = Budget.from_dict(data) if isinstance(data, dict) else None
    if budget is None:
        return None
    if budget.kind == TICKETS:
        return _ticket_view(budget)
    say = _sayer(budget)
    pattern = USED.get(budget.kind, USED[EXCESS])
    # Compared with the verdict's slack: usage exactly at the allowance is within it.
    within, within_threshold = budget.within, budget.within_threshold
    left = max(budget.remaining, 0.0) if within else budget.remaining
    left_threshold = max(budget.remaining_threshold, 0.0) if within_threshold else None
    rag = "red" if not within_threshold else "amber" if not within else "green"
    scale = budget.allowed_threshold
    bar_used = bar_target = None
    if scale > 0:
        bar_used = min(max(budget.consumed / scale * 100, 0.0), 100.0)
        bar_target = min(max(budget.allowed / scale * 100, 0.0), 100.0)
    return BudgetView(
        kind=budget.kind,
        used=pattern.format(used=say(budget.consumed), allowed=say(budget.allowed)),
        left=(
            f"{say(left)} left before the target{_fit(budget)}"
            if within
            else f"overspent by {say(-left)}"
        ),
        threshold_left=(
            f"{say(left_threshold)} before the threshold"
            if left_threshold is not None
            else f"{say(-budget.remaining_threshold)} past the threshold"
        ),
        ran_out_at=budget.ran_out_at,
        threshold_ran_out_at=budget.threshold_ran_out_at,
        rag=rag,
        bar_used=bar_used,
        bar_target=bar_target,
        note=_note(budget),
        back_within=budget.ran_out_at is not None and within,
        short=_short(budget, within, within_threshold),
    )


def _ticket_view(budget: Budget) -> BudgetView:
    """A ticket budget in whole tickets: a ticket misses or it does not, so an allowance of
    0.7 (5 % of 14 expected) means no ticket may miss. The exact allowance stays in the note
    and in the API."""
    missed = round(budget.consumed)
    allowed = _whole(budget.allowed)
    allowed_threshold = _whole(budget.allowed_threshold)
    within = missed <= allowed
    within_threshold = missed <= allowed_threshold
    scale = budget.allowed_threshold
    bar_used = bar_target = None
    if scale > 0:
        bar_used = min(max(budget.consumed / scale * 100, 0.0), 100.0)
        bar_target = min(max(budget.allowed / scale * 100, 0.0), 100.0)
    return BudgetView(
        kind=budget.kind,
        used=f"{missed:,} missed of {_tickets(allowed)} allowed to miss",
        left=(
            f"{allowed - missed:,} more may miss before the target"
            if within
            else f"{missed - allowed:,} missed too many"
        ),
        threshold_left=(
            f"{allowed_threshold - missed:,} before the threshold"
            if within_threshold
            else f"{missed - allowed_threshold:,} past the threshold"
        ),
        ran_out_at=budget.ran_out_at,
        threshold_ran_out_at=budget.threshold_ran_out_at,
        rag="red" if not within_threshold else "amber" if not within else "green",
        bar_used=bar_used,
        bar_target=bar_target,
        note=_note(budget),
        back_within=budget.ran_out_at is not None and within,
        short=_short(budget, within, within_threshold),
    )


def _whole(allowance: float) -> int:
    """The whole tickets an allowance lets miss (the verdict's slack: 2.9999999 is 3)."""
    return max(math.floor(allowance + 1e-6), 0)


def _tickets(count: int) -> str:
    return f"{count:,} ticket{'' if count == 1 else 's'}"


def _fit(budget: Budget) -> str:
    """ " (3 more samples at the threshold)" for a performance budget."""
    fit = budget.samples_left
    if fit is None:
        return ""
    return f" ({fit:,} more sample{'' if fit == 1 else 's'} at the threshold)"


def _short(budget: Budget, within: bool, within_threshold: bool) -> str:
    """The chip's one line: "budget 45% left", "budget overspent", "threshold overspent"."""
    if not within_threshold:
        return "budget past the threshold"
    if not within:
        return "budget overspent"
    used = budget.used_percent
    if used is None:
        return "budget: none allowed, none used"
    return f"budget {max(100 - used, 0):.0f}% left"


def amount(value: float) -> str:
    """A figure with thousands separators and at most one decimal, never in scientific
    notation: 1,234,567 and 2.1, not 1.23457e+06."""
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def _sayer(budget: Budget):
    if budget.kind == DOWNTIME:
        return duration
    if budget.kind == ERRORS:
        return lambda value: f"{value:,.0f}"
    if budget.kind == TICKETS:
        return amount
    unit = budget.unit
    if unit in TIME_UNITS:
        return lambda value: duration(value * TIME_UNITS[unit])
    if unit == "ms":
        return lambda value: (
            duration(value / 1000) if abs(value) >= MS_AS_DURATION else f"{amount(value)} ms"
        )
    said = SAID_UNITS.get(unit, unit if unit.isalpha() and unit != "other" else "")
    return lambda value: f"{amount(value)} {said}".rstrip()


def _note(budget: Budget) -> str:
    basis = budget.basis
    if budget.kind == TICKETS and "expected" in basis:
        expected = amount(basis["expected"])
        plural = "" if expected == "1" else "s"
        return f"{amount(budget.allowed)} of {expected} ticket{plural} expected this period"
    if budget.kind == EXCESS and "samples" in basis:
        return f"{basis['slow_samples']:,} of {basis['samples']:,} samples worse than the target"
    if budget.kind == DOWNTIME and "counted_seconds" in basis:
        return f"of {duration(basis['counted_seconds'])} counted service time"
    return ""
