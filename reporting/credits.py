"""Service credits from an agreement's credit schedule: pure arithmetic, no Django.

The schedule is the one the signed version recorded (``snapshot["sections"]["charges"]``):

* **bands** per metric: an achieved value *below* ``achieved_below`` earns ``credit_percent``
  of the month's fee. Several bands can match a value (below 99.9 and below 99.5); the one
  with the highest credit applies, so a worse value never earns less.
* the credits of all metrics add up, then the total is **capped** at ``credit_cap_percent``
  (a cap of 0 means the agreement grants no credits; it is applied as written).
* the **amount** is the percent of one month's fee: the fee per ``fee_period`` divided by the
  months in that period (a quarter's fee / 3, a year's fee / 12), rounded to cents.
* a metric whose period has **no data** earns no credit: the report says so rather than
  guessing a value. Several results of one metric in a month (one availability target per
  service) are credited on the worst of them.
* the **exclusions** are contract text (customer-caused downtime, force majeure …); they are
  shown with the credits, and applying them is the provider's judgement, recorded in a
  correction if a credit is withdrawn.

Values arrive as floats from the evaluation; ``achieved`` rounds them to six decimal places
first, so 99.89999999999999 (floating-point noise for exactly 99.9 %) is not "below 99.9".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

MONTHS_PER_FEE_PERIOD = {"month": 1, "quarter": 3, "year": 12}
CENT = Decimal("0.01")
VALUE_PLACES = Decimal("0.000001")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Band:
    metric: str
    achieved_below: Decimal
    credit_percent: Decimal


@dataclass(frozen=True)
class Schedule:
    """The credit terms of one signed version."""

    bands: tuple[Band, ...]
    cap_percent: Decimal
    fee_amount: Decimal
    fee_period: str
    currency: str
    exclusions: str = ""

    @property
    def monthly_fee(self) -> Decimal:
        months = MONTHS_PER_FEE_PERIOD.get(self.fee_period, 1)
        return (self.fee_amount / months).quantize(CENT, rounding=ROUND_HALF_UP)

    def metrics(self) -> list[str]:
        """Metrics with bands, in a stable order."""
        return sorted({band.metric for band in self.bands})

    def bands_of(self, metric: str) -> list[Band]:
        """The bands of one metric, from the mildest (highest ``achieved_below``) down."""
        return sorted(
            (b for b in self.bands if b.metric == metric),
            key=lambda b: (-b.achieved_below, b.credit_percent),
        )


@dataclass(frozen=True)
class MetricCredit:
    metric: str
    achieved: Decimal | None
    band: Band | None
    percent: Decimal
    note: str


@dataclass(frozen=True)
class CreditResult:
    lines: tuple[MetricCredit, ...]
    uncapped_percent: Decimal
    percent: Decimal
    capped: bool
    monthly_fee: Decimal
    amount: Decimal
    currency: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def achieved(value: float | Decimal | None) -> Decimal | None:
    """A measured value as the Decimal the bands compare against (six decimal places)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


def band_for(bands: Iterable[Band], value: Decimal) -> Band | None:
    """The band that applies to ``value``: of those with ``value < achieved_below``, the one
    with the highest credit (None when the value is below no band)."""
    matching = [b for b in bands if value < b.achieved_below]
    if not matching:
        return None
    return max(matching, key=lambda b: (b.credit_percent, -b.achieved_below))


def compute_credits(
    schedule: Schedule, values: dict[str, Sequence[float | Decimal | None]]
) -> CreditResult:
    """The credits due for one month.

    ``values`` maps a metric to the achieved values of its period results in the month
    (None for a period without data). A metric with bands but no result in the month earns
    nothing and is listed with a note."""
    lines = []
    notes = []
    for metric in schedule.metrics():
        found = [achieved(v) for v in values.get(metric, ())]
        measured = [v for v in found if v is not None]
        if not found:
            lines.append(MetricCredit(metric, None, None, Decimal(0), "No result this month."))
            continue
        if not measured:
            lines.append(
                MetricCredit(metric, None, None, Decimal(0), "No data for this period: no credit.")
            )
            notes.append(f"{metric}: no data for this period, so no credit is computed.")
            continue
        worst = min(measured)
        band = band_for(schedule.bands_of(metric), worst)
        if band is None:
            note = "Above every band: no credit."
            percent = Decimal(0)
        else:
            note = f"Below {band.achieved_below}: {band.credit_percent} % credit."
            percent = band.credit_percent
        if len(measured) < len(found):
            note += " Some results of this metric had no data; the others are credited."
        lines.append(MetricCredit(metric, worst, band, percent, note))
    uncapped = sum((line.percent for line in lines), Decimal(0))
    cap = max(schedule.cap_percent, Decimal(0))
    percent = min(uncapped, cap)
    capped = uncapped > cap
    if capped:
        notes.append(f"The credits add up to {uncapped} %, capped at {cap} %.")
    monthly_fee = schedule.monthly_fee
    amount = (monthly_fee * percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    return CreditResult(
        lines=tuple(lines),
        uncapped_percent=uncapped,
        percent=percent,
        capped=capped,
        monthly_fee=monthly_fee,
        amount=amount,
        currency=schedule.currency,
        notes=tuple(notes),
    )


def schedule_from_snapshot(snapshot: dict) -> Schedule:
    """The credit schedule recorded in a version snapshot (``agreements.snapshot``)."""
    charges = snapshot.get("sections", {}).get("charges", {})
    fields = charges.get("fields", {})
    rows = charges.get("related", {}).get("credit_bands", [])
    return Schedule(
        bands=tuple(
            Band(row["metric"], Decimal(row["achieved_below"]), Decimal(row["credit_percent"]))
            for row in rows
        ),
        cap_percent=Decimal(fields.get("credit_cap_percent") or "0"),
        fee_amount=Decimal(fields.get("fee_amount") or "0"),
        fee_period=fields.get("fee_period") or "month",
        currency=fields.get("currency") or "EUR",
        exclusions=fields.get("credit_exclusions") or "",
    )
