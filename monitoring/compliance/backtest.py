"""Scoring of forecasts against what closed periods really came to (the backtest's tables).

One ``Trial`` is a forecast made at a checkpoint (25, 50 or 75 % of a closed period) beside
the naive forecast "the current value" made at the same moment, and the period's real end.
``score`` sums them per target kind and checkpoint: how often each was right about met /
missed / breached, how often the real value fell inside the forecast's 80 % band, and how
long before the period's end (and before the current value showed it) the first "predicted to
miss" warning of a period that did miss came (``Lead``, from a scan at a regular step).
Pure: no Django.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from monitoring.compliance.states import MET

CHECKPOINTS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Trial:
    """One closed period, seen at one checkpoint."""

    kind: str  # "availability", "ticket share", "error count", "measured value"
    checkpoint: float
    actual: str  # met / missed_target / breached
    actual_value: float
    predicted: str  # the forecast's status
    low: float
    high: float
    naive: str  # the status of the value so far


@dataclass(frozen=True)
class Row:
    """The figures of one target kind at one checkpoint."""

    kind: str
    checkpoint: float
    periods: int
    missed: int  # periods that really missed (or breached)
    right: int
    naive_right: int
    covered: int
    warned: int  # missed periods the forecast warned of ("predicted to miss" or worse)
    naive_warned: int
    false_alarms: int  # met periods the forecast predicted to miss
    naive_false_alarms: int
    # Right answers of always saying the most common real status of these periods: a
    # forecast no better than that has learnt nothing a tally would not tell.
    majority_right: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / self.periods if self.periods else 0.0

    @property
    def naive_accuracy(self) -> float:
        return self.naive_right / self.periods if self.periods else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.periods if self.periods else 0.0

    @property
    def better(self) -> bool:
        """Whether the forecast beat "the current value": more right, or as many right and
        more misses warned of net of false alarms (a warning of a met period costs what a
        warned miss gains)."""
        if self.right != self.naive_right:
            return self.right > self.naive_right
        return self.warned - self.false_alarms > self.naive_warned - self.naive_false_alarms

    @property
    def degenerate(self) -> bool:
        """Whether always saying the most common status is right at least as often."""
        return self.right <= self.majority_right


def score(trials: Iterable[Trial]) -> list[Row]:
    """The figures per target kind and checkpoint, in kind then checkpoint order."""
    groups: dict[tuple[str, float], list[Trial]] = defaultdict(list)
    for trial in trials:
        groups[(trial.kind, trial.checkpoint)].append(trial)
    rows = []
    for (kind, checkpoint), group in sorted(groups.items()):
        missed = [t for t in group if t.actual != MET]
        met = [t for t in group if t.actual == MET]
        warned = [t for t in missed if t.predicted != MET]
        counts = defaultdict(int)
        for t in group:
            counts[t.actual] += 1
        naive_warned = [t for t in missed if t.naive != MET]
        rows.append(
            Row(
                kind=kind,
                checkpoint=checkpoint,
                periods=len(group),
                missed=len(missed),
                right=sum(t.predicted == t.actual for t in group),
                naive_right=sum(t.naive == t.actual for t in group),
                covered=sum(t.low - 1e-9 <= t.actual_value <= t.high + 1e-9 for t in group),
                warned=len(warned),
                naive_warned=len(naive_warned),
                false_alarms=sum(t.predicted != MET for t in met),
                naive_false_alarms=sum(t.naive != MET for t in met),
                majority_right=max(counts.values()),
            )
        )
    return rows


def _days(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def markdown(rows: list[Row], title: str = "") -> str:
    """The rows as a Markdown table, then one sentence per kind where the forecast does no
    better than the current value at some checkpoint."""
    lines = [f"### {title}", ""] if title else []
    lines += [
        "| kind | at | periods | missed | right (forecast) | right (current value) "
        "| right (majority class) | band coverage | misses warned (forecast / current) "
        "| false alarms (forecast / current) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.checkpoint:.0%} | {r.periods} | {r.missed} "
            f"| {r.right} ({r.accuracy:.0%}) | {r.naive_right} ({r.naive_accuracy:.0%}) "
            f"| {r.majority_right} ({r.majority_right / r.periods:.0%}) "
            f"| {r.covered} ({r.coverage:.0%}) | {r.warned} / {r.naive_warned} "
            f"| {r.false_alarms} / {r.naive_false_alarms} |"
        )
    lines.append("")
    for r in rows:
        if not r.better:
            lines.append(
                f"- {r.kind} at {r.checkpoint:.0%}: the forecast does no better than the "
                f"current value ({r.right} right against {r.naive_right}, "
                f"{r.warned} misses warned of against {r.naive_warned}, "
                f"{r.false_alarms} false alarms against {r.naive_false_alarms})."
            )
        if r.degenerate:
            lines.append(
                f"- {r.kind} at {r.checkpoint:.0%}: degenerate: always saying the most common "
                f"status is right {r.majority_right} times, the forecast {r.right}; its "
                "accuracy tells nothing here."
            )
    return "\n".join(lines).rstrip() + "\n"


# --- Lead time: when the first warning came --------------------------------------------------


@dataclass(frozen=True)
class Lead:
    """One closed period scanned at a regular step from its start: when the forecast first
    predicted a miss (or worse) and when the current value first showed one, as seconds
    before the period's end (``None``: never), and whether the forecast's alert would have
    gone out (its rule: predicted before the miss happened, likely enough)."""

    kind: str
    actual: str
    forecast_first: float | None
    naive_first: float | None
    alerted: bool = False


@dataclass(frozen=True)
class LeadRow:
    """The lead-time figures of one target kind."""

    kind: str
    periods: int
    missed: int
    warned: int  # missed periods the forecast predicted to miss before their end
    naive_warned: int
    false_warnings: int  # met periods the forecast predicted to miss at some moment
    naive_false_warnings: int
    lead_days: float | None  # mean, over the missed periods the forecast warned of
    naive_lead_days: float | None  # mean, over the missed periods the current value showed
    ahead_days: float | None  # mean of forecast lead minus current-value lead, missed periods
    alerts_for_misses: int = 0  # missed periods whose forecast alert went out
    alerts_for_met: int = 0  # met periods whose forecast alert went out (for nothing)

    @property
    def better(self) -> bool:
        """Whether the forecast warned of misses earlier than the current value showed them
        (and of at least as many)."""
        return (
            self.ahead_days is not None and self.ahead_days > 0 and self.warned >= self.naive_warned
        )


def score_leads(leads: Iterable[Lead]) -> list[LeadRow]:
    """The lead-time figures per target kind."""
    groups: dict[str, list[Lead]] = defaultdict(list)
    for lead in leads:
        groups[lead.kind].append(lead)
    rows = []
    for kind, group in sorted(groups.items()):
        missed = [g for g in group if g.actual != MET]
        met = [g for g in group if g.actual == MET]
        warned = [g.forecast_first for g in missed if g.forecast_first is not None]
        shown = [g.naive_first for g in missed if g.naive_first is not None]
        ahead = [(g.forecast_first or 0.0) - (g.naive_first or 0.0) for g in missed]
        rows.append(
            LeadRow(
                kind=kind,
                periods=len(group),
                missed=len(missed),
                warned=len(warned),
                naive_warned=len(shown),
                false_warnings=sum(g.forecast_first is not None for g in met),
                naive_false_warnings=sum(g.naive_first is not None for g in met),
                lead_days=fmean(warned) / 86400 if warned else None,
                naive_lead_days=fmean(shown) / 86400 if shown else None,
                ahead_days=fmean(ahead) / 86400 if ahead else None,
                alerts_for_misses=sum(g.alerted for g in missed),
                alerts_for_met=sum(g.alerted for g in met),
            )
        )
    return rows


def lead_markdown(rows: list[LeadRow], step_hours: float) -> str:
    """The lead-time rows as a Markdown table, with a sentence per kind where the forecast
    warns no earlier than the current value shows a miss."""
    lines = [
        "",
        f"Lead time, each period scanned every {step_hours:g} h:",
        "",
        "| kind | periods | missed | misses warned (forecast / current) "
        "| met periods warned of (forecast / current) | lead days (forecast / current) "
        "| days ahead of the current value | forecast alerts (missed / met periods) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.periods} | {r.missed} | {r.warned} / {r.naive_warned} "
            f"| {r.false_warnings} / {r.naive_false_warnings} "
            f"| {_days(r.lead_days)} / {_days(r.naive_lead_days)} | {_days(r.ahead_days)} "
            f"| {r.alerts_for_misses} / {r.alerts_for_met} |"
        )
    lines.append("")
    for r in rows:
        if r.missed and not r.better:
            lines.append(
                f"- {r.kind}: the forecast warns of misses no earlier than the current value "
                f"shows them ({_days(r.ahead_days)} days ahead, {r.warned} against "
                f"{r.naive_warned} warned of)."
            )
    return "\n".join(lines).rstrip() + "\n"
