"""Reads behind the dashboards: live compliance per agreement, the provider's overview and the
agreement-status panel.

Everything here reads the evaluation engine's rollups (``PeriodResult``, ``TicketTimer``,
``Breach``) and a few small derived rows (``Outage``, ``MaintenanceWindow``, ``Review``), never
raw tickets or uptime checks, so a dashboard costs the same handful of queries at ten tickets
as at ten million. Every query goes through ``visible_to(user)``: a customer user only ever
loads rows of their own organisation. The figures are turned into words here too (house
style: the template shows, it does not compute), with the wording helpers of the compliance
pages so a value reads the same on every page.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.html import format_html

from agreements.lifecycle import AGREED, STAGE_OF_STATE, STAGES, STATE_LABELS
from agreements.models import Agreement, Review
from agreements.selectors import agreements_visible_to
from agreements.terms import MONITORED_STATES
from monitoring import staleness
from monitoring.evaluation.format import duration, number, percent, period_label
from monitoring.models import (
    Breach,
    MaintenanceWindow,
    Outage,
    PeriodResult,
    Source,
    Status,
    TicketTimer,
)
from monitoring.presentation import goals, level_badge, status_badge
from reporting.models import Report
from reporting.selectors import recent
from reporting.selectors.recent import BREACH_COUNT_CAP
from reporting.selectors.stamps import Stamp, stamp
from sla_portal.core.models import Notification, User
from sla_portal.core.selectors import pending_problems

TREND_PERIODS = 12
# The dashboards' lists are bounded: the newest breaches of each agreement, the nearest open
# deadlines of each agreement, the newest open breaches and the nearest tickets at risk; a
# count says how many more there are and a link leads to the paginated list of them.
BREACH_HISTORY = 10
OPEN_TICKETS = 20
TICKETS_AT_RISK = 20
OPEN_BREACHES = 25
DELIVERY_PROBLEMS = 10
EXPIRY_DAYS = 90
REVIEW_DAYS = 90


# --- States as they are shown -----------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """A state as shown: a red/amber/green/grey class, an icon and a word (never colour alone)."""

    rag: str  # green, amber, red, grey: the CSS modifier (static/css/dashboard.css)
    icon: str
    text: str

    @property
    def html(self) -> str:
        """The state as a dashboard shows it, icon and word; built here rather than by an
        ``{% include %}`` per table row, which costs a template render each."""
        return format_html(
            '<span class="dash-state dash-state-{}" data-rag="{}">'
            '<i class="bi {}" aria-hidden="true"></i> {}</span>',
            self.rag,
            self.rag,
            self.icon,
            self.text,
        )

    @property
    def css(self) -> str:
        """The portal-wide text class of the state (static/css/portal.css), for pages that
        do not load the dashboard styles."""
        return PORTAL_CSS[self.rag]


PORTAL_CSS = {
    "green": "state-ok",
    "amber": "state-warn",
    "red": "state-bad",
    "grey": "text-body-secondary",
}


# The provider's traffic light: a missed target is amber (the period may still count against
# the threshold only), a breached threshold red, met green, nothing to measure grey. Icons
# and words are the ones every other page shows for the status (``status_badge``).
RAG = {
    Status.MET: "green",
    Status.RUNNING: "green",
    Status.PAUSED: "grey",
    Status.AT_RISK: "amber",
    Status.MISSED_TARGET: "amber",
    Status.BREACHED: "red",
    Status.NO_DATA: "grey",
}


def state_of(status: str) -> State:
    """The red/amber/green state of a period or timer status."""
    badge = status_badge(status)
    return State(RAG.get(status, "grey"), badge.icon, badge.text)


# A breach or alert level is coloured like the status it announces.
LEVEL_RAG = {"warning": "amber", "missed_target": "amber", "breached": "red", "closed": "green"}


def level_state(level: str) -> State:
    """The red/amber/green state of a breach or alert level, in the words of every page."""
    badge = level_badge(level)
    return State(LEVEL_RAG.get(level, "grey"), badge.icon, badge.text)


@dataclass(frozen=True)
class BreachRow:
    """A breach with its level as shown (icon and the one word for it)."""

    breach: Breach
    state: State
    opened: Stamp


def breach_rows(breaches: list[Breach]) -> list[BreachRow]:
    return [
        BreachRow(breach, level_state(breach.level), stamp(breach.opened_at)) for breach in breaches
    ]


# --- The gauge ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gauge:
    """A horizontal bar with the value, the target and the threshold placed on it (positions
    in percent of the bar's width).

    The scale is honest: it starts at zero, so the bar's length is the value's share of the
    whole (a P2 share of 66.67 % fills two thirds of the bar). Only where target and
    threshold would be closer than ``MIN_VISIBLE_GAP`` of the bar (99.9 % and 99.5 % on
    0–100 % are one pixel apart) does the axis start higher, and then it says so: ``broken``
    draws a break symbol at the start of the bar and ``note`` ("axis starts at 98 %") is
    shown next to it."""

    value: float | None  # position 0–100, None: no value
    target: float
    threshold: float
    low: str  # the scale's ends, in words
    high: str
    clipped: bool  # the value lies outside the drawn scale (it is drawn at the edge)
    bottom: float = 0.0  # the scale's ends, as figures
    top: float = 100.0
    broken: bool = False  # the axis does not start at zero
    note: str = ""  # "axis starts at 98 %" when broken


# Target and threshold closer than this (in percent of the bar) cannot be told apart.
MIN_VISIBLE_GAP = 3.0


def higher_is_better(row: PeriodResult) -> bool:
    """Whether more is better for the period's value. Not ``row.direction``: that is the
    direction of the target itself, and for ticket time targets (lower is better) the period's
    value is the share of tickets within it (higher is better). A threshold is never better
    than its target, so the two goals say it, and the direction only breaks a tie."""
    if row.goal_target != row.goal_threshold:
        return row.goal_target > row.goal_threshold
    return row.direction == "higher"


def _round_down(x: float, span: float) -> float:
    """``x`` rounded down to a round step for an axis covering about ``span``: 98.7 → 98."""
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1.0
    return math.floor(round(x / step, 9)) * step


def _round_up(x: float, span: float) -> float:
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1.0
    return math.ceil(round(x / step, 9)) * step


def gauge_scale(
    value: float | None, target: float, threshold: float, unit: str, higher: bool
) -> tuple[float, float, bool]:
    """The ends of a gauge's axis and whether it is broken (starts above zero).

    Shares (percent) run 0–100 %, other figures from zero to a little past the largest; the
    axis starts higher only where target and threshold would otherwise be closer than
    ``MIN_VISIBLE_GAP`` of the bar, at a round number below the threshold and the value."""
    figures = [f for f in (value, target, threshold) if f is not None]
    gap = abs(target - threshold)
    if unit == "percent":
        top = 100.0
        if not higher:
            # Lower is better (an error rate): the axis still starts at zero and ends at a
            # round number above the threshold and the value.
            reach = max(max(figures) + (gap or 1.0) / 2, threshold + (gap or 1.0))
            top = min(100.0, _round_up(reach, reach))
    else:
        spare = gap or max(abs(target) * 0.1, 1.0)
        top = (
            max(figures) + spare / 2 if higher else max(threshold + spare, max(figures) + spare / 2)
        )
    bottom = min(0.0, *figures)
    broken = False
    if gap and gap / (top - bottom) * 100 < MIN_VISIBLE_GAP and higher and bottom == 0.0:
        lowest = min(threshold - 2 * gap, *(f - gap / 2 for f in figures))
        start = _round_down(lowest, top - lowest)
        if start > 0:
            bottom, broken = start, True
    return bottom, top, broken


def gauge_for(row: PeriodResult) -> Gauge:
    """Where the value, target and threshold of a period sit on its gauge."""
    target, threshold, value = row.goal_target, row.goal_threshold, row.value
    bottom, top, broken = gauge_scale(
        value, target, threshold, row.value_unit, higher_is_better(row)
    )
    span = (top - bottom) or 1.0

    def at(x: float) -> float:
        return round(min(max((x - bottom) / span * 100, 0.0), 100.0), 2)

    def end(x: float) -> str:
        # Round ends read as written ("0 %", "98 %"), not "0.00 %".
        if row.value_unit == "percent" and float(x).is_integer():
            return f"{x:g} %"
        return number(x, row.value_unit, goals(row))

    clipped = value is not None and not (bottom <= value <= top)
    return Gauge(
        value=None if value is None else at(value),
        target=at(target),
        threshold=at(threshold),
        low=end(bottom),
        high=end(top),
        clipped=clipped,
        bottom=bottom,
        top=top,
        broken=broken,
        note=f"axis starts at {end(bottom)}" if broken else "",
    )


# --- One target of one agreement -------------------------------------------------------------


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


def _remaining(row: PeriodResult) -> str:
    d = row.details or {}
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
    if "count" in d:
        left = row.goal_target - d["count"]
        return f"{max(left, 0):g} more before the target is missed"
    if "reason" in d:
        return d["reason"]
    return ""


def _silence(row: PeriodResult) -> tuple[datetime | None, float | None]:
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
    no_data_since, measured_percent = _silence(current)
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


def _panels_by_agreement(
    user: User, agreements: list[Agreement], now: datetime
) -> dict[int, list[TargetPanel]]:
    grouped: dict[int, dict[str, list[PeriodResult]]] = defaultdict(lambda: defaultdict(list))
    for row in _recent_results(user, [a.pk for a in agreements]):
        grouped[row.agreement_id][row.target_key].append(row)
    panels: dict[int, list[TargetPanel]] = {}
    for agreement in agreements:
        targets = grouped.get(agreement.pk, {})
        found = [_panel(_current(rows, now), rows) for rows in targets.values()]
        panels[agreement.pk] = sorted(found, key=_target_order)
    return panels


# Availability first, then tickets, then the rest: the order people ask about them.
METRIC_ORDER = ["availability", "response_time", "resolution_time"]


def _target_order(panel: TargetPanel) -> tuple:
    rank = METRIC_ORDER.index(panel.metric) if panel.metric in METRIC_ORDER else len(METRIC_ORDER)
    return (rank, panel.label)


# --- The availability timeline -----------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """An outage or maintenance window on the timeline, placed in percent of the period."""

    kind: str  # outage, maintenance
    service: str
    start: datetime
    end: datetime | None  # None: still going on
    left: float
    width: float
    text: str


@dataclass
class Timeline:
    """The current availability period of one agreement, one row per service."""

    period: str
    start: datetime
    end: datetime
    now: float  # where "now" was at rendering, in percent (dashboard.js moves it on)
    rest: float  # the part of the period still to come, in percent
    rows: list[tuple[str, list[Span]]]
    spans: list[Span]  # every span, in time order (the table under the drawing)
    summary: str


def _timelines(
    user: User, agreements: list[Agreement], panels: dict[int, list[TargetPanel]], now: datetime
) -> dict[int, Timeline]:
    periods = {}
    for agreement in agreements:
        availability = next(
            (p.current for p in panels.get(agreement.pk, []) if p.metric == "availability"), None
        )
        if availability is not None:
            periods[agreement.pk] = (
                availability.period_start,
                availability.period_end,
                availability,
            )
    if not periods:
        return {}
    earliest = min(start for start, _, _ in periods.values())
    latest = max(end for _, end, _ in periods.values())
    service_ids = {s.pk for a in agreements if a.pk in periods for s in a.services.all()}
    outages = list(
        Outage.objects.visible_to(user)
        .filter(service_id__in=service_ids, started_at__lt=latest)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=earliest))
        .select_related("service", "source")
        .order_by("started_at")
    )
    windows = list(
        MaintenanceWindow.objects.visible_to(user)
        .filter(service_id__in=service_ids, starts_at__lt=latest, ends_at__gt=earliest)
        .select_related("service", "source")
        .order_by("starts_at")
    )
    # An open outage of a source that went stale ends where its evidence ends, as in the
    # evaluation (monitoring.silence): not "ongoing for 97 days" through months of silence.
    stale = staleness.stale_moments({o.source_id for o in outages if o.ended_at is None}, now)
    for outage in outages:
        if outage.ended_at is None and outage.source_id in stale:
            outage.ended_at = max(stale[outage.source_id], outage.started_at)
            outage.data_stopped = True
    found = {}
    for agreement in agreements:
        if agreement.pk in periods:
            found[agreement.pk] = _timeline(agreement, periods[agreement.pk], outages, windows, now)
    return found


def _counts_for(source: Source | None, agreement: Agreement) -> bool:
    """Whether a row of ``source`` counts for ``agreement`` (``monitoring.ownership``): the
    timeline draws what the figure beside it counted, never another customer's outage of a
    shared service."""
    return source is not None and (source.customer_id == agreement.customer_id or source.shared)


def _timeline(
    agreement: Agreement,
    period: tuple[datetime, datetime, PeriodResult],
    outages: list[Outage],
    windows: list[MaintenanceWindow],
    now: datetime,
) -> Timeline:
    start, end, row = period
    length = (end - start).total_seconds()
    silent_from, _ = _silence(row)

    def at(moment: datetime) -> float:
        return min(max((moment - start).total_seconds() / length * 100, 0.0), 100.0)

    def place(kind: str, service: str, a: datetime, b: datetime | None, text: str) -> Span:
        left, right = at(a), at(min(b or now, end))
        # A one-minute outage in a month is 0.002 % wide: drawn at least a sliver wide.
        width = max(right - left, 0.25)
        return Span(kind, service, a, b, round(left, 3), round(width, 3), text)

    rows, spans = [], []
    for service in sorted(agreement.services.all(), key=lambda s: s.name):
        mine = []
        for outage in outages:
            if outage.service_id != service.pk or not _counts_for(outage.source, agreement):
                continue
            if not _overlaps(outage.started_at, outage.ended_at or now, start, end):
                continue
            if outage.ended_at is None:
                # Still going on: its length grows with the clock, so the page says since
                # when (the table beside it), not for how long, and stays the same.
                text = "Outage (ongoing)"
            else:
                took = (outage.ended_at - outage.started_at).total_seconds()
                stopped = getattr(outage, "data_stopped", False)
                until = " (until the data stopped)" if stopped else ""
                text = f"Outage, {duration(took)}{until}"
            mine.append(place("outage", service.name, outage.started_at, outage.ended_at, text))
        if silent_from is not None and silent_from < min(now, end):
            since = max(silent_from, start)
            text = f"No data since {timezone.localtime(silent_from):%-d %b %Y %H:%M}"
            mine.append(place("nodata", service.name, since, None, text))
        for window in windows:
            if window.service_id != service.pk or not _counts_for(window.source, agreement):
                continue
            if not _overlaps(window.starts_at, window.ends_at, start, end):
                continue
            took = (window.ends_at - window.starts_at).total_seconds()
            title = f": {window.title}" if window.title else ""
            text = f"Maintenance, {duration(took)}{title}"
            mine.append(place("maintenance", service.name, window.starts_at, window.ends_at, text))
        mine.sort(key=lambda s: s.start)
        rows.append((service.name, mine))
        spans.extend(mine)
    spans.sort(key=lambda s: (s.start, s.service))
    outage_count = sum(1 for s in spans if s.kind == "outage")
    maintenance_count = sum(1 for s in spans if s.kind == "maintenance")
    summary = (
        f"{outage_count} outage{'s' if outage_count != 1 else ''} and {maintenance_count} "
        f"maintenance window{'s' if maintenance_count != 1 else ''} in {period_label(row)}"
    )
    d = row.details or {}
    if "down_seconds" in d:
        summary += f"; {duration(d['down_seconds'])} of downtime counted"
    now_at = round(at(now), 3)
    return Timeline(
        period=period_label(row),
        start=start,
        end=end,
        now=now_at,
        rest=round(100 - now_at, 3),
        rows=rows,
        spans=spans,
        summary=summary,
    )


def _overlaps(a: datetime, b: datetime, start: datetime, end: datetime) -> bool:
    return a < end and b > start


# --- Tickets and breaches ------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRow:
    """An open ticket target with the time left before its threshold (negative: past it)."""

    timer: TicketTimer
    state: State
    deadline: datetime | None
    left_seconds: float | None
    left_text: str
    due_text: str
    deadline_at: Stamp | None = None  # the deadline as printed
    due_at: Stamp | None = None  # the target's due time as printed


def _ticket_row(timer: TicketTimer, now: datetime) -> TicketRow:
    deadline = timer.threshold_due_at
    left = (deadline - now).total_seconds() if deadline else None
    if left is None:
        left_text = "clock paused"
    elif left >= 0:
        left_text = f"{duration(left)} left"
    else:
        left_text = f"breached {duration(-left)} ago"
    if timer.due_at is None:
        due_text = "–"
    elif timer.due_at >= now:
        due_text = f"target in {duration((timer.due_at - now).total_seconds())}"
    else:
        due_text = f"target missed {duration((now - timer.due_at).total_seconds())} ago"
    return TicketRow(
        timer,
        state_of(timer.state),
        deadline,
        left,
        left_text,
        due_text,
        stamp(deadline) if deadline else None,
        stamp(timer.due_at) if timer.due_at else None,
    )


def open_breaches(user: User) -> QuerySet[Breach]:
    """Breaches the user may see whose ticket or period is still running (the partial
    ``breach_open`` index holds exactly these)."""
    return Breach.objects.visible_to(user).filter(closed_at__isnull=True, withdrawn_at__isnull=True)


def breach_history(user: User, agreement: Agreement) -> QuerySet[Breach]:
    """Every breach of the agreement the user may see, newest first (the paginated history
    behind the dashboard's newest few), through the ``(agreement, -opened_at)`` index."""
    return (
        Breach.objects.visible_to(user)
        .filter(agreement_id=agreement.pk, withdrawn_at__isnull=True)
        .select_related("ticket", "period_result")
        .order_by("-opened_at", "-id")
    )


# --- The customer dashboard ---------------------------------------------------------------------


@dataclass
class AgreementPanel:
    """Everything the customer dashboard shows for one agreement."""

    agreement: Agreement
    targets: list[TargetPanel]
    timeline: Timeline | None
    tickets: list[TicketRow]  # the nearest OPEN_TICKETS deadlines
    breaches: list[BreachRow]  # the newest BREACH_HISTORY
    counts: Counter = field(default_factory=Counter)
    open_ticket_count: int = 0  # every open ticket target
    breach_count: int = 0  # every breach, counted up to BREACH_COUNT_CAP + 1

    @property
    def more_tickets(self) -> bool:
        return self.open_ticket_count > len(self.tickets)

    @property
    def more_breaches(self) -> bool:
        return self.breach_count > len(self.breaches)

    @property
    def breach_count_text(self) -> str:
        """The total as a dashboard says it: exact up to the cap, then "more than"."""
        if self.breach_count > BREACH_COUNT_CAP:
            return f"more than {BREACH_COUNT_CAP:,}"
        return f"{self.breach_count:,}"


def monitored_agreements(user: User) -> QuerySet[Agreement]:
    """The agreements in force and measured that the user may see, by reference."""
    return (
        Agreement.objects.visible_to(user)
        .filter(status__in=MONITORED_STATES, in_force_version__isnull=False)
        .select_related("customer")
        .order_by("reference")
    )


def signed_agreements_to_come(user: User) -> QuerySet[Agreement]:
    """Agreements every signatory signed whose effective date is still to come: not measured
    yet, but the customer should find them on the dashboard with the day their figures start."""
    return (
        agreements_visible_to(user)
        .filter(status=AGREED, has_final_version=True)
        .order_by("effective_from", "reference")
    )


def customer_dashboard(user: User, now: datetime | None = None) -> list[AgreementPanel]:
    """Per monitored agreement the user may see: each target's current period (value, gauge,
    what is left, trend), the availability timeline, the nearest open deadlines and the latest
    breaches with their totals. A constant number of queries, whatever the number of
    agreements or tickets; each list is bounded (``recent``)."""
    now = now or timezone.now()
    agreements = list(
        recent.with_counts(user, monitored_agreements(user)).prefetch_related("services")
    )
    if not agreements:
        return []
    ids = [a.pk for a in agreements]
    panels = _panels_by_agreement(user, agreements, now)
    timelines = _timelines(user, agreements, panels, now)
    tickets: dict[int, list[TicketRow]] = defaultdict(list)
    for timer in recent.nearest_timers(user, ids, OPEN_TICKETS):
        tickets[timer.agreement_id].append(_ticket_row(timer, now))
    breaches: dict[int, list[Breach]] = defaultdict(list)
    for breach in recent.latest_breaches(user, ids, BREACH_HISTORY):
        breaches[breach.agreement_id].append(breach)
    found = []
    for agreement in agreements:
        targets = panels.get(agreement.pk, [])
        found.append(
            AgreementPanel(
                agreement=agreement,
                targets=targets,
                timeline=timelines.get(agreement.pk),
                tickets=tickets.get(agreement.pk, []),
                breaches=breach_rows(breaches.get(agreement.pk, [])),
                counts=Counter(t.state.rag for t in targets),
                open_ticket_count=agreement.open_ticket_count,
                breach_count=agreement.breach_count,
            )
        )
    return found


# --- The provider dashboard -----------------------------------------------------------------------


@dataclass
class AgreementLight:
    """One agreement's row of traffic lights: each target's current state."""

    agreement: Agreement
    targets: list[TargetPanel]
    worst: State


@dataclass
class Deadline:
    agreement: Agreement
    on: date
    what: str
    days: int
    review: Review | None = None

    @property
    def overdue(self) -> int:
        return -self.days


@dataclass
class ProviderDashboard:
    """The provider's overview of every monitored agreement."""

    agreements: list[AgreementLight]
    open_breaches: list[BreachRow]
    open_breach_count: int
    tickets_at_risk: list[TicketRow]
    tickets_at_risk_count: int
    stages: list[tuple[str, int, list[tuple[str, int]]]]
    reviews: list[Deadline]
    expiries: list[Deadline]
    delivery_problems: list[Notification]
    rag_counts: Counter


RAG_RANK = {"red": 0, "amber": 1, "grey": 2, "green": 3}


def provider_dashboard(user: User, now: datetime | None = None) -> ProviderDashboard:
    """Every monitored agreement with a red/amber/green state per target, open breaches, open
    tickets by time to breach, agreements per lifecycle stage, reviews and expiries due within
    90 days, and emails that could not be delivered. A constant number of queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    agreements = list(monitored_agreements(user))
    current = (
        PeriodResult.objects.visible_to(user)
        .filter(agreement_id__in=[a.pk for a in agreements])
        .filter(period_start__lte=now, period_end__gt=now)
        .only(
            "agreement_id",
            "target_key",
            "target_label",
            "metric",
            "value_unit",
            "direction",
            "goal_target",
            "goal_threshold",
            "value",
            "status",
            "details",
            "period",
            "period_start",
            "period_end",
        )
    )
    by_agreement: dict[int, list[TargetPanel]] = defaultdict(list)
    for row in current:
        by_agreement[row.agreement_id].append(_panel(row, [row]))
    lights = []
    for agreement in agreements:
        targets = sorted(by_agreement.get(agreement.pk, []), key=_target_order)
        worst = min(
            (t.state for t in targets), key=lambda s: RAG_RANK[s.rag], default=state_of("no_data")
        )
        lights.append(AgreementLight(agreement, targets, worst))
    # The agreements that need attention first.
    lights.sort(key=lambda light: (RAG_RANK[light.worst.rag], light.agreement.reference))

    breaches = open_breaches(user)
    open_breach_list = list(
        breaches.select_related("agreement", "ticket", "period_result").order_by(
            "-opened_at", "-id"
        )[:OPEN_BREACHES]
    )
    at_risk_timers = recent.open_timers_at_risk(user)
    at_risk = [_ticket_row(timer, now) for timer in at_risk_timers[:TICKETS_AT_RISK]]

    per_state = dict(
        Agreement.objects.visible_to(user).values_list("status").annotate(n=Count("pk"))
    )
    stages = []
    for stage in STAGES:
        states = [
            (STATE_LABELS[s], n) for s, n in per_state.items() if STAGE_OF_STATE.get(s) == stage
        ]
        stages.append((stage, sum(n for _, n in states), sorted(states)))

    horizon = today + timedelta(days=REVIEW_DAYS)
    reviews = [
        Deadline(
            r.agreement,
            r.due_date,
            f"Review ({r.get_status_display().lower()})",
            (r.due_date - today).days,
            r,
        )
        for r in Review.objects.visible_to(user)
        .exclude(status=Review.Status.DECIDED)
        .filter(due_date__lte=horizon)
        .select_related("agreement")
        .order_by("due_date")[:20]
    ]
    expiries = [
        Deadline(a, a.effective_to, "Expires", (a.effective_to - today).days)
        for a in Agreement.objects.visible_to(user)
        .filter(
            status__in=MONITORED_STATES,
            effective_to__gte=today,
            effective_to__lte=today + timedelta(days=EXPIRY_DAYS),
        )
        .order_by("effective_to")[:20]
    ]
    problems = list(pending_problems()[:DELIVERY_PROBLEMS]) if user.is_provider else []
    return ProviderDashboard(
        agreements=lights,
        open_breaches=breach_rows(open_breach_list),
        open_breach_count=breaches.count(),
        tickets_at_risk=at_risk,
        tickets_at_risk_count=at_risk_timers.count(),
        stages=stages,
        reviews=reviews,
        expiries=expiries,
        delivery_problems=problems,
        rag_counts=Counter(t.state.rag for light in lights for t in light.targets),
    )


# --- The agreement-status panel -------------------------------------------------------------------


@dataclass
class AgreementOverview:
    """The lifecycle stage and current compliance of one agreement (the agreement page's panel)."""

    agreement: Agreement
    monitored: bool
    targets: list[TargetPanel]
    open_breaches: int
    latest_review: Review | None


def agreement_overview(
    agreement: Agreement, user: User, now: datetime | None = None
) -> AgreementOverview:
    """Stage, current compliance per target and open breaches of one agreement, as ``user``
    may see them (a customer of another organisation gets nothing)."""
    now = now or timezone.now()
    rows = PeriodResult.objects.visible_to(user).filter(
        agreement_id=agreement.pk, period_start__lte=now, period_end__gt=now
    )
    targets = sorted((_panel(row, [row]) for row in rows), key=_target_order)
    open_breaches = (
        Breach.objects.visible_to(user)
        .filter(agreement_id=agreement.pk, closed_at__isnull=True, withdrawn_at__isnull=True)
        .count()
    )
    latest_review = (
        Review.objects.visible_to(user)
        .filter(agreement_id=agreement.pk)
        .order_by("-due_date")
        .first()
    )
    monitored = agreement.status in MONITORED_STATES and agreement.in_force_version_id is not None
    return AgreementOverview(
        agreement=agreement,
        monitored=monitored,
        targets=targets,
        open_breaches=open_breaches,
        latest_review=latest_review,
    )


# --- Reports ----------------------------------------------------------------------------------


def reports_visible_to(user: User) -> QuerySet[Report]:
    """Reports the user may see: provider staff every report, drafts under review included;
    a customer only its own organisation's *issued* reports (a draft is the provider's work
    in progress and answers 404 like a report that does not exist)."""
    reports = Report.objects.visible_to(user)
    if not user.is_provider:
        reports = reports.filter(status=Report.Status.ISSUED)
    return reports
