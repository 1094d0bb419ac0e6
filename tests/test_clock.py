"""Tests for the business-time clock (``agreements.clock``).

The clock is pure Python, so these tests need neither Django nor a database.  Hand-computed
examples pin the documented semantics; property-based tests compare the implementation
with a deliberately naive reference that enumerates local dates and elementary segments.
"""

from __future__ import annotations

import itertools
import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agreements.clock import BusinessCalendar, time_account

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
US = timedelta(microseconds=1)

WEEKDAYS_9_TO_17 = {day: [(time(9), time(17))] for day in range(5)}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def in_zone(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


@pytest.fixture
def office() -> BusinessCalendar:
    """Mon-Fri 09:00-17:00 in Berlin with Christmas 2026 off."""
    return BusinessCalendar(
        timezone="Europe/Berlin",
        weekly_hours=WEEKDAYS_9_TO_17,
        holidays={date(2026, 12, 25), date(2026, 12, 26)},
    )


def every_day(*spans: tuple[time, time]) -> dict[int, list[tuple[time, time]]]:
    return {day: list(spans) for day in range(7)}


# -- hand-computed examples: office hours -------------------------------------------------


class TestOfficeHours:
    def test_friday_afternoon_ticket_is_due_monday_morning(self, office):
        # 2026-03-06 is a Friday: 30 minutes on Friday, 30 minutes on Monday.
        due = office.deadline(berlin(2026, 3, 6, 16, 30), HOUR)
        assert due == berlin(2026, 3, 9, 9, 30)
        assert due.tzinfo is UTC

    def test_clock_running_out_at_closing_time_is_due_at_closing_time(self, office):
        assert office.deadline(berlin(2026, 3, 6, 16), HOUR) == berlin(2026, 3, 6, 17)
        assert office.deadline(berlin(2026, 3, 6, 9), 8 * HOUR) == berlin(2026, 3, 6, 17)

    def test_full_business_day_target_from_opening(self, office):
        # Opened Monday 09:00 with 16h: Monday and Tuesday, due Tuesday 17:00.
        assert office.deadline(berlin(2026, 3, 2, 9), 16 * HOUR) == berlin(2026, 3, 3, 17)

    def test_ticket_opened_outside_hours_starts_at_next_opening(self, office):
        assert office.deadline(berlin(2026, 3, 6, 20), HOUR) == berlin(2026, 3, 9, 10)
        assert office.deadline(berlin(2026, 3, 7, 12), HOUR) == berlin(2026, 3, 9, 10)
        assert office.deadline(berlin(2026, 3, 9, 6), HOUR) == berlin(2026, 3, 9, 10)

    def test_zero_target_is_due_immediately_in_utc(self, office):
        start = berlin(2026, 3, 7, 12)
        due = office.deadline(start, 0)
        assert due == start
        assert due.tzinfo is UTC

    @pytest.mark.parametrize(
        ("start", "end", "hours"),
        [
            (berlin(2026, 3, 9, 10), berlin(2026, 3, 9, 12), 2),
            (berlin(2026, 3, 9, 7), berlin(2026, 3, 9, 10), 1),
            (berlin(2026, 3, 9, 16), berlin(2026, 3, 9, 20), 1),
            (berlin(2026, 3, 9, 7), berlin(2026, 3, 9, 20), 8),
            (berlin(2026, 3, 9, 17), berlin(2026, 3, 10, 9), 0),
            (berlin(2026, 3, 7, 0), berlin(2026, 3, 9, 0), 0),
            (berlin(2026, 3, 6, 16), berlin(2026, 3, 9, 10), 2),
            (berlin(2026, 3, 2, 0), berlin(2026, 3, 9, 0), 40),
            (berlin(2026, 3, 2, 9), berlin(2026, 3, 30, 9), 160),
        ],
    )
    def test_business_seconds(self, office, start, end, hours):
        assert office.business_seconds(start, end) == hours * HOUR

    def test_start_and_end_in_other_zones_are_the_same_instants(self, office):
        start = datetime(2026, 3, 9, 8, tzinfo=UTC)  # 09:00 in Berlin
        end = in_zone("America/New_York", 2026, 3, 9, 6)  # 11:00 in Berlin (NY is on EDT)
        assert office.business_seconds(start, end) == 2 * HOUR

    def test_equal_bounds_give_zero(self, office):
        instant = berlin(2026, 3, 9, 10)
        assert office.business_seconds(instant, instant) == 0.0

    def test_start_after_end_is_rejected(self, office):
        with pytest.raises(ValueError, match="after end"):
            office.business_seconds(berlin(2026, 3, 9, 11), berlin(2026, 3, 9, 10))

    def test_result_is_a_float_and_exact_duration_is_available(self, office):
        start = berlin(2026, 3, 9, 10, 0, 0, 1)
        value = office.business_seconds(start, berlin(2026, 3, 9, 11))
        assert isinstance(value, float)
        assert value == 3599.999999
        assert office.business_duration(start, berlin(2026, 3, 9, 11)) == timedelta(
            seconds=3599, microseconds=999999
        )

    def test_meeting_and_breaching_a_target(self, office):
        start = berlin(2026, 3, 6, 16, 30)
        due = office.deadline(start, HOUR)
        assert office.business_seconds(start, due) <= HOUR
        assert office.business_seconds(start, due + US) > HOUR
        assert office.business_seconds(start, due - US) < HOUR

    def test_closing_time_deadline_is_met_until_next_opening(self, office):
        start = berlin(2026, 3, 6, 16)  # Friday
        due = office.deadline(start, HOUR)
        assert due == berlin(2026, 3, 6, 17)
        assert office.business_seconds(start, berlin(2026, 3, 9, 9)) <= HOUR
        assert office.business_seconds(start, berlin(2026, 3, 9, 9) + US) > HOUR
        assert office.next_business_start(due) == berlin(2026, 3, 9, 9)


class TestHolidays:
    def test_holidays_are_skipped(self, office):
        # Thursday 2026-12-24 16:00 + 2h: 1h on Thursday, Fri 25 holiday, Mon 28 at 10:00.
        assert office.deadline(berlin(2026, 12, 24, 16), 2 * HOUR) == berlin(2026, 12, 28, 10)
        assert office.business_seconds(berlin(2026, 12, 24), berlin(2026, 12, 29)) == 16 * HOUR

    def test_holiday_on_a_day_without_hours_changes_nothing(self, office):
        # 2026-12-26 is a Saturday.
        plain = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17, {date(2026, 12, 25)})
        span = (berlin(2026, 12, 20), berlin(2027, 1, 3))
        assert office.business_seconds(*span) == plain.business_seconds(*span)

    def test_holiday_is_a_local_date(self):
        # 24x7 in Tokyo with 2026-05-04 off: the holiday is 2026-05-03 15:00Z to 05-04 15:00Z.
        cal = BusinessCalendar("Asia/Tokyo", every_day((time(0), time(0))), {date(2026, 5, 4)})
        start = datetime(2026, 5, 3, 12, tzinfo=UTC)
        assert cal.business_seconds(start, start + timedelta(days=2)) == 24 * HOUR
        assert cal.intervals(start, start + timedelta(days=2)) == [
            (start, datetime(2026, 5, 3, 15, tzinfo=UTC)),
            (datetime(2026, 5, 4, 15, tzinfo=UTC), start + timedelta(days=2)),
        ]

    def test_calendar_of_only_holidays_gives_up(self):
        days = {date(2026, 1, 1) + timedelta(days=i) for i in range(12 * 366)}
        cal = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17, days)
        with pytest.raises(ValueError, match="ten years"):
            cal.deadline(berlin(2026, 1, 1), HOUR)
        with pytest.raises(ValueError, match="ten years"):
            cal.next_business_start(berlin(2026, 1, 1))
        # Business time resumes after the holidays end, within the horizon from a later start.
        assert cal.deadline(berlin(2036, 1, 1), HOUR) > berlin(2038, 1, 1)

    def test_rejects_datetimes_as_holidays(self):
        with pytest.raises(ValueError, match="holidays must be dates"):
            BusinessCalendar("UTC", WEEKDAYS_9_TO_17, {datetime(2026, 12, 25)})


class TestSchedules:
    def test_split_day(self):
        cal = BusinessCalendar(
            "Europe/Berlin", {d: [(time(8), time(12)), (time(13), time(17))] for d in range(5)}
        )
        assert cal.business_seconds(berlin(2026, 3, 9), berlin(2026, 3, 10)) == 8 * HOUR
        assert cal.business_seconds(berlin(2026, 3, 9, 11), berlin(2026, 3, 9, 14)) == 2 * HOUR
        assert cal.deadline(berlin(2026, 3, 9, 11, 30), HOUR) == berlin(2026, 3, 9, 13, 30)
        # Running out at the start of lunch is due at 12:00, not 13:00.
        assert cal.deadline(berlin(2026, 3, 9, 11), HOUR) == berlin(2026, 3, 9, 12)
        assert cal.deadline(berlin(2026, 3, 9, 12, 15), HOUR) == berlin(2026, 3, 9, 14)
        assert not cal.is_business_time(berlin(2026, 3, 9, 12))
        assert cal.is_business_time(berlin(2026, 3, 9, 13))
        assert cal.next_business_start(berlin(2026, 3, 9, 12, 30)) == berlin(2026, 3, 9, 13)

    def test_overlapping_and_touching_intervals_are_merged(self):
        messy = BusinessCalendar(
            "Europe/Berlin",
            {
                d: [
                    (time(14), time(17)),
                    (time(9), time(12)),
                    (time(11), time(14)),
                    (time(10), time(11)),
                ]
                for d in range(5)
            },
        )
        plain = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17)
        assert messy == plain
        assert hash(messy) == hash(plain)
        start = berlin(2026, 3, 2)
        assert messy.intervals(start, start + timedelta(days=1)) == [
            (berlin(2026, 3, 2, 9), berlin(2026, 3, 2, 17))
        ]

    def test_until_midnight(self):
        cal = BusinessCalendar("Europe/Berlin", {0: [(time(18), time(0))]})
        monday = berlin(2026, 3, 9)
        assert cal.intervals(monday, monday + timedelta(days=7)) == [
            (berlin(2026, 3, 9, 18), berlin(2026, 3, 10))
        ]

    def test_overnight_shift(self):
        cal = BusinessCalendar("Europe/Berlin", {d: [(time(22), time(6))] for d in range(5)})
        # Monday 23:00 to Tuesday 07:00: 23-06 = 7h.
        assert cal.business_seconds(berlin(2026, 3, 9, 23), berlin(2026, 3, 10, 7)) == 7 * HOUR
        # Friday's shift runs into Saturday morning; Sunday evening has no shift.
        assert cal.business_seconds(berlin(2026, 3, 13, 12), berlin(2026, 3, 16, 12)) == 8 * HOUR
        assert cal.deadline(berlin(2026, 3, 14, 5), 2 * HOUR) == berlin(2026, 3, 16, 23)
        assert cal.deadline(berlin(2026, 3, 10, 5), HOUR) == berlin(2026, 3, 10, 6)
        assert cal.is_business_time(berlin(2026, 3, 14, 5, 59))
        assert not cal.is_business_time(berlin(2026, 3, 14, 6))

    def test_overnight_shift_belongs_to_the_day_it_starts(self):
        # Tuesday 2026-03-10 is a holiday: Monday's shift still runs into Tuesday morning,
        # Tuesday's own shift (into Wednesday morning) is cancelled.
        cal = BusinessCalendar(
            "Europe/Berlin", {d: [(time(22), time(6))] for d in range(5)}, {date(2026, 3, 10)}
        )
        assert cal.intervals(berlin(2026, 3, 9, 12), berlin(2026, 3, 11, 12)) == [
            (berlin(2026, 3, 9, 22), berlin(2026, 3, 10, 6))
        ]

    def test_overnight_shifts_merge_with_next_day(self):
        cal = BusinessCalendar(
            "Europe/Berlin", {0: [(time(20), time(8))], 1: [(time(6), time(10))]}
        )
        assert cal.intervals(berlin(2026, 3, 9), berlin(2026, 3, 11)) == [
            (berlin(2026, 3, 9, 20), berlin(2026, 3, 10, 10))
        ]
        assert cal.business_seconds(berlin(2026, 3, 9), berlin(2026, 3, 11)) == 14 * HOUR

    def test_equal_bounds_span_a_whole_day(self):
        cal = BusinessCalendar("UTC", {2: [(time(9), time(9))]})
        wednesday = datetime(2026, 3, 11, tzinfo=UTC)
        assert cal.intervals(wednesday, wednesday + timedelta(days=7)) == [
            (wednesday + timedelta(hours=9), wednesday + timedelta(hours=33))
        ]

    def test_seconds_and_microseconds_in_interval_bounds(self):
        cal = BusinessCalendar("UTC", {0: [(time(9, 0, 30), time(9, 0, 31, 500))]})
        monday = datetime(2026, 3, 9, tzinfo=UTC)
        assert cal.business_seconds(monday, monday + timedelta(days=1)) == 1.0005

    def test_no_business_hours(self):
        cal = BusinessCalendar("Europe/Berlin", {})
        start = berlin(2026, 3, 9)
        assert cal.business_seconds(start, start + timedelta(days=400)) == 0.0
        assert cal.intervals(start, start + timedelta(days=30)) == []
        assert cal.deadline(start, 0) == start
        with pytest.raises(ValueError, match="no business hours"):
            cal.deadline(start, 1)
        with pytest.raises(ValueError, match="no business hours"):
            cal.next_business_start(start)

    def test_weekday_with_empty_list(self):
        cal = BusinessCalendar("UTC", {0: [], 1: [(time(9), time(10))]})
        monday = datetime(2026, 3, 9, tzinfo=UTC)
        assert cal.deadline(monday, 60) == monday + timedelta(days=1, hours=9, minutes=1)


class TestAlways:
    def test_elapsed_time(self):
        cal = BusinessCalendar.always()
        assert cal.is_always
        assert cal.timezone == "UTC"
        start = berlin(2026, 3, 28, 12)
        end = berlin(2026, 3, 30, 12)  # across the spring-forward change: 47 real hours
        assert cal.business_seconds(start, end) == 47 * HOUR
        assert cal.deadline(start, 47 * HOUR) == end
        assert cal.intervals(start, end) == [(start, end)]
        assert cal.is_business_time(start)
        assert cal.next_business_start(start) == start

    def test_pauses(self):
        cal = BusinessCalendar.always()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        pauses = [
            (start + timedelta(hours=5), start + timedelta(hours=7)),
            (start + timedelta(hours=1), start + timedelta(hours=2)),
            (start + timedelta(hours=6), start + timedelta(hours=8)),
            (start - timedelta(hours=3), start + timedelta(minutes=30)),
            (start + timedelta(hours=9), start + timedelta(hours=9)),
        ]
        # Paused: 00:00-00:30, 01:00-02:00, 05:00-08:00.
        assert cal.business_seconds(start, start + timedelta(hours=10), pauses) == 5.5 * HOUR
        assert cal.deadline(start, 2 * HOUR, pauses) == start + timedelta(hours=3, minutes=30)
        assert cal.deadline(start, 4 * HOUR, pauses) == start + timedelta(hours=8, minutes=30)

    def test_24x7_in_a_zone_takes_the_fast_path(self):
        assert BusinessCalendar("Europe/Berlin", every_day((time(0), time(0)))).is_always
        assert not BusinessCalendar(
            "Europe/Berlin", every_day((time(0), time(0))), {date(2026, 1, 1)}
        ).is_always
        assert not BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17).is_always


class TestPauses:
    def test_pauses_overlapping_each_other_and_closed_hours(self, office):
        start = berlin(2026, 3, 6, 15)  # Friday
        end = berlin(2026, 3, 9, 13)  # Monday
        pauses = [
            (berlin(2026, 3, 9, 9, 30), berlin(2026, 3, 9, 11)),
            (berlin(2026, 3, 6, 16), berlin(2026, 3, 9, 10)),  # from Friday into Monday
            (berlin(2026, 3, 6, 14), berlin(2026, 3, 6, 15, 15)),  # starts before the ticket
        ]
        # Counted: Fri 15:15-16:00 and Mon 11:00-13:00.
        assert office.business_seconds(start, end, pauses) == 2.75 * HOUR
        assert office.business_seconds(start, end, reversed(pauses)) == 2.75 * HOUR
        assert office.deadline(start, 2.75 * HOUR, pauses) == end
        assert office.deadline(start, HOUR, pauses) == berlin(2026, 3, 9, 11, 15)

    def test_inverted_and_empty_pauses_are_ignored(self, office):
        start, end = berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 17)
        pauses = [(berlin(2026, 3, 9, 12), berlin(2026, 3, 9, 10)), (start, start)]
        assert office.business_seconds(start, end, pauses) == 8 * HOUR

    def test_pause_entirely_outside_the_span(self, office):
        start, end = berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 17)
        pauses = [(berlin(2026, 3, 10, 9), berlin(2026, 3, 10, 12))]
        assert office.business_seconds(start, end, pauses) == 8 * HOUR
        assert office.deadline(start, 9 * HOUR, pauses) == berlin(2026, 3, 10, 13)

    def test_ticket_opened_during_a_pause(self, office):
        start = berlin(2026, 3, 9, 10)
        pauses = [(berlin(2026, 3, 9, 8), berlin(2026, 3, 9, 12))]
        assert office.deadline(start, HOUR, pauses) == berlin(2026, 3, 9, 13)

    def test_pause_ending_where_target_runs_out(self, office):
        start = berlin(2026, 3, 9, 9)
        pauses = [(berlin(2026, 3, 9, 10), berlin(2026, 3, 9, 11))]
        # The clock reaches 1h at 10:00, before the pause starts.
        assert office.deadline(start, HOUR, pauses) == berlin(2026, 3, 9, 10)
        assert office.deadline(start, HOUR + 1, pauses) == berlin(2026, 3, 9, 11, 0, 1)

    def test_generator_pauses(self, office):
        start, end = berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 17)
        pauses = (
            (start + timedelta(hours=h), start + timedelta(hours=h, minutes=30)) for h in (1, 3)
        )
        assert office.business_seconds(start, end, pauses) == 7 * HOUR


# -- daylight saving time -----------------------------------------------------------------


class TestDaylightSaving:
    @pytest.mark.parametrize(
        ("zone", "day", "hours"),
        [
            # Europe/Berlin: 02:00 -> 03:00 on 2026-03-29, 03:00 -> 02:00 on 2026-10-25.
            ("Europe/Berlin", date(2026, 3, 29), 5),
            ("Europe/Berlin", date(2026, 10, 25), 7),
            ("Europe/Berlin", date(2026, 3, 22), 6),
            # America/New_York: 2026-03-08 and 2026-11-01 at 02:00.
            ("America/New_York", date(2026, 3, 8), 5),
            ("America/New_York", date(2026, 11, 1), 7),
            # Australia/Lord_Howe shifts by 30 minutes only.
            ("Australia/Lord_Howe", date(2026, 4, 5), 6.5),
            ("Australia/Lord_Howe", date(2026, 10, 4), 5.5),
            # Southern hemisphere: summer time ends in April, starts in October.
            ("Australia/Sydney", date(2026, 4, 5), 7),
            ("Australia/Sydney", date(2026, 10, 4), 5),
        ],
    )
    def test_night_interval_counts_real_seconds(self, zone, day, hours):
        cal = BusinessCalendar(zone, every_day((time(0), time(6))))
        start = datetime.combine(day, time(0), ZoneInfo(zone))
        end = datetime.combine(day, time(12), ZoneInfo(zone))
        assert cal.business_seconds(start, end) == hours * HOUR
        assert cal.deadline(start, hours * HOUR) == datetime.combine(day, time(6), ZoneInfo(zone))

    @pytest.mark.parametrize(
        ("zone", "day", "hours"),
        [
            ("Europe/Berlin", date(2026, 3, 29), 23),
            ("Europe/Berlin", date(2026, 10, 25), 25),
            ("America/New_York", date(2026, 3, 8), 23),
            ("America/New_York", date(2026, 11, 1), 25),
            ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),
            ("Australia/Lord_Howe", date(2026, 10, 4), 23.5),
            # America/Santiago changes at midnight: 2026-04-04 has 25 hours; on 2026-09-06 the
            # hour 00:00-01:00 does not exist, so 00:00 (fold=0) is read with the old offset
            # and becomes the same instant as the end of 2026-09-05.
            ("America/Santiago", date(2026, 4, 4), 25),
            ("America/Santiago", date(2026, 9, 5), 24),
            ("America/Santiago", date(2026, 9, 6), 23),
        ],
    )
    def test_whole_day_schedules(self, zone, day, hours):
        # Six full days a week, the day off away from ``day``: the general (non-24x7) path.
        days = range(1, 7) if day.weekday() == 6 else range(6)
        cal = BusinessCalendar(zone, {d: [(time(0), time(0))] for d in days})
        tz = ZoneInfo(zone)
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tz)
        wide = (start - timedelta(days=2), end + timedelta(days=2))
        spans = cal.intervals(*wide)
        assert cal.business_seconds(start, end) == hours * HOUR
        assert sum((b - a for a, b in spans), timedelta()) == cal.business_duration(*wide)

    def test_interval_starting_in_the_spring_gap(self):
        # 02:30 does not exist on 2026-03-29 in Berlin; fold=0 reads it with +01:00, i.e.
        # 01:30 UTC, which is 03:30 CEST.
        cal = BusinessCalendar("Europe/Berlin", {6: [(time(2, 30), time(4))]})
        day = berlin(2026, 3, 29)
        assert cal.intervals(day, day + timedelta(days=1)) == [
            (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))
        ]

    def test_interval_inside_the_spring_gap_is_empty(self):
        # 02:30 -> 01:30 UTC and 03:00 CEST -> 01:00 UTC: the end precedes the start.
        cal = BusinessCalendar("Europe/Berlin", {6: [(time(2, 30), time(3))]})
        day = berlin(2026, 3, 29)
        assert cal.intervals(day, day + timedelta(days=1)) == []
        # On an ordinary Sunday the same interval is 30 minutes long.
        assert cal.business_seconds(berlin(2026, 3, 22), berlin(2026, 3, 23)) == 1800

    def test_interval_in_the_autumn_overlap_uses_the_first_occurrence(self):
        # 02:00 on 2026-10-25 happens twice; fold=0 picks the first (CEST, 00:00 UTC).
        cal = BusinessCalendar("Europe/Berlin", {6: [(time(2), time(3))]})
        day = berlin(2026, 10, 25)
        assert cal.intervals(day, day + timedelta(days=1)) == [
            (datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC))
        ]

    def test_business_hours_around_dst_in_new_york(self):
        cal = BusinessCalendar("America/New_York", WEEKDAYS_9_TO_17)
        # Friday 2026-03-06 16:00 EST + 2h: 1h Friday, due Monday 10:00 EDT.
        due = cal.deadline(in_zone("America/New_York", 2026, 3, 6, 16), 2 * HOUR)
        assert due == in_zone("America/New_York", 2026, 3, 9, 10)
        assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)

    def test_skipped_day_in_apia(self):
        # Samoa skipped 2011-12-30 entirely.  That date's wall-clock times are read with the
        # old offset (-10:00) and coincide with those of 2011-12-31, so nothing is counted twice.
        zone = "Pacific/Apia"
        cal = BusinessCalendar(zone, {d: [(time(0), time(0))] for d in range(6)})
        start = in_zone(zone, 2011, 12, 29)
        end = in_zone(zone, 2012, 1, 1)
        assert cal.business_seconds(start, end) == 48 * HOUR
        office = BusinessCalendar(zone, every_day((time(9), time(17))))
        assert office.business_seconds(start, end) == 16 * HOUR


# -- input validation ---------------------------------------------------------------------


class TestValidation:
    def test_naive_datetimes_are_rejected(self, office):
        naive = datetime(2026, 3, 9, 10)
        aware = berlin(2026, 3, 9, 10)
        with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
            office.business_seconds(naive, aware)
        with pytest.raises(ValueError, match="end must be a timezone-aware datetime"):
            office.business_seconds(aware, naive)
        with pytest.raises(ValueError, match="pause start must be a timezone-aware"):
            office.business_seconds(aware, aware, [(naive, aware)])
        with pytest.raises(ValueError, match="naive"):
            office.deadline(naive, HOUR)
        with pytest.raises(ValueError, match="naive"):
            office.deadline(aware, HOUR, [(aware, naive)])
        with pytest.raises(ValueError, match="naive"):
            office.is_business_time(naive)
        with pytest.raises(ValueError, match="naive"):
            office.next_business_start(naive)
        with pytest.raises(ValueError, match="naive"):
            office.intervals(naive, aware)

    def test_non_datetimes_are_rejected(self, office):
        with pytest.raises(TypeError, match="must be a datetime"):
            office.business_seconds(date(2026, 3, 9), berlin(2026, 3, 10))

    @pytest.mark.parametrize("seconds", [-1, -0.5, float("nan"), float("inf"), timedelta(-1)])
    def test_invalid_targets(self, office, seconds):
        with pytest.raises(ValueError):
            office.deadline(berlin(2026, 3, 9), seconds)

    def test_target_types(self, office):
        start = berlin(2026, 3, 9, 9)
        assert office.deadline(start, timedelta(hours=1)) == berlin(2026, 3, 9, 10)
        assert office.deadline(start, 3600.0) == berlin(2026, 3, 9, 10)
        assert office.deadline(start, 0.25) == berlin(2026, 3, 9, 9, 0, 0, 250000)
        # Targets are rounded to the nearest microsecond.
        assert office.deadline(start, 4e-7) == start
        assert office.deadline(start, 6e-7) == berlin(2026, 3, 9, 9, 0, 0, 1)
        assert office.deadline(start, 0.000491) == berlin(2026, 3, 9, 9, 0, 0, 491)
        with pytest.raises(TypeError):
            office.deadline(start, "3600")

    @pytest.mark.parametrize(
        "weekly",
        [
            {7: [(time(9), time(17))]},
            {-1: [(time(9), time(17))]},
            {"monday": [(time(9), time(17))]},
            {0: [(9, 17)]},
            {0: [(time(9),)]},
            {0: [(time(9, tzinfo=UTC), time(17))]},
        ],
    )
    def test_invalid_schedules(self, weekly):
        with pytest.raises(ValueError):
            BusinessCalendar("Europe/Berlin", weekly)

    def test_unknown_zone(self):
        with pytest.raises(Exception, match="Nowhere"):
            BusinessCalendar("Nowhere/Special", WEEKDAYS_9_TO_17)

    def test_calendar_is_immutable_picklable_and_comparable(self, office):
        with pytest.raises(AttributeError):
            office.timezone = "UTC"
        with pytest.raises(AttributeError):
            office._zone = ZoneInfo("UTC")
        copy = pickle.loads(pickle.dumps(office))
        assert copy == office
        assert hash(copy) == hash(office)
        assert copy.business_seconds(berlin(2026, 12, 24), berlin(2026, 12, 29)) == 16 * HOUR
        assert office != BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17)
        assert office != BusinessCalendar("Europe/Vienna", WEEKDAYS_9_TO_17, office.holidays)
        assert "Europe/Berlin" in repr(office)
        assert office.weekly_hours[0] == ((time(9), time(17)),)
        assert office.holidays == {date(2026, 12, 25), date(2026, 12, 26)}
        assert office.zone == BERLIN

    def test_zone_objects_and_shared_caches(self, office):
        twin = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_17, office.holidays)
        assert twin == office
        span = (berlin(2026, 12, 1), berlin(2027, 1, 15))
        assert twin.business_seconds(*span) == office.business_seconds(*span)
        with pytest.raises(TypeError):
            BusinessCalendar(3600, WEEKDAYS_9_TO_17)

    def test_extreme_dates(self):
        cal = BusinessCalendar("Pacific/Kiritimati", WEEKDAYS_9_TO_17)
        late = datetime(9999, 12, 30, tzinfo=UTC)
        assert cal.business_seconds(late, datetime.max.replace(tzinfo=UTC)) >= 0
        with pytest.raises(ValueError):
            cal.deadline(late, 40 * HOUR)
        early = datetime(1, 1, 2, tzinfo=UTC)
        assert cal.business_seconds(datetime.min.replace(tzinfo=UTC), early) >= 0


# -- reference implementation and property-based tests ------------------------------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Australia/Sydney",
    "Pacific/Apia",
    "America/St_Johns",
    "Asia/Kolkata",
    "UTC",
]
# Days on which at least one of the zones above changes its UTC offset, plus plain days.
ANCHORS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2011, 12, 30),
    date(2026, 6, 15),
    date(2027, 1, 1),
    # The clock caches 128-day chunks counted from 1970-01-01; these days start new chunks.
    date(2026, 1, 27),
    date(2026, 6, 4),
]


def reference_intervals(zone, weekly, holidays, first, last):
    """Business intervals owned by local dates ``first..last``, spelled out as in the docs.

    Each weekday's schedule is merged on a one-minute grid of the local day (and the next
    day, for overnight intervals), then every run becomes two instants via zoneinfo, fold=0.
    """
    tz = ZoneInfo(zone)
    runs_by_weekday = {}
    for weekday in range(7):
        covered = [False] * (2 * 1440)
        for start, end in weekly.get(weekday, []):
            a = start.hour * 60 + start.minute
            b = end.hour * 60 + end.minute
            if b <= a:
                b += 1440
            for minute in range(a, b):
                covered[minute] = True
        runs = []
        for minute, on in enumerate(covered):
            if on and (minute == 0 or not covered[minute - 1]):
                runs.append([minute, minute + 1])
            elif on:
                runs[-1][1] = minute + 1
        runs_by_weekday[weekday] = runs
    result = []
    day = first
    while day <= last:
        if day not in holidays:
            midnight = datetime.combine(day, time(0))
            for a, b in runs_by_weekday[day.weekday()]:
                start = (midnight + timedelta(minutes=a)).replace(tzinfo=tz).astimezone(UTC)
                end = (midnight + timedelta(minutes=b)).replace(tzinfo=tz).astimezone(UTC)
                if end > start:
                    result.append((start, end))
        day += timedelta(days=1)
    return result


def reference_window(scenario, start, end):
    tz = ZoneInfo(scenario["zone"])
    first = start.astimezone(tz).date() - timedelta(days=3)
    last = end.astimezone(tz).date() + timedelta(days=3)
    return reference_intervals(
        scenario["zone"], scenario["weekly"], scenario["holidays"], first, last
    )


def reference_duration(intervals, start, end, pauses=()):
    """Measure of (union of intervals) minus (union of pauses) within [start, end).

    Cuts [start, end) at every interval and pause boundary; membership is constant on each
    elementary segment, so testing its left end is enough.
    """
    cuts = {start, end}
    for a, b in [*intervals, *pauses]:
        for point in (a, b):
            if start < point < end:
                cuts.add(point)
    cuts = sorted(cuts)
    total = timedelta()
    for left, right in itertools.pairwise(cuts):
        in_business = any(a <= left < b for a, b in intervals)
        in_pause = any(a <= left < b for a, b in pauses)
        if in_business and not in_pause:
            total += right - left
    return total


def reference_union(intervals, start, end):
    points = sorted({start, end, *(p for a, b in intervals for p in (a, b) if start < p < end)})
    union = []
    for left, right in itertools.pairwise(points):
        if any(a <= left < b for a, b in intervals):
            if union and union[-1][1] == left:
                union[-1] = (union[-1][0], right)
            else:
                union.append((left, right))
    return union


times = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
schedules = st.dictionaries(
    st.integers(0, 6), st.lists(st.tuples(times, times), max_size=3), max_size=7
)
offsets = st.one_of(
    st.integers(-4 * 1440, 4 * 1440).map(lambda m: timedelta(minutes=m)),
    st.integers(-4 * 86400, 4 * 86400).map(lambda s: timedelta(seconds=s)),
    st.integers(-4 * 86400 * 10**6, 4 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us)),
)


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(ANCHORS))
    holidays = {anchor + timedelta(days=d) for d in draw(st.sets(st.integers(-6, 6), max_size=4))}
    weekly = draw(schedules)
    base = datetime.combine(anchor, time(0), UTC)
    view = ZoneInfo(draw(st.sampled_from(["UTC", zone, "Asia/Tokyo"])))
    pauses = [
        ((base + draw(offsets)).astimezone(view), (base + draw(offsets)).astimezone(view))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return {
        "zone": zone,
        "weekly": weekly,
        "holidays": holidays,
        "calendar": BusinessCalendar(zone, weekly, holidays),
        "base": base,
        "view": view,
        "pauses": pauses,
    }


def draw_instants(data, scenario, count):
    """``count`` instants near the scenario's anchor day, ascending, shown in its view zone."""
    instants = [data.draw(offsets) + scenario["base"] for _ in range(count)]
    return [t.astimezone(scenario["view"]) for t in sorted(instants)]


def pause_union_utc(pauses):
    return [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in pauses if b > a]


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestAgainstReference:
    @PROPERTY
    @given(st.data())
    def test_business_duration_matches_reference(self, data):
        scenario = data.draw(scenarios())
        start, end = draw_instants(data, scenario, 2)
        cal = scenario["calendar"]
        intervals = reference_window(scenario, start, end)
        pauses = pause_union_utc(scenario["pauses"])
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        assert cal.business_duration(start, end) == reference_duration(intervals, s, e)
        expected = reference_duration(intervals, s, e, pauses)
        assert cal.business_duration(start, end, scenario["pauses"]) == expected
        assert cal.business_seconds(start, end, scenario["pauses"]) == expected.total_seconds()

    @PROPERTY
    @given(st.data())
    def test_intervals_match_reference(self, data):
        scenario = data.draw(scenarios())
        start, end = draw_instants(data, scenario, 2)
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        expected = reference_union(reference_window(scenario, start, end), s, e)
        got = scenario["calendar"].intervals(start, end)
        assert got == expected
        assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in got)

    @PROPERTY
    @given(st.data())
    def test_is_business_time_and_next_start_match_reference(self, data):
        scenario = data.draw(scenarios())
        (instant,) = draw_instants(data, scenario, 1)
        cal = scenario["calendar"]
        t = instant.astimezone(UTC)
        window_end = t + timedelta(days=15)
        intervals = reference_window(scenario, t, window_end)
        inside = any(a <= t < b for a, b in intervals)
        assert cal.is_business_time(instant) == inside
        later = reference_union(intervals, t, window_end)
        if later:
            assert cal.next_business_start(instant) == later[0][0]
            assert (later[0][0] == t) == inside
        elif any(scenario["weekly"].values()):
            assert cal.next_business_start(instant) >= window_end

    @PROPERTY
    @given(st.data(), st.integers(0, 3 * 86400 * 10**6), st.sampled_from([1, 10**6, 60 * 10**6]))
    def test_deadline_matches_reference(self, data, amount, unit):
        scenario = data.draw(scenarios())
        (start,) = draw_instants(data, scenario, 1)
        cal = scenario["calendar"]
        pauses = scenario["pauses"]
        need = timedelta(microseconds=amount // unit * unit)
        try:
            due = cal.deadline(start, need, pauses)
        except ValueError:
            # Any non-empty weekly schedule has business time every week, so only a calendar
            # without hours may refuse.
            assert need
            assert not any(scenario["weekly"].values())
            return
        assert due.tzinfo is UTC
        assert due >= start
        assert cal.business_duration(start, due, pauses) == need
        if due > start:
            assert cal.business_duration(start, due - US, pauses) < need
        if due - start <= timedelta(days=40):
            s = start.astimezone(UTC)
            intervals = reference_window(scenario, start, due)
            utc_pauses = pause_union_utc(pauses)
            assert reference_duration(intervals, s, due, utc_pauses) == need
            if due > start:
                assert reference_duration(intervals, s, due - US, utc_pauses) < need
        # Seconds as a float give the same instant when they are whole microseconds.
        assert cal.deadline(start, need.total_seconds(), pauses) == due


class TestProperties:
    @PROPERTY
    @given(st.data())
    def test_additivity(self, data):
        scenario = data.draw(scenarios())
        a, b, c = draw_instants(data, scenario, 3)
        cal, pauses = scenario["calendar"], scenario["pauses"]
        assert cal.business_duration(a, c, pauses) == cal.business_duration(
            a, b, pauses
        ) + cal.business_duration(b, c, pauses)

    @PROPERTY
    @given(st.data())
    def test_bounds_monotonicity_and_pauses(self, data):
        scenario = data.draw(scenarios())
        a, b, c = draw_instants(data, scenario, 3)
        cal, pauses = scenario["calendar"], scenario["pauses"]
        plain = cal.business_duration(a, c)
        paused = cal.business_duration(a, c, pauses)
        # Subtract in UTC: with a shared tzinfo, datetime subtraction ignores DST changes.
        assert timedelta() <= paused <= plain <= c.astimezone(UTC) - a.astimezone(UTC)
        assert cal.business_duration(a, b) <= plain
        assert cal.business_duration(b, c) <= plain
        assert cal.business_duration(a, c, pauses[:1]) >= paused
        assert cal.business_seconds(a, c) == plain.total_seconds()

    @PROPERTY
    @given(st.data(), st.integers(0, 2 * 86400))
    def test_round_trip(self, data, seconds):
        scenario = data.draw(scenarios())
        assume(any(scenario["weekly"].values()))
        (start,) = draw_instants(data, scenario, 1)
        cal, pauses = scenario["calendar"], scenario["pauses"]
        try:
            due = cal.deadline(start, seconds, pauses)
        except ValueError:
            assume(False)
        assert cal.business_seconds(start, due, pauses) == seconds
        # The clock never runs backwards: a later start cannot make the deadline earlier.
        later = start.astimezone(UTC) + timedelta(minutes=data.draw(st.integers(0, 600)))
        assert cal.deadline(later, seconds, pauses) >= due
        # Consuming the target in two steps lands on the same instant.
        first = data.draw(st.integers(0, seconds))
        halfway = cal.deadline(start, first, pauses)
        assert cal.deadline(halfway, seconds - first, pauses) == due

    @PROPERTY
    @given(st.data())
    def test_always_is_elapsed_time_minus_pauses(self, data):
        scenario = data.draw(scenarios())
        a, b = draw_instants(data, scenario, 2)
        pauses = scenario["pauses"]
        cal = BusinessCalendar.always()
        s, e = a.astimezone(UTC), b.astimezone(UTC)
        expected = reference_duration([(s, e)], s, e, pause_union_utc(pauses))
        assert cal.business_duration(a, b, pauses) == expected
        # The same 24x7 schedule through the general path (one holiday far away).
        general = BusinessCalendar(
            scenario["zone"], every_day((time(0), time(0))), {date(1999, 1, 1)}
        )
        assert not general.is_always
        assert general.business_duration(a, b, pauses) == expected


class TestLongSpans:
    """Spans of months and years cross many cached chunks of the clock."""

    HOLIDAYS = frozenset(
        {
            date(2026, 1, 1),
            date(2026, 4, 3),
            date(2026, 4, 6),
            date(2026, 5, 1),
            date(2026, 5, 14),
            date(2026, 5, 25),
            date(2026, 10, 3),
            date(2026, 12, 25),
            date(2026, 12, 26),
        }
    )

    def test_year_matches_reference(self):
        cal = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17, self.HOLIDAYS)
        start, end = berlin(2025, 11, 15, 13), berlin(2027, 2, 10, 11, 30)
        scenario = {"zone": "Europe/Berlin", "weekly": WEEKDAYS_9_TO_17, "holidays": self.HOLIDAYS}
        expected = reference_duration(
            reference_window(scenario, start, end), start.astimezone(UTC), end.astimezone(UTC)
        )
        assert cal.business_duration(start, end) == expected
        # 2026 has 261 weekdays; seven of the holidays above fall on one.
        assert cal.business_seconds(berlin(2026, 1, 1), berlin(2027, 1, 1)) == 254 * 8 * HOUR

    def test_year_deadline(self):
        cal = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_17, self.HOLIDAYS)
        start = berlin(2026, 1, 1)
        assert cal.deadline(start, 254 * 8 * HOUR) == berlin(2026, 12, 31, 17)
        assert cal.deadline(start, 254 * 8 * HOUR + 1) == berlin(2027, 1, 1, 9, 0, 1)

    @settings(max_examples=40, deadline=None)
    @given(
        st.sampled_from(ZONES),
        schedules.filter(lambda weekly: any(weekly.values())),
        st.integers(0, 900 * 86400),
        st.integers(0, 700 * 86400),
    )
    def test_long_spans_match_reference(self, zone, weekly, offset, length):
        start = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=offset)
        end = start + timedelta(seconds=length)
        holidays = {start.date() + timedelta(days=d) for d in range(0, length // 86400, 37)}
        cal = BusinessCalendar(zone, weekly, holidays)
        scenario = {"zone": zone, "weekly": weekly, "holidays": holidays}
        intervals = reference_window(scenario, start, end)
        elapsed = cal.business_duration(start, end)
        assert elapsed == reference_duration(intervals, start, end)
        if elapsed:
            assert cal.deadline(start, elapsed) == max(
                b for a, b in reference_union(intervals, start, end)
            )


# -- where the time went: time_account ------------------------------------------------------


class TestTimeAccount:
    def test_a_friday_ticket_splits_into_counted_paused_and_out_of_hours(self, office):
        # Opened Friday 16:00, looked at on Monday 10:00: 66 h elapsed. Business time is
        # Friday 16–17 and Monday 9–10 (2 h); a pause on Monday 9:00–9:30 (waiting on the
        # customer) takes 30 min of it out; the other 64 h are outside the office hours.
        account = time_account(
            office,
            berlin(2026, 3, 6, 16),
            berlin(2026, 3, 9, 10),
            [(berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 9, 30))],
        )
        assert account.elapsed == timedelta(hours=66)
        assert account.counted == timedelta(hours=1, minutes=30)
        assert account.paused == timedelta(minutes=30)
        assert account.outside_hours == timedelta(hours=64)

    def test_around_the_clock_nothing_falls_outside_hours(self):
        always = BusinessCalendar.always()
        start = datetime(2026, 3, 2, 10, tzinfo=UTC)
        account = time_account(
            always, start, start + timedelta(minutes=18), [(start, start + timedelta(minutes=3))]
        )
        assert (account.counted, account.paused, account.outside_hours) == (
            timedelta(minutes=15),
            timedelta(minutes=3),
            timedelta(0),
        )

    def test_start_after_end_is_refused(self, office):
        with pytest.raises(ValueError):
            time_account(office, berlin(2026, 3, 9, 10), berlin(2026, 3, 9, 9))

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        start=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
        ),
        length=st.integers(min_value=0, max_value=20 * 86_400),
        pauses=st.lists(
            st.tuples(
                st.integers(min_value=-86_400, max_value=21 * 86_400),
                st.integers(min_value=0, max_value=5 * 86_400),
            ),
            max_size=5,
        ),
    )
    def test_the_parts_add_up_to_the_time_elapsed(self, office, start, length, pauses):
        end = start + timedelta(seconds=length)
        spans = [
            (start + timedelta(seconds=a), start + timedelta(seconds=a + b)) for a, b in pauses
        ]
        account = time_account(office, start, end, spans)
        assert account.elapsed == end - start
        assert account.counted + account.paused + account.outside_hours == account.elapsed
        assert min(account.counted, account.paused, account.outside_hours) >= timedelta(0)
        assert account.counted == office.business_duration(start, end, spans)
