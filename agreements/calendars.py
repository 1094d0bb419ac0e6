"""Calendars as the business-time clock sees them, public holidays, the preview, and the
calendar each target is measured in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agreements.clock import BusinessCalendar
from agreements.models import Agreement, Calendar, Target, Tier, TierTarget
from agreements.public_holidays import public_holidays, years_around
from agreements.sections import SECTIONS_BY_KEY, Section, calendar_section_for


def holidays_with_names(calendar: Calendar, today: date | None = None) -> dict[date, str]:
    """Every local date of the calendar on which no interval counts, with its reason."""
    today = today or date.today()
    closed = dict(
        public_holidays(calendar.holiday_country, calendar.holiday_subdivision, years_around(today))
    )
    for closure in calendar.closures.all():
        closed[closure.date] = closure.reason or "Closure"
    return closed


def business_calendar(calendar: Calendar | None, today: date | None = None) -> BusinessCalendar:
    """The clock for a stored calendar (24x7 UTC when there is none)."""
    if calendar is None:
        return BusinessCalendar.always()
    if calendar.is_24x7:
        weekly = {day: [(time(0), time(0))] for day in range(7)}
        return BusinessCalendar(timezone=calendar.timezone, weekly_hours=weekly, holidays=set())
    weekly: dict[int, list[tuple[time, time]]] = {}
    for hours in calendar.hours.all():
        weekly.setdefault(hours.weekday, []).append((hours.start, hours.end))
    return BusinessCalendar(
        timezone=calendar.timezone,
        weekly_hours=weekly,
        holidays=set(holidays_with_names(calendar, today)),
    )


@dataclass(frozen=True)
class PreviewDay:
    day: date
    periods: list[tuple[datetime, datetime]]  # local start and end
    closed_reason: str

    @property
    def business_hours(self) -> float:
        return sum((end - start).total_seconds() for start, end in self.periods) / 3600


def preview(calendar: Calendar, start: datetime, days: int = 14) -> list[PreviewDay]:
    """The coming business periods, day by day in the calendar's own zone, so a person can
    check the calendar does what they meant (holidays and closures named)."""
    zone = ZoneInfo(calendar.timezone)
    clock = business_calendar(calendar, today=start.date())
    closed = {} if calendar.is_24x7 else holidays_with_names(calendar, today=start.date())
    first = start.astimezone(zone).date()
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_start = datetime.combine(day, time(0), tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        periods = [
            (a.astimezone(zone), b.astimezone(zone)) for a, b in clock.intervals(day_start, day_end)
        ]
        result.append(PreviewDay(day=day, periods=periods, closed_reason=closed.get(day, "")))
    return result


# --- Calendars of targets ------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCalendar:
    """The calendar a target is measured in, and where it comes from."""

    calendar: Calendar | None  # None: no calendar anywhere, the clock runs 24x7
    own: bool  # the target names its own calendar
    section: Section | None  # the section whose calendar the target would inherit
    section_calendar: Calendar | None

    @property
    def name(self) -> str:
        return self.calendar.name if self.calendar is not None else "24x7"

    @property
    def disagrees(self) -> bool:
        """The target names a calendar other than the one its section gives."""
        return (
            self.own
            and self.section_calendar is not None
            and self.calendar is not None
            and self.calendar.pk != self.section_calendar.pk
        )

    @property
    def short_source(self) -> str:
        if self.own:
            return "own calendar"
        if self.section is not None:
            return f"section {self.section.number}"
        return "none chosen in sections 2 or 4"

    @property
    def source(self) -> str:
        if self.own:
            return "own calendar"
        if self.section is not None:
            return f"from section {self.section.number}, {self.section.title}"
        return "no calendar chosen in sections 2 or 4"


def chosen_calendars(agreement: Agreement) -> dict[str, Calendar | None]:
    """The calendar each calendar section chose. With several service-hours calendars the
    targets inherit the first by name (a target names its own to use another)."""
    # Sorted here, not in SQL, so prefetched calendars cost no query.
    service = sorted(agreement.service_calendars.all(), key=lambda c: (c.name, c.pk))
    return {"hours": service[0] if service else None, "support": agreement.support_calendar}


def tier_chosen_calendars(tier: Tier) -> dict[str, Calendar | None]:
    return {"hours": tier.service_calendar, "support": tier.support_calendar}


def target_calendar(
    target: Target | TierTarget, chosen: dict[str, Calendar | None], metric: str = ""
) -> TargetCalendar:
    """The effective calendar of ``target``: its own, else its section's (see
    :func:`agreements.sections.calendar_section_for`), else 24x7. ``metric`` stands in for a
    new row's metric that is not chosen yet."""
    key = calendar_section_for(metric or target.metric, chosen) if metric or target.metric else None
    section = SECTIONS_BY_KEY[key] if key else None
    inherited = chosen.get(key) if key else None
    if target.calendar_id:
        return TargetCalendar(target.calendar, True, section, inherited)
    return TargetCalendar(inherited, False, section, inherited)
