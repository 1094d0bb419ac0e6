"""The availability timeline of an agreement: outages and maintenance windows as spans over
the current period, from the derived rows (``Outage``, ``MaintenanceWindow``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from agreements.models import Agreement
from monitoring import staleness
from monitoring.format import duration, period_label
from monitoring.models import MaintenanceWindow, Outage, PeriodResult, Source
from reporting.selectors.targets import TargetPanel, silence_of
from sla_portal.core.models import User


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


def agreement_timelines(
    user: User, agreements: list[Agreement], panels: dict[int, list[TargetPanel]], now: datetime
) -> dict[int, Timeline]:
    """The availability timeline of each agreement (by id) over the current period of its
    availability target; an agreement without one has none."""
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
    """Whether a row of ``source`` counts for ``agreement`` (``monitoring.models.ownership``): the
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
    silent_from, _ = silence_of(row)

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
