"""A period's error budget in words and as a bar, for the dashboards and the agreement page.

The evaluation stored the figures with the period (``PeriodResult.details["budget"]``, from
``monitoring.compliance.budgets``); this module only says them the way people read them:
"12 min of 43 min used · 31 min left before the target, 1 h 10 min before the threshold",
with the moment it ran out. No query: it reads the row the panel already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitoring.compliance.budgets import DOWNTIME, ERRORS, EXCESS, TICKETS, Budget
from monitoring.format import duration
from monitoring.models import PeriodResult

# How the consumed part reads for each kind: "{used} of {allowed} ..." in the budget's unit.
USED = {
    DOWNTIME: "{used} of {allowed} downtime used",
    TICKETS: "{used} missed of {allowed} tickets allowed to miss",
    ERRORS: "{used} of {allowed} errors allowed",
    EXCESS: "{used} of {allowed} headroom used",
}


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
    say = _sayer(budget)
    pattern = USED.get(budget.kind, USED[EXCESS])
    left, left_threshold = budget.remaining, budget.remaining_threshold
    rag = "red" if left_threshold < 0 else "amber" if left < 0 else "green"
    scale = budget.allowed_threshold
    bar_used = bar_target = None
    if scale > 0:
        bar_used = min(max(budget.consumed / scale * 100, 0.0), 100.0)
        bar_target = min(max(budget.allowed / scale * 100, 0.0), 100.0)
    return BudgetView(
        kind=budget.kind,
        used=pattern.format(used=say(budget.consumed), allowed=say(budget.allowed)),
        left=f"{say(left)} left before the target" if left >= 0 else f"overspent by {say(-left)}",
        threshold_left=(
            f"{say(left_threshold)} before the threshold"
            if left_threshold >= 0
            else f"{say(-left_threshold)} past the threshold"
        ),
        ran_out_at=budget.ran_out_at,
        threshold_ran_out_at=budget.threshold_ran_out_at,
        rag=rag,
        bar_used=bar_used,
        bar_target=bar_target,
        note=_note(budget),
    )


def _sayer(budget: Budget):
    if budget.kind == DOWNTIME:
        return duration
    if budget.kind == ERRORS:
        return lambda amount: f"{amount:,.0f}"
    if budget.kind == TICKETS:
        return lambda amount: f"{round(amount, 1):,g}"
    return lambda amount: f"{round(amount, 1):,g} {budget.unit}"


def _note(budget: Budget) -> str:
    basis = budget.basis
    if budget.kind == TICKETS and "expected" in basis:
        return f"of {round(basis['expected'], 1):g} tickets expected this period"
    if budget.kind == EXCESS and "samples" in basis:
        return f"{basis['slow_samples']} of {basis['samples']} samples worse than the target"
    if budget.kind == DOWNTIME and "counted_seconds" in basis:
        return f"of {duration(basis['counted_seconds'])} counted service time"
    return ""
