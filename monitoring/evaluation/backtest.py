"""The backtest of forecasts over every closed period in the database.

For each closed period result with a verdict (met, missed, breached) of a target that has a
forecast, the forecast is made again as it would have been at 25, 50 and 75 % of the period
(``forecasts.forecast_period`` at that moment: the same reads, the period's data up to that
moment and the closed periods before it), beside "the current value" at the same moment;
``monitoring.compliance.backtest`` scores them. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from agreements.models import Agreement, Service
from agreements.terms import MeasuredTarget, MeasuredTerms, measured_terms
from monitoring.compliance import backtest
from monitoring.compliance import forecast as fc
from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET
from monitoring.evaluation import forecasts
from monitoring.evaluation.measure import measure
from monitoring.models import PeriodResult

VERDICTS = (MET, MISSED_TARGET, BREACHED)


@dataclass
class Outcome:
    """The backtest's findings: forecasts at the checkpoints, and first warnings."""

    trials: list[backtest.Trial] = field(default_factory=list)
    leads: list[backtest.Lead] = field(default_factory=list)


def run_backtest(
    agreement_ids: Iterable[int] | None = None,
    checkpoints: Iterable[float] = backtest.CHECKPOINTS,
    step: timedelta | None = timedelta(days=1),
) -> Outcome:
    """The trials of every closed period (of the given agreements), oldest first, and, with
    a ``step``, each period scanned from its start at that step for the first warnings."""
    checkpoints = tuple(checkpoints)
    outcome = Outcome()
    rows = PeriodResult.objects.filter(
        closed_at__isnull=False, status__in=VERDICTS, value__isnull=False
    ).order_by("agreement_id", "target_key", "period_start")
    if agreement_ids is not None:
        rows = rows.filter(agreement_id__in=list(agreement_ids))
    agreements = {
        a.pk: a
        for a in Agreement.objects.filter(pk__in=rows.values("agreement_id")).select_related(
            "in_force_version", "created_by"
        )
    }
    terms_of = {pk: measured_terms(a) for pk, a in agreements.items()}
    for row in rows.iterator():
        agreement = agreements[row.agreement_id]
        terms = terms_of[row.agreement_id]
        if terms is None:
            continue
        target = next((t for t in terms.targets if t.key == row.target_key), None)
        if target is None or forecasts.kind_of(target) is None:
            continue
        if row.version_id != terms.version_id:
            # Judged by other terms than those in force now: today's target would misjudge it.
            continue
        service_ids = _service_ids(terms.services, target.service)
        period = (row.period_start, row.period_end)
        history, profile = forecasts.history_of(agreement, target, service_ids, period[0])

        goal = _goal_of(row)
        at = partial(
            _made_at, agreement, terms, target, service_ids, period, history, profile, goal
        )

        kind = forecasts.target_kind_label(target)
        for share in checkpoints:
            moment = row.period_start + (row.period_end - row.period_start) * share
            found = at(moment)
            if found is not None:
                made, naive, _alerts = found
                outcome.trials.append(
                    backtest.Trial(
                        kind=kind,
                        checkpoint=share,
                        actual=row.status,
                        actual_value=row.value,
                        predicted=made.status,
                        low=made.low,
                        high=made.high,
                        naive=naive,
                    )
                )
        lead = _first_warnings(kind, row, at, step) if step is not None else None
        if lead is not None:
            outcome.leads.append(lead)
    return outcome


def _made_at(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    service_ids: list[int],
    period: tuple[datetime, datetime],
    history: fc.History,
    profile: list[float] | None,
    goal: tuple[float, float] | None,
    moment: datetime,
) -> tuple[fc.Forecast, str, bool] | None:
    """The forecast, the current value's status and whether the forecast would alert
    (``forecasts.alert_level``) at ``moment``."""
    seen = forecasts.observe(
        agreement, terms, target, service_ids, period, moment, measure, profile
    )
    if seen is None:
        return None
    judged = seen.goal
    if goal is not None:
        judged = replace(seen.goal, target=goal[0], threshold=goal[1])
    made = fc.forecast(seen.observation, judged, history)
    if made is None:
        return None
    naive = fc.naive_status(seen.observation, judged) or MET
    stored = {
        "predicted": made.predicted,
        "confidence": made.confidence,
        "samples": made.details.get("samples"),
    }
    return made, naive, forecasts.alert_level(stored, seen.verdict) is not None


def _first_warnings(kind: str, row: PeriodResult, at, step: timedelta) -> backtest.Lead | None:
    """Scan the period at ``step`` for the first forecast of a miss (or worse), the first
    moment the current value shows one, and whether the forecast's alert rule
    (``forecasts.alert_level``) would have fired; ``None`` when no moment had a forecast
    (nothing measured)."""
    first = naive_first = None
    seen = alerted = False
    moment = row.period_start + step
    while moment < row.period_end and (first is None or naive_first is None or not alerted):
        found = at(moment)
        if found is not None:
            seen = True
            made, naive, alerts = found
            alerted = alerted or alerts
            left = (row.period_end - moment).total_seconds()
            if first is None and made.status != MET:
                first = left
            if naive_first is None and naive != MET:
                naive_first = left
        moment += step
    return backtest.Lead(kind, row.status, first, naive_first, alerted) if seen else None


def _goal_of(row: PeriodResult) -> tuple[float, float] | None:
    """The target and threshold the period was judged by (``None`` for a row stored
    before they were kept)."""
    if row.goal_target is None or row.goal_threshold is None:
        return None
    return float(row.goal_target), float(row.goal_threshold)


def _service_ids(names: Iterable[str], service: str) -> list[int]:
    found = dict(Service.objects.filter(name__in=list(names)).values_list("name", "pk"))
    return [found[service]] if service in found else list(found.values())
