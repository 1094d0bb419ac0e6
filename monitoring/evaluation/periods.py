"""Per-period results of every measured target, closed and frozen when the period ends.

For each agreement in force and each target of its version in force, every measurement
period from the agreement's effective date up to now (at most the last
``MAX_BACKFILL_PERIODS``) has one ``PeriodResult``. Open periods
are recomputed on each evaluation; a period whose end has passed is computed one last time
and closed (a database trigger then refuses any change), so reports rest on what was known
at period close. The arithmetic is in ``monitoring.compliance``; this module only feeds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Least
from django.utils import timezone

from agreements.models import Agreement, Service
from agreements.terms import MONITORED_STATES, MeasuredTarget, MeasuredTerms, measured_terms
from monitoring.budget import next_crossing
from monitoring.compliance.burn import spend_key, spends
from monitoring.compliance.periods import periods_between
from monitoring.compliance.verdicts import (
    Goal,
    Verdict,
)
from monitoring.evaluation import alert_emails, budgets, forecasts
from monitoring.evaluation.burn_alerts import close_burn
from monitoring.evaluation.measure import measure
from monitoring.evaluation.period_breaches import record_outcome
from monitoring.evaluation.tickets import term_bounds
from monitoring.experience.measure import closes_at
from monitoring.models import (
    PeriodResult,
)

# A first evaluation of an agreement that took effect long ago fills in at most this many
# periods per target (ten years of months); older ones are out of any report's reach.
MAX_BACKFILL_PERIODS = 120


def evaluate_periods(now: datetime | None, agreement_ids: Iterable[int] | None = None) -> int:
    """Evaluate the periods of every monitored agreement (or of the given ones); with
    ``now`` ``None`` each agreement at the clock once its lock is held."""
    agreements = Agreement.objects.filter(
        status__in=MONITORED_STATES, in_force_version__isnull=False
    ).select_related("in_force_version", "created_by")
    if agreement_ids is not None:
        agreements = agreements.filter(pk__in=list(agreement_ids))
    count = 0
    for agreement in agreements:
        count += evaluate_agreement_periods(agreement, now)
    return count


def evaluate_periods_from(now: datetime | None, after: int, limit: int) -> tuple[int, int | None]:
    """Evaluate the periods of up to ``limit`` monitored agreements with an id above
    ``after``, in id order; return the count and the last id done when more may remain
    (``None`` when this run reached the end), for the next run to continue from."""
    agreements = list(
        Agreement.objects.filter(
            status__in=MONITORED_STATES, in_force_version__isnull=False, pk__gt=after
        )
        .select_related("in_force_version", "created_by")
        .order_by("pk")[:limit]
    )
    count = sum(evaluate_agreement_periods(agreement, now) for agreement in agreements)
    more = len(agreements) == limit
    return count, (agreements[-1].pk if more else None)


def evaluate_agreement_periods(
    agreement: Agreement, now: datetime | None = None, forecast: bool = True
) -> int:
    """Recompute the open periods of one agreement and close those that have ended.

    ``now`` is never older than the agreement's latest evaluation: a run that took its
    clock before waiting for the lock (a slice of a periodic pass, a long task) would
    otherwise undo what the deadline loop did in between at its crossing moment, closing
    a breach before it opened and telling its people so. ``None`` reads the clock once
    the lock is held. ``forecast`` ``False`` (the deadline loop's tick) keeps each open
    period's stored forecast instead of making it again."""
    terms = measured_terms(agreement)
    if terms is None:
        return 0
    with transaction.atomic():
        # One evaluation of an agreement at a time: a second worker waits, then recomputes
        # from what the first committed, so both arrive at one result and one alert.
        # FOR NO KEY UPDATE, not FOR UPDATE: the evaluations still exclude each other, but
        # rows that reference the agreement (a ticket ingested meanwhile takes FOR KEY SHARE
        # through its foreign key) are not held up for the length of the evaluation. Every
        # single-ticket POST used to wait for it (p50 2.3 s at S under load); the ticket's
        # nudge records the agreement again, so its periods are recomputed after it commits.
        Agreement.objects.select_for_update(no_key=True).filter(pk=agreement.pk).values_list(
            "pk"
        ).first()
        now = _not_before_latest(agreement, now)
        services = dict(Service.objects.filter(name__in=terms.services).values_list("name", "pk"))
        last_closed = dict(
            PeriodResult.objects.filter(agreement=agreement, closed_at__isnull=False)
            .values("target_key")
            .annotate(end=Max("period_end"))
            .values_list("target_key", "end")
        )
        # What the open periods' budgets said at their last evaluation, read once for all
        # targets: a run-out moment stays while its cause does.
        previous = {
            (key, start): details
            for key, start, details in PeriodResult.objects.filter(
                agreement=agreement, closed_at__isnull=True
            ).values_list("target_key", "period_start", "details")
        }
        count = 0
        for target in terms.targets:
            count += _evaluate_target(
                agreement,
                terms,
                target,
                services,
                last_closed.get(target.key),
                now,
                previous,
                forecast,
            )
        alert_emails.deliver_new_alerts(now)
    return count


def _not_before_latest(agreement: Agreement, now: datetime | None) -> datetime:
    """``now`` (the clock when ``None``), moved up to the agreement's latest evaluation."""
    if now is None:
        now = timezone.now()
    latest = PeriodResult.objects.filter(agreement=agreement).aggregate(latest=Max("evaluated_at"))[
        "latest"
    ]
    return max(now, latest) if latest is not None else now


def term_window(
    period: tuple[datetime, datetime], bounds: tuple[datetime, datetime | None]
) -> tuple[datetime, datetime] | None:
    """The part of ``period`` inside a version's term (``tickets.term_bounds``): a term that
    starts or ends mid-period is measured over its own days only; None when they do not meet."""
    term_start, term_end = bounds
    window = (max(period[0], term_start), min(period[1], term_end) if term_end else period[1])
    return window if window[0] < window[1] else None


def _evaluate_target(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    services: dict[str, int],
    closed_until: datetime | None,
    now: datetime,
    previous: dict[tuple[str, datetime], dict],
    forecast: bool = True,
) -> int:
    term_start, term_end = term_bounds(terms, target.zone)
    first = max(term_start, closed_until) if closed_until else term_start
    last = min(now, term_end - timedelta(microseconds=1)) if term_end else now
    if first > last:
        return 0
    periods = periods_between(target.period, first, last, target.zone)[-MAX_BACKFILL_PERIODS:]
    service_ids = (
        [services[target.service]] if target.service in services else list(services.values())
    )
    for start, end in periods:
        window = term_window((start, end), (term_start, term_end))
        if window is None:  # periods_between gives periods inside the term only
            continue
        # A CSAT period waits for its late ratings (monitoring.experience.measure).
        closed = now >= closes_at(target.metric, window[1])
        before = previous.get((target.key, start))
        verdict, unit, goal = measure(
            agreement, terms, target, service_ids, window, now, closed, previous=before
        )
        verdict = budgets.keep_ran_out(verdict, before, closed, goal)
        # While an outage is open, the next moment its budget is crossed is the period's
        # deadline: the deadline loop alerts then (``period_deadlines``).
        due = None if closed else next_crossing(verdict.crossings, verdict.status, now)
        if not closed:
            _forecast_into(
                agreement,
                terms,
                target,
                service_ids,
                (start, end),
                window,
                (verdict, unit, goal),
                now,
                forecast,
            )
        burn = _closing_burn(agreement, target, start, now) if closed else None
        row = _store(
            agreement, terms, target, (start, end), verdict, unit, goal, closed, now, due, burn
        )
        # An open outage that will cross a level (``due``) spends the budget from now on,
        # even while it has spent nothing yet (it opened outside service hours).
        if (
            not closed
            and spends(verdict.details, due is not None)
            and spend_key(verdict.details, due is not None) != (row.burn or {}).get("spend")
        ):
            # New spend: the deadline loop computes its burn rates at its next tick
            # (``burn_rates``); unchanged figures keep the next moment it stored.
            PeriodResult.objects.filter(pk=row.pk).update(burn_due=Least(F("burn_due"), Value(now)))
        record_outcome(agreement, target, row, verdict, unit, goal, now)
        if not closed:
            forecasts.record_forecast(agreement, target, row, verdict, goal, now)
    return len(periods)


def _forecast_into(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    service_ids: list[int],
    period: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    measured: tuple[Verdict, str, Goal],
    now: datetime,
    make: bool = True,
) -> None:
    """Put the open period's forecast (``monitoring.evaluation.forecasts``) into its
    details, keeping the moments it first crossed into a predicted level.

    The period's stored details are read once: they hold the moments crossed and the
    history the forecast learns from (``forecasts.HISTORY_KEY``), computed once per period
    (earlier periods are closed and frozen). ``make`` ``False`` carries both over as
    stored (the deadline loop's tick)."""
    verdict, unit, goal = measured
    if forecasts.kind_of(target) is None:
        return
    previous = (
        PeriodResult.objects.filter(
            agreement=agreement, target_key=target.key, period_start=period[0]
        )
        .values_list("details", flat=True)
        .first()
    ) or {}
    if not make:
        for key in ("forecast", forecasts.HISTORY_KEY):
            if key in previous:
                verdict.details[key] = previous[key]
        return
    made = forecasts.forecast_period(
        agreement,
        terms,
        target,
        service_ids,
        window,
        now,
        measure,
        (verdict, goal),
        previous.get(forecasts.HISTORY_KEY),
    )
    if made is None:
        return
    verdict.details[forecasts.HISTORY_KEY] = made[2]
    verdict.details["forecast"] = forecasts.as_details(made[0], now, previous.get("forecast"), unit)


def _closing_burn(
    agreement: Agreement, target: MeasuredTarget, start: datetime, now: datetime
) -> dict | None:
    """The burn state an open period keeps as it closes (``burn_alerts.close_burn``: the
    rules that fired recover at its end); ``None`` when it was never stored open."""
    row = PeriodResult.objects.filter(
        agreement=agreement, target_key=target.key, period_start=start, closed_at__isnull=True
    ).first()
    return close_burn(row, now, target.zone) if row is not None else None


def _store(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    period: tuple[datetime, datetime],
    verdict: Verdict,
    unit: str,
    goal: Goal,
    closed: bool,
    now: datetime,
    next_due: datetime | None = None,
    burn: dict | None = None,
) -> PeriodResult:
    """Store a period's verdict; a closing one drops its burn moment and keeps ``burn``."""
    closing = {"burn_due": None, "burn": burn if burn is not None else {}} if closed else {}
    row, _ = PeriodResult.objects.update_or_create(
        agreement=agreement,
        target_key=target.key,
        period_start=period[0],
        defaults={
            "customer_id": agreement.customer_id,
            "version_id": terms.version_id,
            "target_label": target.label[:200],
            "metric": target.metric,
            "unit": target.unit,
            "direction": target.direction,
            "target_value": target.target_value,
            "threshold_value": target.threshold_value,
            "compliance_target": target.compliance_target,
            "compliance_threshold": target.compliance_threshold,
            "period": target.period,
            "period_end": period[1],
            "value_unit": unit,
            "goal_target": goal.target,
            "goal_threshold": goal.threshold,
            "value": verdict.value,
            "status": verdict.status,
            "final": verdict.final,
            "details": verdict.details,
            "evaluated_at": now,
            "closed_at": now if closed else None,
            "next_due": next_due,
            **closing,
        },
    )
    return row
