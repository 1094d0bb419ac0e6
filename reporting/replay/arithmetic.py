"""What a replay of proposed targets on history adds up to: tallies, credits, sentences.

Pure: plain values in, plain values out, no Django. The verdicts come from the evaluation
(``monitoring.evaluation.replay``); this module only counts them, prices them with the
credit schedule the terms carry (``reporting.credits``, the same arithmetic the monthly
report uses) and says the result in a sentence a negotiator can quote::

    Availability: 99.95 % would have been missed in 3 of the last 12 months and cost
    7,200.00 EUR in credits; 99.9 % in none.

Credits are computed per calendar month from the results of the periods that end in that
month, as the monthly report does (``reporting.services.schedule.month_results``). A
target's own share of them is its metric's band percent of each month's fee, before the
cap; the month's total respects the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from reporting.credits import CENT, HUNDRED, CreditResult, Schedule, compute_credits
from reporting.formatting import money, percent

MISSED_STATES = frozenset({"missed_target", "breached"})
PERIOD_WORDS = {"month": "months", "quarter": "quarters", "year": "years"}
UNIT_WORDS = {"count": "errors"}


@dataclass(frozen=True)
class PeriodLine:
    """One replayed period: its bounds, the local month it ends in, value and status."""

    start: datetime
    end: datetime
    month: str  # "YYYY-MM" in the target's zone: the month whose report would show it
    value: float | None
    status: str
    # False while the evaluation would still hold the period open (a CSAT period's grace).
    closed: bool = True


@dataclass(frozen=True)
class TargetLine:
    """One target's replayed periods, oldest first, with the goal they were judged by."""

    key: str
    label: str
    metric: str
    period: str
    goal_target: float
    goal_threshold: float
    value_unit: str
    periods: tuple[PeriodLine, ...]
    # A ticket target's time limit ("15 minutes"): its goal is the share of tickets within it.
    within: str = ""

    def tally(self) -> dict[str, int]:
        """Periods per outcome; ``missed`` counts every period worse than the target, the
        breaches (worse than the threshold too) among them."""
        counts = {"periods": len(self.periods), "met": 0, "missed": 0, "breached": 0}
        counts["no_data"] = 0
        for line in self.periods:
            if line.status in MISSED_STATES:
                counts["missed"] += 1
                counts["breached"] += line.status == "breached"
            elif line.status == "no_data":
                counts["no_data"] += 1
            else:
                counts["met"] += 1
        return counts

    @property
    def goal_text(self) -> str:
        """The target as a negotiator says it: ``99.95 %``, ``800 ms``, ``2 count``."""
        if self.value_unit == "percent":
            text = percent(plain(self.goal_target))
            return f"{text} within {self.within}" if self.within else text
        unit = UNIT_WORDS.get(self.value_unit, self.value_unit)
        return f"{plain(self.goal_target)} {unit}"

    @property
    def has_data(self) -> bool:
        return any(line.status != "no_data" for line in self.periods)


def plain(value: float) -> str:
    """``120.0`` as ``120``, ``99.95`` as ``99.95`` (never ``1.2E+2``)."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def month_credits(schedule: Schedule, targets: Iterable[TargetLine]) -> dict[str, CreditResult]:
    """Per month ("YYYY-MM", in order) the credits the schedule would have paid for the
    results of the periods ending in it."""
    values: dict[str, dict[str, list[float | None]]] = {}
    for target in targets:
        for line in target.periods:
            values.setdefault(line.month, {}).setdefault(target.metric, []).append(line.value)
    return {month: compute_credits(schedule, values[month]) for month in sorted(values)}


def total_amount(credits: dict[str, CreditResult]) -> Decimal:
    return sum((result.amount for result in credits.values()), Decimal("0.00"))


def metric_amount(credits: dict[str, CreditResult], metric: str) -> Decimal:
    """What one metric's bands would have paid over the months, before the monthly cap."""
    found = Decimal("0.00")
    for result in credits.values():
        for line in result.lines:
            if line.metric == metric and line.percent:
                share = result.monthly_fee * line.percent / HUNDRED
                found += share.quantize(CENT, rounding=ROUND_HALF_UP)
    return found


def _outcome(tally: dict[str, int]) -> str:
    missed = tally["missed"]
    if not missed:
        return "in none"
    text = f"in {missed}"
    if tally["breached"]:
        text += f" ({tally['breached']} beyond the threshold)"
    return text


def _span(tally: dict[str, int], period: str, months: int | None) -> str:
    """ "the last 12 months", or for a longer period "the 4 quarters of the last 12 months":
    every target is replayed over the same span of months, whatever its period's length."""
    words = PERIOD_WORDS.get(period, "periods")
    if period == "month" or months is None:
        return f"the last {tally['periods']} {words}"
    return f"the {tally['periods']} {words} of the last {months} months"


def target_sentence(
    proposed: TargetLine,
    proposed_cost: Decimal,
    current: TargetLine | None,
    current_cost: Decimal | None,
    currency: str,
    months: int | None = None,
    current_currency: str | None = None,
) -> str:
    """One target's evidence in a sentence, the current terms beside the proposed ones;
    each side's credits in its own schedule's currency."""
    tally = proposed.tally()
    text = (
        f"{proposed.label}: {proposed.goal_text} would have been missed "
        f"{_outcome(tally)} of {_span(tally, proposed.period, months)}"
    )
    if tally["missed"] and proposed_cost:
        text += f" and cost {money(proposed_cost, currency)} in credits"
    if tally["no_data"]:
        text += f" ({tally['no_data']} without data)"
    if current is None:
        return text + "; the agreement in force has no such target."
    current_tally = current.tally()
    text += f"; {current.goal_text} {_outcome(current_tally)}"
    if current_tally["missed"] and current_cost:
        text += f", cost {money(current_cost, current_currency or currency)}"
    return text + "."


def credit_sentence(
    proposed: Decimal,
    current: Decimal | None,
    currency: str,
    months: int,
    current_currency: str | None = None,
) -> str:
    """The whole credit schedule's bill over the replayed months, both sides (each in its
    own schedule's currency)."""
    text = (
        f"The proposed credit schedule would have paid {money(proposed, currency)} "
        f"over the {months} months replayed"
    )
    if current is None:
        return text + "."
    return text + f"; the terms in force {money(current, current_currency or currency)}."


def sentences(
    proposed: Sequence[TargetLine],
    proposed_credits: dict[str, CreditResult],
    current: Sequence[TargetLine] | None,
    current_credits: dict[str, CreditResult] | None,
    currency: str,
    months: int | None = None,
    current_currency: str | None = None,
) -> list[str]:
    """The summary of a replay: one sentence per proposed target, then the credits.
    ``months``: the span replayed (every target's periods end inside it); by default the
    months that had a credit computation."""
    by_key = {line.key: line for line in current or ()}
    found = []
    blind = [line.label for line in proposed if not line.has_data]
    for line in proposed:
        if not line.has_data:
            continue
        other = by_key.get(line.key)
        found.append(
            target_sentence(
                line,
                metric_amount(proposed_credits, line.metric),
                other,
                metric_amount(current_credits, other.metric)
                if other is not None and current_credits is not None
                else None,
                currency,
                months,
                current_currency,
            )
        )
    if blind:
        found.append(
            f"No history to judge {len(blind)} target{'s' if len(blind) > 1 else ''} on "
            f"(no data in any period replayed): {', '.join(blind)}."
        )
    found.append(
        credit_sentence(
            total_amount(proposed_credits),
            total_amount(current_credits) if current_credits is not None else None,
            currency,
            months if months is not None else len(proposed_credits),
            current_currency,
        )
    )
    return found
