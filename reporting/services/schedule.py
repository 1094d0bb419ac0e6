"""When reports are due: the report's month and zone, the results it takes, the review window.

A report covers one calendar month in the zone of the support calendar the signed version
names (UTC when it names none). It takes every closed ``PeriodResult`` of the agreement whose
period ends at that month's end: every monthly target each month, quarterly targets in March,
June, September and December, yearly ones in December. A result "ends in" month M when
``period_end - 1 day`` (in UTC) lies in M; a period end is midnight in its target's own zone,
at most 14 hours from UTC, so this holds for targets in any zone.

Reports start with the month monitoring started: the later of the agreement's effective date
and the day it was put in force (``activated_at``, in the report's zone). A month is due once
all its results are closed and every target of their version has one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet

from agreements.models import Agreement
from agreements.terms import terms_from_snapshot
from monitoring.models import PeriodResult

# A first run for an agreement in force for years reports at most this many months.
MAX_BACKFILL_MONTHS = 120

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The month in ``zone`` as aware UTC datetimes ``[start, end)``."""
    tz = ZoneInfo(zone)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end_month = next_month(month)
    end = datetime(end_month.year, end_month.month, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def result_month(period_end: datetime) -> date:
    """The month a period result is reported in (see the module docstring)."""
    return month_start((period_end.astimezone(UTC) - timedelta(days=1)).date())


def _results_window(month: date) -> tuple[datetime, datetime]:
    """``period_end`` range of the results reported in ``month``."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC) + timedelta(days=1)
    end_month = next_month(month)
    end = datetime(end_month.year, end_month.month, 1, tzinfo=UTC) + timedelta(days=1)
    return start, end


def report_zone(snapshot: dict) -> str:
    """The zone of the support calendar the version names, else UTC."""
    name = snapshot.get("sections", {}).get("support", {}).get("fields", {}).get("support_calendar")
    for calendar in snapshot.get("calendars", []):
        if name and calendar.get("name") == name and calendar.get("timezone"):
            return calendar["timezone"]
    return "UTC"


def _ends_in(period: str, month: date) -> bool:
    return month.month % PERIOD_MONTHS.get(period, 1) == 0


def review_window() -> timedelta:
    """How long a draft waits for the provider's review before it is issued automatically."""
    return timedelta(days=settings.REPORT_REVIEW_DAYS)


def first_report_month(agreement: Agreement) -> date:
    """The month monitoring started: the later of the effective date and the day the
    agreement was put in force, in the zone of the version in force."""
    start = agreement.effective_from or date.min
    if agreement.activated_at is not None:
        version = agreement.in_force_version
        zone = report_zone(version.snapshot) if version is not None else "UTC"
        start = max(start, agreement.activated_at.astimezone(ZoneInfo(zone)).date())
    return month_start(start)


def due_months(agreement: Agreement, now: datetime) -> list[date]:
    """Months of ``agreement`` not reported yet whose results are all closed, oldest first,
    from the month monitoring started (``first_report_month``)."""
    last = agreement.reports.order_by("-month").values_list("month", flat=True).first()
    start = first_report_month(agreement)
    first = max(next_month(last), start) if last else start
    results = PeriodResult.objects.filter(
        agreement=agreement, period_end__gte=_results_window(first)[0]
    )
    ends = results.values_list("period_end", flat=True).distinct()
    candidates = sorted({result_month(end) for end in ends})
    due = []
    for month in [m for m in candidates if m >= first]:
        # Strictly in order: a month that is not due yet holds back the later ones, so a
        # report is never skipped over and left behind.
        if len(due) >= MAX_BACKFILL_MONTHS or not month_is_due(agreement, month, now):
            break
        due.append(month)
    return due


def month_results(agreement: Agreement, month: date) -> QuerySet[PeriodResult]:
    """The results reported in ``agreement``'s report of ``month``."""
    low, high = _results_window(month)
    return PeriodResult.objects.filter(
        agreement=agreement, period_end__gte=low, period_end__lt=high
    ).select_related("version")


def month_is_due(agreement: Agreement, month: date, now: datetime) -> bool:
    """Whether the report of ``month`` can be drafted: all its results closed, the month over."""
    results = list(month_results(agreement, month))
    # A CSAT period stays open for its late ratings for weeks after its end
    # (``monitoring.experience.measure.CSAT_GRACE``): the report does not wait for it and
    # shows that figure as it stands, not final (docs/experience.md).
    if not results or any(r.closed_at is None and r.metric != "csat" for r in results):
        return False
    version = max((r.version for r in results), key=lambda v: v.number)
    if now < month_bounds(month, report_zone(version.snapshot))[1]:
        return False
    expected = {
        t.key
        for t in terms_from_snapshot(version.pk, version.snapshot).targets
        if _ends_in(t.period, month)
    }
    return expected <= {r.target_key for r in results}
