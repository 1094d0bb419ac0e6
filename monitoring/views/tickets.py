"""Pages reading ingested data: the tickets list, one ticket's timeline and a service's
check history.

Views stay thin: login, a selector scoped to ``request.user``, a django-filter FilterSet,
a paginator, a template. Rows of other customers are never loaded, so asking for one
answers 404 exactly like asking for a row that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from agreements.calendars import business_calendar
from monitoring.filters.tickets import CheckHistoryFilter, TicketListFilter
from monitoring.models import MaintenanceWindow, Outage, Ticket
from monitoring.presentation import timer_rows
from monitoring.selectors.evaluation import ticket_timers
from monitoring.selectors.ingest import (
    maintenance_visible_to,
    outages_visible_to,
    services_with_checks_visible_to,
    ticket_timeline,
    tickets_with_paused_time,
    uptime_checks_visible_to,
    uptime_summary,
)

PAGE_SIZE = 50
NBSP = "\u00a0"
DASH = "\u2013"
# Rows of outages and maintenance windows listed for a date range; more say "and n more".
PERIOD_LIMIT = 100
# Periods of one kind closer than this (percent of a timeline bar) share one labelled segment.
MERGE_GAP = 2.5
# States are never colour alone: an icon and the word go with each (see portal.css .state).
TICKET_STATE_STYLE = {
    Ticket.State.OPEN: ("state-warn", "bi-hourglass-split"),
    Ticket.State.RESOLVED: ("state-ok", "bi-check-circle"),
    Ticket.State.CLOSED: ("text-body-secondary", "bi-archive"),
}
CHECK_STATUS_STYLE = {
    "up": ("state-ok", "bi-check-circle-fill"),
    "down": ("state-bad", "bi-x-octagon-fill"),
    "maintenance": ("state-warn", "bi-tools"),
}


# --- Presentation helpers (plain values in, plain values out)


def humane_duration(value: timedelta | float | None) -> str:
    """A duration as people say it: '45 min', '3 h 5 min', '2 days 4 h'; under a minute
    reads '< 1 min'. Accepts a timedelta or seconds; ``None`` reads '—'."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        return f"0{NBSP}min"
    if seconds < 60:
        return f"<{NBSP}1{NBSP}min"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}{NBSP}day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours}{NBSP}h")
    if minutes and not days:
        parts.append(f"{minutes}{NBSP}min")
    return " ".join(parts) or f"0{NBSP}min"


@dataclass(frozen=True)
class TimelineEvent:
    """One line of a ticket's timeline."""

    at: datetime
    label: str
    icon: str
    notes: tuple[str, ...] = ()


def ticket_events(ticket: Ticket) -> list[TimelineEvent]:
    """Opened, each raw status change, first response, resolved and closed, in time order.

    Needs ``status_changes`` prefetched."""
    events = [TimelineEvent(ticket.opened_at, "Opened", "bi-box-arrow-in-right")]
    for change in ticket.status_changes.all():
        notes = []
        if change.pauses_clock:
            notes.append("clock paused")
        if change.resolves:
            notes.append("resolves")
        events.append(
            TimelineEvent(change.at, f"Status: {change.status}", "bi-arrow-right", tuple(notes))
        )
    for at, label, icon in (
        (ticket.first_response_at, "First response", "bi-reply"),
        (ticket.resolved_at, "Resolved", "bi-check-circle"),
        (ticket.closed_at, "Closed", "bi-archive"),
    ):
        if at is not None:
            events.append(TimelineEvent(at, label, icon))
    # Sorting is stable: at the same instant "Opened" stays first and facts follow changes.
    return sorted(events, key=lambda event: event.at)


@dataclass(frozen=True)
class Segment:
    """A period drawn on a timeline bar, positioned in percent of the bar."""

    kind: str  # "outage" or "maintenance"
    key: str  # short visible label: O1, M1, or O1-O3 for periods too close to tell apart
    text: str  # the period(s) in words
    left: float
    width: float

    @property
    def right(self) -> float:
        """Distance from the bar's right edge; near it, the segment is anchored there so a
        short period's minimum width grows into the bar instead of past its end."""
        return round(max(100 - self.left - self.width, 0), 3)

    @property
    def anchor_right(self) -> bool:
        return self.left + self.width > 90


@dataclass(frozen=True)
class TimelineBar:
    title: str
    start: datetime
    end: datetime
    segments: list[Segment]


def timeline_bar(
    title: str,
    start: datetime,
    end: datetime,
    outages: list[tuple[datetime, datetime | None]],
    maintenance: list[tuple[datetime, datetime]],
) -> TimelineBar:
    """Outage and maintenance periods clipped to ``[start, end)`` as segments of a bar.

    An outage without an end lasts until ``end`` (it is ongoing)."""
    span = (end - start).total_seconds()
    segments: list[Segment] = []
    for kind, prefix, periods in (("outage", "O", outages), ("maintenance", "M", maintenance)):
        number = 0
        for period_start, period_end in sorted(periods, key=lambda period: period[0]):
            clipped_end = min(period_end or end, end)
            clipped_start = max(period_start, start)
            if clipped_end <= clipped_start:
                continue
            number += 1
            left = (clipped_start - start).total_seconds() / span * 100
            width = (clipped_end - clipped_start).total_seconds() / span * 100
            until = "ongoing" if period_end is None else f"{timezone.localtime(period_end):%H:%M}"
            text = (
                f"{'Outage' if kind == 'outage' else 'Maintenance'} "
                f"{timezone.localtime(period_start):%d %b %H:%M}{DASH}{until}"
            )
            previous = segments[-1] if segments and segments[-1].kind == kind else None
            if previous and left <= previous.left + previous.width + MERGE_GAP:
                # Too close to label apart at this scale: one segment names both.
                first_key = previous.key.split(DASH)[0]
                segments[-1] = Segment(
                    kind=kind,
                    key=f"{first_key}{DASH}{prefix}{number}",
                    text=f"{previous.text}; {text}",
                    left=previous.left,
                    width=round(
                        max(previous.left + previous.width, left + width) - previous.left, 3
                    ),
                )
                continue
            segments.append(
                Segment(kind, f"{prefix}{number}", text, round(left, 3), round(width, 3))
            )
    return TimelineBar(title, start, end, segments)


def _day_start(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time(0)))


def _overlapping(
    queryset: QuerySet,
    start_field: str,
    end_field: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> QuerySet:
    """Rows whose period overlaps ``[start, end)``; a missing bound is open, and a period
    without an end (an ongoing outage) lasts until ``now``, not into the future."""
    if end is not None:
        queryset = queryset.filter(**{f"{start_field}__lt": end})
    if start is not None:
        ended_after = Q(**{f"{end_field}__gt": start})
        if start < now:
            ended_after |= Q(**{f"{end_field}__isnull": True})
        queryset = queryset.filter(ended_after)
    return queryset


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- Tickets


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    """Tickets the user may see, newest first, filterable and paginated."""
    filterset = TicketListFilter(
        request.GET, queryset=tickets_with_paused_time(request.user), request=request
    )
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "ticket": ticket,
            "paused": humane_duration(ticket.paused_time) if ticket.paused_time else "—",
            "state_class": TICKET_STATE_STYLE[ticket.state][0],
            "state_icon": TICKET_STATE_STYLE[ticket.state][1],
        }
        for ticket in page
    ]
    return render(
        request,
        "monitoring/ticket_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": rows,
            "query": _query_without_page(request),
            "filtered": any(value for key, value in request.GET.items() if key != "page"),
        },
    )


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A ticket's facts, its timers (the time targets measured on it), its timeline of status
    changes, its pauses and, with a support calendar on its agreement, the business time
    elapsed to resolution."""
    ticket = get_object_or_404(ticket_timeline(request.user), pk=pk)
    now = timezone.now()
    pauses = [
        {
            "pause": pause,
            "duration": humane_duration((pause.end or now) - pause.start),
        }
        for pause in ticket.pauses.all()
    ]
    end = max(ticket.resolved_at or now, ticket.opened_at)
    calendar = ticket.agreement.support_calendar if ticket.agreement else None
    business = None
    if calendar is not None:
        seconds = business_calendar(calendar).business_seconds(
            ticket.opened_at,
            end,
            pauses=[(pause.start, pause.end or now) for pause in ticket.pauses.all()],
        )
        business = {"calendar": calendar, "text": humane_duration(seconds), "seconds": seconds}
    state_class, state_icon = TICKET_STATE_STYLE[ticket.state]
    timers = timer_rows(list(ticket_timers(request.user, ticket)))
    return render(
        request,
        "monitoring/ticket_detail.html",
        {
            "ticket": ticket,
            "state_class": state_class,
            "state_icon": state_icon,
            "events": ticket_events(ticket),
            "pauses": pauses,
            "paused_total": humane_duration(
                sum(((p["pause"].end or now) - p["pause"].start for p in pauses), timedelta())
            ),
            "elapsed": humane_duration(end - ticket.opened_at),
            "business": business,
            "timers": timers,
        },
    )


# --- Check history


@login_required
def service_checks(request: HttpRequest, pk: int) -> HttpResponse:
    """A service's check results (filtered by status and dates, newest first), a summary of
    the selected range with its outages and maintenance, and bars of the last 24 h and 7 days."""
    service = get_object_or_404(services_with_checks_visible_to(request.user), pk=pk)
    # Several customers' sources may report one service; the provider sees whose each row is
    # (a customer sees only its own and the provider's shared ones: monitoring.models.ownership).
    show_source = request.user.is_provider
    checks = uptime_checks_visible_to(request.user).filter(service=service)
    if show_source:
        checks = checks.select_related("source")
    filterset = CheckHistoryFilter(request.GET, queryset=checks)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    summary = uptime_summary(filterset.qs)

    now = timezone.now()
    cleaned = filterset.form.cleaned_data if filterset.form.is_valid() else {}
    range_start = _day_start(cleaned.get("checked_from"))
    last_day = cleaned.get("checked_to")
    range_end = _day_start(last_day + timedelta(days=1)) if last_day else None
    outages = outages_visible_to(request.user).filter(service=service).select_related("source")
    maintenance = (
        maintenance_visible_to(request.user).filter(service=service).select_related("source")
    )
    range_outages = list(
        _overlapping(outages, "started_at", "ended_at", range_start, range_end, now)[:PERIOD_LIMIT]
    )
    range_maintenance = list(
        _overlapping(maintenance, "starts_at", "ends_at", range_start, range_end, now)[
            :PERIOD_LIMIT
        ]
    )

    week_ago = now - timedelta(days=7)
    recent_outages: list[Outage] = list(
        _overlapping(outages, "started_at", "ended_at", week_ago, now, now)
    )
    recent_maintenance: list[MaintenanceWindow] = list(
        _overlapping(maintenance, "starts_at", "ends_at", week_ago, now, now)
    )
    outage_periods = [(o.started_at, o.ended_at) for o in recent_outages]
    maintenance_periods = [(m.starts_at, m.ends_at) for m in recent_maintenance]
    bars = [
        timeline_bar(
            "Last 24 hours", now - timedelta(hours=24), now, outage_periods, maintenance_periods
        ),
        timeline_bar("Last 7 days", week_ago, now, outage_periods, maintenance_periods),
    ]
    rows = [
        {
            "check": check,
            "class": CHECK_STATUS_STYLE[check.status][0],
            "icon": CHECK_STATUS_STYLE[check.status][1],
        }
        for check in page
    ]
    share_up = round(summary["up"] / summary["total"] * 100, 2) if summary["total"] else None
    return render(
        request,
        "monitoring/service_checks.html",
        {
            "service": service,
            "show_source": show_source,
            "filter": filterset,
            "page": page,
            "rows": rows,
            "summary": summary,
            "share_up": share_up,
            "range_start": range_start,
            "range_last_day": last_day,
            "outages": [
                {
                    "outage": outage,
                    "duration": humane_duration((outage.ended_at or now) - outage.started_at),
                }
                for outage in range_outages
            ],
            "maintenance": [
                {"window": window, "duration": humane_duration(window.ends_at - window.starts_at)}
                for window in range_maintenance
            ],
            "period_limit": PERIOD_LIMIT,
            "bars": bars,
            "query": _query_without_page(request),
        },
    )
