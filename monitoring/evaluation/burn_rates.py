"""The deadline loop's share for burn rates: multi-window alerts at the second a rule fires.

An evaluation that finds a period spending its budget (downtime, missed tickets, errors)
marks the period's ``burn_due`` with its own time. Each tick claims due periods with a
conditional UPDATE on the value it saw (house style point 8, as ``period_deadlines`` does),
computes the rules' rates from PostgreSQL (the period's outage spans, the decided-at index of
ticket timers, the error events' time index: never raw checks), raises the alerts of rules
that fire or recover, and stores the next moment one will change by time alone (an open
outage pushes a rule over its factor; old spend slides out of a window), so the loop comes
back at that very second. Alerts are unique per period, level and rule: a rule fires once
per period and says once that it recovered (docs/burn-rates.md).

A tick computes a few periods only (``TICK_LIMIT``, ``TICK_BUDGET``); a period whose
computation fails (a data bug) is logged and put off by ``RETRY_AFTER``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Least, Trunc

from agreements.burn_rules import DEFAULT_RULES, PAGE, BurnRule
from agreements.models import Agreement, Service
from agreements.terms import MeasuredTarget, MeasuredTerms, terms_of_version
from monitoring.compliance.burn import (
    BurnReport,
    availability_burn,
    count_burn,
    counted_time,
    expected_tickets,
    rules_for_period,
    spend_key,
    window_start,
)
from monitoring.compliance.intervals import intersect, total_seconds
from monitoring.compliance.states import BREACHED, MISSED_TARGET
from monitoring.evaluation.burn_alerts import alert_row, insert_alerts
from monitoring.evaluation.measure import MONTHS_IN, silence_applied
from monitoring.evaluation.tickets import term_bounds
from monitoring.format import duration
from monitoring.models import (
    Alert,
    BurnLevel,
    ErrorEvent,
    MaintenanceWindow,
    Outage,
    PeriodResult,
    TicketTimer,
)
from monitoring.models.ownership import counted_for

logger = logging.getLogger(__name__)

TICK_LIMIT = 20
TICK_BUDGET = 0.3  # seconds
RETRY_AFTER = timedelta(seconds=60)
OUTAGE = (OperationalError, InterfaceError)
# Earlier closed periods whose decided tickets steady a ticket target's expected count.
HISTORY_PERIODS = 12
# Error events read for one computation at most (the longest window's, newest last).
MAX_EVENTS = 20000


def claim_burn_deadlines(
    now: datetime, limit: int = TICK_LIMIT, budget: float | None = TICK_BUDGET
) -> tuple[int, bool]:
    """Compute the burn rates of the open periods whose ``burn_due`` has come (at most
    ``limit``, starting none after ``budget`` seconds); return how many were claimed and
    whether due ones were left for the next tick."""
    began = time.monotonic()
    due = list(
        PeriodResult.objects.filter(burn_due__lte=now, closed_at__isnull=True)
        .order_by("burn_due")
        .values_list("pk", "burn_due")[: limit + 1]
    )
    claimed = 0
    for index, (pk, seen) in enumerate(due[:limit]):
        if index and budget is not None and time.monotonic() - began >= budget:
            return claimed, True
        try:
            with transaction.atomic():
                # A period closed meanwhile is left alone: its closing settled its burn
                # state, and the closed row may not change (``0006_closed_periods_frozen``).
                if not PeriodResult.objects.filter(
                    pk=pk, burn_due=seen, closed_at__isnull=True
                ).update(burn_due=None):
                    continue
                claimed += 1
                row = PeriodResult.objects.select_related("agreement").get(pk=pk)
                evaluate_burn(row, now)
        except OUTAGE:
            raise
        except Exception:
            logger.exception(
                "burn rates of period result %s failed; put off by %d s",
                pk,
                RETRY_AFTER.total_seconds(),
            )
            PeriodResult.objects.filter(
                pk=pk, burn_due__isnull=True, closed_at__isnull=True
            ).update(burn_due=now + RETRY_AFTER)
    return claimed, len(due) > limit


def evaluate_burn(row: PeriodResult, now: datetime) -> BurnReport | None:
    """Compute one open period's burn rates at ``now``, raise the alerts of rules that fired
    or recovered, and store the rates and the next moment one changes by time alone."""
    terms = terms_of_version(row.version_id)
    target = next((t for t in terms.targets if t.key == row.target_key), None)
    if target is None or row.is_closed:
        return None
    last = (row.burn or {}).get("computed_at")
    since = datetime.fromisoformat(last) if last else row.period_start
    report = burn_report(row, terms, target, now, min(max(since, row.period_start), now))
    if report is None:
        return None
    previous = row.burn.get("moments", {})
    _raise(row, target, report, previous, now)
    moments = {name: moment.isoformat() for name, moment in report.moments.items()}
    state = {
        "computed_at": now.isoformat(),
        "spend": spend_key(row.details or {}, row.next_due is not None),
        "rules": [s.as_dict() for s in report.states],
        "moments": moments,
    }
    nxt = report.next_moment
    # Least ignores NULL in PostgreSQL: a mark set by an evaluation since the claim stays.
    due = Least(F("burn_due"), Value(nxt)) if nxt is not None else F("burn_due")
    PeriodResult.objects.filter(pk=row.pk, closed_at__isnull=True).update(burn=state, burn_due=due)
    row.burn = state
    return report


def target_rules(target: MeasuredTarget) -> tuple[BurnRule, ...]:
    """The target's own rules, or the default set."""
    return target.burn_rules or DEFAULT_RULES


def burn_report(
    row: PeriodResult,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    now: datetime,
    last: datetime | None = None,
) -> BurnReport | None:
    """The rules' rates for one period at ``now``, read from PostgreSQL; ``None`` for a
    target without a budget that burns (experience, performance, recovery targets). Spend
    after ``last`` (the previous computation) is searched for rules that fired then."""
    agreement: Agreement = row.agreement
    # Clipped to the agreement's term, as the period's verdict is (``measure.measure``):
    # time before the term starts or after it ends is no service time of this agreement.
    term_start, term_end = term_bounds(terms, target.zone)
    period = (
        max(row.period_start, term_start),
        min(row.period_end, term_end) if term_end else row.period_end,
    )
    names = [target.service] if target.service else list(terms.services)
    service_ids = list(Service.objects.filter(name__in=names).values_list("pk", flat=True))
    counted_q = counted_for(agreement.customer_id)
    service = target.calendar.intervals(*period)
    if target.metric == "availability" and target.data_source == "uptime":
        outages = list(
            Outage.objects.filter(
                Q(ended_at__isnull=True) | Q(ended_at__gt=period[0]),
                counted_q,
                service_id__in=service_ids,
                started_at__lt=period[1],
            ).values_list("started_at", "ended_at", "source_id")
        )
        maintenance, cap = [], None
        notice = timedelta(days=terms.maintenance_notice_days)
        if terms.maintenance_excluded:
            maintenance = list(
                MaintenanceWindow.objects.filter(
                    counted_q,
                    service_id__in=service_ids,
                    starts_at__lt=period[1],
                    ends_at__gt=period[0],
                    announced_at__isnull=False,
                    announced_at__lte=F("starts_at") - notice,
                ).values_list("starts_at", "ends_at")
            )
            cap = terms.maintenance_max_minutes * 60 * MONTHS_IN.get(target.period, 1)
        found, unmeasured, _silent = silence_applied(
            outages, service_ids, period, now, agreement.customer_id
        )
        counted = counted_time(service, maintenance, cap, unmeasured)
        rules = rules_for_period(target_rules(target), total_seconds(counted))
        return availability_burn(counted, found, now, float(target.target_value), rules, last)
    counted = counted_time(service, [], None, [])
    period_seconds = total_seconds(counted)
    rules = rules_for_period(target_rules(target), period_seconds)
    if not rules or not counted:
        return None
    # Events from the longest window before the previous computation: a late one is judged
    # with the windows as they were at its moment.
    since = window_start(counted, min(last or now, now), max(r.long_seconds for r in rules))
    if target.is_ticket_timer:
        compliance = float(target.compliance_target or 100)
        events = list(
            TicketTimer.objects.filter(
                agreement_id=agreement.pk,
                target_key=target.key,
                decided_at__gte=max(since, period[0]),
                decided_at__lte=now,
                state__in=[MISSED_TARGET, BREACHED],
            ).values_list("decided_at", flat=True)
        )
        expected = expected_for(row, counted, now, period_seconds)
        budget = expected * (100 - compliance) / 100
        return count_burn(counted, events, now, budget, rules, last)
    if target.data_source == "errors":
        events = ErrorEvent.objects.filter(
            counted_q,
            service_id__in=service_ids,
            occurred_at__gte=max(since, period[0]),
            occurred_at__lte=now,
        )
        if target.error_category:
            events = events.filter(category=target.error_category)
        return _error_burn(events, counted, now, row.goal_target, rules, last)
    return None


def _error_burn(events, counted: list, now: datetime, budget: float, rules, last) -> BurnReport:
    """The error burn from the newest ``MAX_EVENTS`` events one by one (sliced in SQL, the
    time index serves it) and, when the windows hold more, the older ones counted per minute
    in SQL: every event counts, and only those beyond the newest are placed to the minute."""
    times = list(events.order_by("-occurred_at").values_list("occurred_at", flat=True)[:MAX_EVENTS])
    weights = [1] * len(times)
    if len(times) == MAX_EVENTS:
        older = (
            events.filter(occurred_at__lt=times[-1])
            .annotate(minute=Trunc("occurred_at", "minute"))
            .values("minute")
            .annotate(n=Count("pk"))
            .values_list("minute", "n")
        )
        for minute, n in older:
            times.append(minute)
            weights.append(n)
    return count_burn(counted, times, now, budget, rules, last, weights)


def expected_for(row: PeriodResult, counted: list, now: datetime, period_seconds: float) -> float:
    """The period's expected decided tickets (``monitoring.compliance.burn.expected_tickets``):
    what it holds so far, extrapolated, or the mean of earlier closed periods if larger."""
    details = row.details or {}
    decided = int(details.get("met", 0)) + int(details.get("missed", 0))
    pending = int(details.get("pending", 0))
    elapsed = (
        total_seconds(intersect(counted, [(row.period_start, now)]))
        if now > row.period_start
        else 0
    )
    earlier = [
        int((d or {}).get("met", 0)) + int((d or {}).get("missed", 0))
        for d in PeriodResult.objects.filter(
            agreement_id=row.agreement_id,
            target_key=row.target_key,
            closed_at__isnull=False,
            period_start__lt=row.period_start,
        )
        .order_by("-period_start")
        .values_list("details", flat=True)[:HISTORY_PERIODS]
    ]
    return expected_tickets(decided, pending, elapsed, period_seconds, earlier)


def _burn_text(state) -> str:
    rule = state.rule
    rates = []
    for seconds, rate in (
        (rule.long_seconds, state.long_rate),
        (rule.short_seconds, state.short_rate),
    ):
        shown = "∞" if rate == float("inf") else f"{rate:.1f}x"
        rates.append(f"{shown} over {duration(seconds)}")
    return f"burn rate {' and '.join(rates)} (fires above {rule.factor:g}x)"


def _raise(
    row: PeriodResult, target: MeasuredTarget, report: BurnReport, previous: dict, now: datetime
) -> int:
    """Insert the alerts of rules that fire now and never fired this period, and the
    recovery of rules that fired and no longer do; the unique constraint (period, level,
    rule) makes a repeated or concurrent run insert nothing more. A level is stamped with
    the moment the rule changed, when this computation was planned for it."""
    raised = set(
        Alert.objects.filter(period_result_id=row.pk)
        .exclude(burn_rule="")
        .values_list("burn_rule", "level")
    )
    fired_rules = {rule for rule, level in raised if level != BurnLevel.RECOVERED}
    rows = []
    for state in report.states:
        name = state.rule.name
        level = None
        late = report.fired.get(name)
        if (state.firing or late) and name not in fired_rules:
            level = BurnLevel.PAGE if state.rule.severity == PAGE else BurnLevel.WARN
        elif not state.firing and name in fired_rules and (name, BurnLevel.RECOVERED) not in raised:
            level = BurnLevel.RECOVERED
        if level is None:
            continue
        planned = previous.get(name)
        reached = now
        if planned is not None:
            moment = datetime.fromisoformat(planned)
            reached = moment if moment <= now else now
        if level != BurnLevel.RECOVERED and late is not None:
            # Fired at a moment learnt only now: stamped then (quiet when too old).
            reached = min(reached, late)
        rows.append(alert_row(row, level, name, reached, now, target.zone, _burn_text(state)))
        if level != BurnLevel.RECOVERED and not state.firing:
            back = report.recovered.get(name, now)
            rows.append(
                alert_row(row, BurnLevel.RECOVERED, name, back, now, target.zone, _burn_text(state))
            )
    return insert_alerts(rows)
