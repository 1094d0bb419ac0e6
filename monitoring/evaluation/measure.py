"""One target's verdict over one window: the inputs the evaluation reads, fed to the arithmetic.

``measure`` is the single place a period's figures are gathered from the database (tickets'
timers, outages with their silences, announced maintenance, error events, measured values,
continuity incidents, survey answers) and handed to ``monitoring.compliance.verdicts``. The
period evaluation (``monitoring.evaluation.periods``) stores what it returns; a replay of
proposed terms on history (``monitoring.evaluation.replay``), the forecast's backtest and a
recomputation call the same function, so every figure comes from one implementation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q

from agreements.models import Agreement
from agreements.terms import MeasuredTarget, MeasuredTerms
from monitoring import staleness
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
from monitoring.evaluation import budgets
from monitoring.experience.measure import experience_period
from monitoring.models import (
    ContinuityIncident,
    ErrorEvent,
    MaintenanceWindow,
    Measurement,
    Outage,
    TicketTimer,
    UptimeCheck,
)
from monitoring.models.ownership import counted_for
from monitoring.silence import clip_open_outages

# A first evaluation of an agreement that took effect long ago fills in at most this many
# periods per target (ten years of months); older ones are out of any report's reach.
MAX_BACKFILL_PERIODS = 120
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}

# Allowed maintenance minutes are per month: a quarter or a year allows that many times more.
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


class TicketCounts(Protocol):
    """``(met, missed, pending, pending_at_risk)`` of a ticket target over a window."""

    def __call__(
        self,
        agreement: Agreement,
        target: MeasuredTarget,
        window: tuple[datetime, datetime],
        closed: bool,
    ) -> tuple[int, int, int, int]: ...


def stored_ticket_counts(
    agreement: Agreement,
    target: MeasuredTarget,
    window: tuple[datetime, datetime],
    closed: bool,
) -> tuple[int, int, int, int]:
    """The tickets decided in ``window`` (met, missed) and, while the period is open, those
    still pending (open, at risk), from the timers the ticket evaluation stored."""
    start, end = window
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
    return decided["met"], decided["missed"], pending["open"], pending["at_risk"]


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
    ticket_counts: TicketCounts | None = None,
    previous: dict | None = None,
    as_of: datetime | None = None,
) -> tuple[Verdict, str, Goal]:
    """The verdict of one target over ``window``, with the unit of its value and its goal
    (``previous``: the period's details at its last evaluation, for the budget's moments).

    ``as_of`` reads the availability inputs as they were known at that moment (the
    backtest's forecast at a moment of a closed period): outages started by then, those
    still going then as open, maintenance announced by then and checks made by then, so no
    later fact leaks into a verdict of the past. ``None``: everything recorded (the live
    evaluation, where nothing later exists).

    Only data of the sources that count for the agreement's customer is read (its own and
    the provider's shared ones, ``monitoring.models.ownership``): another customer's feed about a
    shared service changes none of this agreement's figures.

    ``ticket_counts`` says how a ticket target's tickets are counted; by default from the
    stored timers of the version in force (``stored_ticket_counts``). A replay of proposed
    terms on history passes timers computed with the proposed target instead, so every
    other input and the verdict itself come from this one function."""
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
        counts = (ticket_counts or stored_ticket_counts)(agreement, target, window, closed)
        verdict = ticket_share_verdict(*counts, goal, closed)
        if ticket_counts is None:
            # The budget's run-out moments are read from the stored timers; a replay's
            # timers live in memory only, and a replay shows verdicts, not budgets.
            misses = TicketTimer.objects.filter(
                agreement=agreement,
                target_key=target.key,
                decided_at__gte=start,
                decided_at__lt=end,
                state__in=[MISSED_TARGET, BREACHED],
            )
            verdict = budgets.with_ticket_budget(
                verdict, agreement, target, misses, window, now, goal, closed, previous
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
        found, unmeasured, silent = silence_applied(
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
        verdict = budgets.with_availability_budget(verdict, now)
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
        return (
            budgets.with_count_budget(count_verdict(count, goal, closed), events, goal, previous),
            "count",
            goal,
        )
    if target.data_source == "measurements":
        values = Measurement.objects.filter(
            counted, service_id__in=service_ids, measured_at__gte=start, measured_at__lt=end
        )
        if target.name:
            values = values.filter(name=target.name)
        samples = list(values.order_by("measured_at", "pk").values_list("measured_at", "value"))
        verdict = value_verdict([value for _, value in samples], goal, closed)
        return budgets.with_value_budget(verdict, samples, goal, target.unit), target.unit, goal
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


def silence_applied(
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
