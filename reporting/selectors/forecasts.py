"""A target's period-end forecast as the dashboards show it, from what the evaluation stored
in the current period's ``details["forecast"]`` (``monitoring.evaluation.forecasts``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitoring.format import number
from monitoring.models import PeriodResult
from monitoring.presentation import goals

WORDS = {
    "met": ("On course to meet the target", "green", "bi-graph-up-arrow"),
    "predicted_miss": ("Predicted to miss the target", "amber", "bi-exclamation-triangle-fill"),
    "predicted_breach": ("Predicted to breach the threshold", "red", "bi-x-octagon-fill"),
}


@dataclass(frozen=True)
class ForecastView:
    """The forecast of the period's end: value, 80 % band, predicted state, and since when."""

    predicted: str  # met / predicted_miss / predicted_breach
    word: str
    rag: str
    icon: str
    value_text: str
    low_text: str
    high_text: str
    confidence: float  # 0..1: how likely the predicted state is
    crossed_at: datetime | None  # when the forecast first crossed into the predicted state
    made_at: datetime | None
    seasonal: bool

    @property
    def sentence(self) -> str:
        """ "Forecast for the period's end: 99.62 % (80 % band 99.41 % to 99.80 %)"."""
        return (
            f"Forecast for the period's end: {self.value_text} "
            f"(80 % band {self.low_text} to {self.high_text})"
        )

    @property
    def confidence_text(self) -> str:
        return f"{self.confidence * 100:.0f} % likely"


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def forecast_of(row: PeriodResult) -> ForecastView | None:
    """The forecast stored with an open period, or ``None`` (a closed period, a kind of
    target without forecast, nothing measured yet)."""
    made = (row.details or {}).get("forecast")
    if not made or row.closed_at is not None:
        return None
    held = goals(row)
    unit = made.get("unit") or row.value_unit
    word, rag, icon = WORDS.get(made["predicted"], WORDS["met"])
    return ForecastView(
        predicted=made["predicted"],
        word=word,
        rag=rag,
        icon=icon,
        value_text=_say(made["value"], unit, held),
        low_text=_say(made["low"], unit, held),
        high_text=_say(made["high"], unit, held),
        confidence=made["confidence"],
        crossed_at=_moment((made.get("crossed") or {}).get(made["predicted"])),
        made_at=_moment(made.get("made_at")),
        seasonal=bool(made.get("seasonal")),
    )


def _say(value: float, unit: str, held: tuple[float, float]) -> str:
    """A forecast figure: a forecast count is an expectation, said to one decimal ("5.3
    errors", not "5.32038"); other units as the period's own value reads."""
    if unit == "count":
        text = f"{value:,.1f}"
        return text[:-2] if text.endswith(".0") else text
    return number(value, unit, held)
