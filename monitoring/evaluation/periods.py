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
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from agreements.models import Agreement, Service
from agreements.terms import MONITORED_STATES, MeasuredTarget, MeasuredTerms, measured_terms
from monitoring import staleness
from monitoring.budget import next_crossing
from monitoring.compliance.periods import periods_between
from monitoring.compliance.states import AT_RISK, BREACHED, MISSED_TARGET, NO_DATA
from monitoring.compliance.verdicts import (
    Goal,
    Verdict,
    availability_verdict,
    count_verdict,
    recovery_verdict,
    ticket_share_verdict,
    value_verdict,
)
from monitoring.evaluation import alert_emails, forecasts
from monitoring.evaluation.period_breaches import record_outcome
from monitoring.experience.measure import closes_at, experience_period
from monitoring.models import (
    ContinuityIncident,
    ErrorEvent,
    MaintenanceWindow,
    Measurement,
    Outage,
    PeriodResult,
    TicketTimer,
    UptimeCheck,
)
from monitoring.models.ownership import counted_for
from monitoring.silence import clip_open_outages

# A first evaluation of an agreement that took effect long ago fills in at most this many
# periods per target (ten years of months); older ones are out of any report's reach.
MAX_BACKFILL_PERIODS = 120
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


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
        count = 0
        for target in terms.targets:
            count += _evaluate_target(
                agreement, terms, target, services, last_closed.get(target.key), now, forecast
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


def _term_bounds(terms: MeasuredTerms, zone: str) -> tuple[datetime, datetime | None]:
    tz = ZoneInfo(zone)
    start = datetime.combine(terms.effective_from, time(0), tzinfo=tz)
    end = None
    if terms.effective_to is not None:
        end = datetime.combine(terms.effective_to + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def _evaluate_target(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    services: dict[str, int],
    closed_until: datetime | None,
    now: datetime,
    forecast: bool = True,
) -> int:
    term_start, term_end = _term_bounds(terms, target.zone)
    first = max(term_start, closed_until) if closed_until else term_start
    last = min(now, term_end - timedelta(microseconds=1)) if term_end else now
    if first > last:
        return 0
    periods = periods_between(target.period, first, last, target.zone)[-MAX_BACKFILL_PERIODS:]
    service_ids = (
        [services[target.service]] if target.service in services else list(services.values())
    )
    for start, end in periods:
        window = (max(start, term_start), min(end, term_end) if term_end else end)
        # A CSAT period waits for its late ratings (monitoring.experience.measure).
        closed = now >= closes_at(target.metric, window[1])
        verdict, unit, goal = measure(agreement, terms, target, service_ids, window, now, closed)
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
        row = _store(agreement, terms, target, (start, end), verdict, unit, goal, closed, now, due)
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


def _goal(target: MeasuredTarget) -> Goal:
    return Goal(
        float(target.target_value),
        float(target.threshold_value),
        target.higher_is_better,
        float(target.warning_percent),
    )


def measure(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    service_ids: list[int],
    window: tuple[datetime, datetime],
    now: datetime,
    closed: bool,
    as_of: datetime | None = None,
) -> tuple[Verdict, str, Goal]:
    """The verdict of one target over ``window``, with the unit of its value and its goal.

    ``as_of`` reads the availability inputs as they were known at that moment (the
    backtest's forecast at a moment of a closed period): outages started by then, those
    still going then as open, maintenance announced by then and checks made by then, so no
    later fact leaks into a verdict of the past. ``None``: everything recorded (the live
    evaluation, where nothing later exists).

    Only data of the sources that count for the agreement's customer is read (its own and
    the provider's shared ones, ``monitoring.models.ownership``): another customer's feed about a
    shared service changes none of this agreement's figures."""
    start, end = window
    counted = counted_for(agreement.customer_id)
    if target.is_ticket_timer:
        goal_target = float(target.compliance_target or 100)
        goal = Goal(
            goal_target,
            float(target.compliance_threshold or goal_target),
            True,
            float(target.warning_percent),
        )
        timers = TicketTimer.objects.filter(agreement=agreement, target_key=target.key)
        decided = timers.filter(decided_at__gte=start, decided_at__lt=end).aggregate(
            met=Count("pk", filter=Q(state="met")),
            missed=Count("pk", filter=Q(state__in=[MISSED_TARGET, BREACHED])),
        )
        pending = {"open": 0, "at_risk": 0}
        if not closed:
            pending = timers.filter(decided_at__isnull=True, stopped_at__isnull=True).aggregate(
                open=Count("pk"), at_risk=Count("pk", filter=Q(state=AT_RISK))
            )
        verdict = ticket_share_verdict(
            decided["met"], decided["missed"], pending["open"], pending["at_risk"], goal, closed
        )
        return verdict, "percent", goal

    goal = _goal(target)
    if target.is_experience:  # CSAT, NPS: docs/experience.md
        verdict = experience_period(agreement.pk, target, service_ids, window, goal, closed)
        return verdict, target.unit, goal
    if target.metric == "availability" and target.data_source == "uptime":
        known_until = end if as_of is None else min(end, as_of)
        outages = Outage.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=start),
            counted,
            service_id__in=service_ids,
            started_at__lt=known_until,
        ).values_list("started_at", "ended_at", "source_id")
        if as_of is not None:
            # An outage still going at ``as_of`` was open then: its end was not known.
            outages = [
                (a, b if b is not None and b <= as_of else None, source) for a, b, source in outages
            ]
        maintenance = []
        cap = None
        if terms.maintenance_excluded:
            maintenance = MaintenanceWindow.objects.filter(
                counted,
                service_id__in=service_ids,
                starts_at__lt=end,
                ends_at__gt=start,
                announced_at__isnull=False,
                announced_at__lte=F("starts_at") - timedelta(days=terms.maintenance_notice_days),
            )
            if as_of is not None:
                maintenance = maintenance.filter(announced_at__lte=as_of)
            maintenance = maintenance.values_list("starts_at", "ends_at")
            cap = terms.maintenance_max_minutes * 60 * MONTHS_IN.get(target.period, 1)
        found, unmeasured, silent = _silence_applied(
            list(outages), service_ids, window, now, agreement.customer_id
        )
        if (
            silent is not None
            and not silent.counts_as_down
            and silent.silence.last_evidence < start
        ):
            # Nothing in this period was measured: no verdict, no 0 %, no breach.
            return (
                _no_data_since(silent.silence.last_evidence, closed, target.zone),
                "percent",
                goal,
            )
        if not found and not _has_checks(service_ids, (start, known_until), counted):
            reason = "No uptime checks or outages were recorded for this period."
            return Verdict(None, NO_DATA, closed, {"reason": reason}), "percent", goal
        verdict = availability_verdict(
            target.calendar, window, now, found, list(maintenance), cap, goal, unmeasured
        )
        if silent is not None:
            since = silent.silence.last_evidence
            verdict.details["no_data_since"] = since.isoformat()
            verdict.details["silence_counts_as_down"] = silent.counts_as_down
        return verdict, "percent", goal
    if target.data_source == "errors":
        events = ErrorEvent.objects.filter(
            counted, service_id__in=service_ids, occurred_at__gte=start, occurred_at__lt=end
        )
        if target.error_category:
            events = events.filter(category=target.error_category)
        count = events.count()
        if (
            not count
            and not ErrorEvent.objects.filter(counted, service_id__in=service_ids).exists()
        ):
            # Zero errors from a feed that never sent any is not a measurement.
            reason = "No error events have ever been received for these services."
            return Verdict(None, NO_DATA, closed, {"reason": reason}), "count", goal
        return count_verdict(count, goal, closed), "count", goal
    if target.data_source == "measurements":
        values = Measurement.objects.filter(
            counted, service_id__in=service_ids, measured_at__gte=start, measured_at__lt=end
        )
        if target.name:
            values = values.filter(name=target.name)
        samples = list(values.order_by("measured_at").values_list("value", flat=True))
        return value_verdict(samples, goal, closed), target.unit, goal
    if target.data_source == "incidents":
        minutes = Goal(
            target.seconds(target.target_value) / 60,
            target.seconds(target.threshold_value) / 60,
            False,
            float(target.warning_percent),
        )
        incidents = ContinuityIncident.objects.filter(
            counted, service_id__in=service_ids, started_at__gte=start, started_at__lt=end
        ).values_list("started_at", "recovered_at")
        return recovery_verdict(list(incidents), min(now, end), minutes, closed), "minutes", minutes
    reason = f"The portal has no data feed for {target.data_source or target.metric} targets yet."
    return Verdict(None, NO_DATA, closed, {"reason": reason}), target.unit, goal


def _silence_applied(
    outages: list[tuple[datetime, datetime | None, int | None]],
    service_ids: list[int],
    window: tuple[datetime, datetime],
    now: datetime,
    customer_id: int,
) -> tuple[
    list[tuple[datetime, datetime | None]],
    list[tuple[datetime, datetime]],
    staleness.ServiceSilence | None,
]:
    """The outages and unmeasured time of a window once stale sources are accounted for
    (``monitoring.silence``): open outages of stale sources end at the evidence's end, and
    the services' silence is unmeasured, or down where the source says silence counts so."""
    upto = min(max(now, window[0]), window[1])
    silent = staleness.services_silence(service_ids, now, customer_id)
    if silent is not None and silent.counts_as_down:
        # The silence runs on as downtime: open outages run on too, and the silence is one
        # more outage from the moment the data should have come.
        found = [(a, b) for a, b, _ in outages]
        if silent.silence.since < upto:
            found.append((silent.silence.since, None))
        return found, [], silent
    moments = staleness.stale_moments((source for _, _, source in outages), now)
    found = clip_open_outages(outages, moments)
    unmeasured = []
    if silent is not None and silent.silence.since < upto:
        unmeasured = [(max(silent.silence.since, window[0]), upto)]
    return found, unmeasured, silent


def _no_data_since(since: datetime, closed: bool, zone: str) -> Verdict:
    local = since.astimezone(ZoneInfo(zone))
    reason = f"No data since {local:%-d %b %Y %H:%M} ({zone}): this period was not measured."
    details = {"reason": reason, "no_data_since": since.isoformat(), "unmeasured": True}
    return Verdict(None, NO_DATA, closed, details)


def _has_checks(service_ids: list[int], window: tuple[datetime, datetime], counted: Q) -> bool:
    """Whether any counted uptime check covers the window: without one, 100 % would be a
    guess (another customer's checks of the service say nothing for this agreement)."""
    return UptimeCheck.objects.filter(
        counted, service_id__in=service_ids, checked_at__gte=window[0], checked_at__lt=window[1]
    ).exists()


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
) -> PeriodResult:
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
        },
    )
    return row
