"""One target of one agreement as the dashboards show it: current value and state, gauge,
time remaining, silence and the trend over earlier periods, from the evaluation engine's
rollups (``PeriodResult``) only, scoped by ``visible_to(user)``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from agreements.models import Agreement
from monitoring.format import duration, number, percent, period_label
from monitoring.models import PeriodResult
from monitoring.presentation import goals
from reporting.selectors.budgets import BudgetView, budget_view
from reporting.selectors.forecasts import ForecastView, forecast_of
from reporting.selectors.gauges import Gauge, gauge_for, higher_is_better
from reporting.selectors.states import State, state_of
from sla_portal.core.models import User

TREND_PERIODS = 12


@dataclass
class TargetPanel:
    """One target's current period: value against goal, the state, what is left, the trend."""

    key: str
    label: str
    metric: str
    current: PeriodResult
    state: State
    period: str
    value_text: str
    target_text: str
    threshold_text: str
    sentence: str  # "99.84 % against target 99.90 %, threshold 99.50 %"
    gauge: Gauge
    remaining: str  # error budget left, or tickets still able to meet the goal
    trend: dict  # for json_script: labels, values, target, threshold, unit
    trend_rows: list[tuple[str, str]]  # the same, as text for the table under the chart
    # Set while the target's data has stopped arriving (monitoring.staleness): the time of
    # the last data, and how much of the period was measured (None: the target counts the
    # silence as down, so all of it is "measured").
    no_data_since: datetime | None = None
    measured_percent: float | None = None
    # The period's error budget (reporting.selectors.budgets); None where the target has none.
    budget: BudgetView | None = None
    # The period-end forecast (reporting.selectors.forecasts), while the period is open.
    forecast: ForecastView | None = None


def _remaining(row: PeriodResult) -> str:
    d = row.details or {}
    if "budget" in d and "budget_left_seconds" in d:
        return ""  # the error budget's own lines say it (reporting/_budget.html)
    if "budget_left_seconds" in d:
        left = d["budget_left_seconds"]
        allowed = duration(d["budget_seconds"])
        if left >= 0:
            return f"Error budget left: {duration(left)} of {allowed} downtime"
        return f"Error budget spent: {duration(-left)} over the {allowed} allowed"
    if "met" in d:
        decided = d["met"] + d["missed"]
        pending = d["pending"]
        total = decided + pending
        if not total:
            return "No tickets in this period yet"
        share = (d["met"] + pending) / total * 100
        at_risk = d.get("pending_at_risk", 0)
        risk = f", {at_risk} of them past the warning point" if at_risk else ""
        return (
            f"{d['met']} met, {d['missed']} missed, {pending} open{risk}: at best "
            f"{percent(share, 1)} of tickets can still meet the goal"
        )
    if "responses" in d:  # CSAT and NPS (docs/experience.md)
        n, needed = d["responses"], d.get("min_responses", 1)
        if n < needed:
            return f"{n} of the {needed} responses needed for a verdict"
        return f"From {n} response{'s' if n != 1 else ''}"
    if "count" in d:
        left = row.goal_target - d["count"]
        return f"{max(left, 0):g} more before the target is missed"
    if "reason" in d:
        return d["reason"]
    return ""


def silence_of(row: PeriodResult) -> tuple[datetime | None, float | None]:
    """When the row's data stopped arriving and how much of its period was measured, as the
    evaluation recorded them (``monitoring.evaluation.periods``)."""
    details = row.details or {}
    since = details.get("no_data_since")
    if not since:
        return None, None
    try:
        moment = datetime.fromisoformat(since)
    except (TypeError, ValueError):
        return None, None
    if details.get("silence_counts_as_down"):
        return moment, None
    if details.get("unmeasured"):
        return moment, 0.0
    return moment, details.get("measured_percent", 100.0)


def _panel(current: PeriodResult, history: list[PeriodResult]) -> TargetPanel:
    unit = current.value_unit
    held = goals(current)
    value_text = number(current.value, unit, held) if current.value is not None else "no value yet"
    target_text = number(current.goal_target, unit, held)
    threshold_text = number(current.goal_threshold, unit, held)
    sentence = f"{value_text} against target {target_text}, threshold {threshold_text}"
    trend_rows = sorted(history, key=lambda r: r.period_start)[-TREND_PERIODS:]
    no_data_since, measured_percent = silence_of(current)
    return TargetPanel(
        key=current.target_key,
        label=current.target_label,
        metric=current.metric,
        current=current,
        state=state_of(current.status),
        period=period_label(current),
        value_text=value_text,
        target_text=target_text,
        threshold_text=threshold_text,
        sentence=sentence,
        gauge=gauge_for(current),
        # An unmeasured period's reason repeats what "no data since" says already.
        remaining="" if measured_percent == 0.0 else _remaining(current),
        trend={
            "label": current.target_label,
            "labels": [period_label(r) for r in trend_rows],
            "values": [None if r.value is None else round(r.value, 3) for r in trend_rows],
            "target": current.goal_target,
            "threshold": current.goal_threshold,
            "unit": "%" if unit == "percent" else unit,
            "higher": higher_is_better(current),
        },
        trend_rows=[
            (period_label(r), number(r.value, unit, goals(r)) if r.value is not None else "–")
            for r in reversed(trend_rows)
        ],
        no_data_since=no_data_since,
        measured_percent=measured_percent,
        budget=budget_view(current),
        forecast=forecast_of(current),
    )


def _current(rows: list[PeriodResult], now: datetime) -> PeriodResult:
    """The period ``now`` falls in, else the latest (rows are newest first)."""
    return next((r for r in rows if r.period_start <= now < r.period_end), rows[0])


def _recent_results(user: User, agreement_ids: list[int]) -> QuerySet[PeriodResult]:
    """The latest ``TREND_PERIODS`` results of every target of the agreements, in one query
    (a window numbers each target's periods newest first)."""
    return (
        PeriodResult.objects.visible_to(user)
        .filter(agreement_id__in=agreement_ids)
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("agreement_id"), F("target_key")],
                order_by=F("period_start").desc(),
            )
        )
        .filter(recency__lte=TREND_PERIODS)
        .order_by("agreement_id", "target_key", "-period_start")
    )


def panels_by_agreement(
    user: User, agreements: list[Agreement], now: datetime
) -> dict[int, list[TargetPanel]]:
    """The target panels of each agreement (by id), from the rows ``user`` may see."""
    grouped: dict[int, dict[str, list[PeriodResult]]] = defaultdict(lambda: defaultdict(list))
    for row in _recent_results(user, [a.pk for a in agreements]):
        grouped[row.agreement_id][row.target_key].append(row)
    panels: dict[int, list[TargetPanel]] = {}
    for agreement in agreements:
        targets = grouped.get(agreement.pk, {})
        found = [_panel(_current(rows, now), rows) for rows in targets.values()]
        panels[agreement.pk] = sorted(found, key=target_order)
    return panels


# Availability first, then tickets, then the rest: the order people ask about them.
METRIC_ORDER = ["availability", "response_time", "resolution_time"]


def target_order(panel: TargetPanel) -> tuple:
    """Sort key of the panels: availability, response, resolution, then the rest by label."""
    rank = METRIC_ORDER.index(panel.metric) if panel.metric in METRIC_ORDER else len(METRIC_ORDER)
    return (rank, panel.label)
