"""The backtest of forecasts over every closed period in the database.

For each closed period result with a verdict (met, missed, breached) of a target that has a
forecast, the forecast is made again as it would have been at 25, 50 and 75 % of the period
(``forecasts.forecast_period`` at that moment: the same reads, the period's data up to that
moment and the closed periods before it), beside "the current value" at the same moment;
``monitoring.compliance.backtest`` scores them. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from agreements.models import Agreement, Service
from agreements.terms import measured_terms
from monitoring.compliance import backtest
from monitoring.compliance import forecast as fc
from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET
from monitoring.evaluation import forecasts
from monitoring.evaluation.periods import measure
from monitoring.models import PeriodResult

VERDICTS = (MET, MISSED_TARGET, BREACHED)


def run_backtest(
    agreement_ids: Iterable[int] | None = None,
    checkpoints: Iterable[float] = backtest.CHECKPOINTS,
) -> list[backtest.Trial]:
    """The trials of every closed period (of the given agreements), oldest first."""
    checkpoints = tuple(checkpoints)
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
    trials = []
    for row in rows.iterator():
        agreement = agreements[row.agreement_id]
        terms = terms_of[row.agreement_id]
        if terms is None:
            continue
        target = next((t for t in terms.targets if t.key == row.target_key), None)
        if target is None or forecasts.kind_of(target) is None:
            continue
        service_ids = _service_ids(terms.services, target.service)
        period = (row.period_start, row.period_end)
        for share in checkpoints:
            at = row.period_start + (row.period_end - row.period_start) * share
            trial = _trial(agreement, terms, target, service_ids, period, at, share, row)
            if trial is not None:
                trials.append(trial)
    return trials


def _service_ids(names: Iterable[str], service: str) -> list[int]:
    found = dict(Service.objects.filter(name__in=list(names)).values_list("name", "pk"))
    return [found[service]] if service in found else list(found.values())


def _trial(agreement, terms, target, service_ids, period, at: datetime, share, row):
    made = forecasts.forecast_period(agreement, terms, target, service_ids, period, at, measure)
    if made is None:
        return None
    forecast, seen = made
    naive = fc.naive_status(seen.observation, seen.goal)
    return backtest.Trial(
        kind=forecasts.target_kind_label(target),
        checkpoint=share,
        actual=row.status,
        actual_value=row.value,
        predicted=forecast.status,
        low=forecast.low,
        high=forecast.high,
        naive=naive or MET,
        seconds_left=(period[1] - at).total_seconds(),
    )
