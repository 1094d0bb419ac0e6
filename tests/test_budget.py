"""When an availability budget is crossed (``Verdict.crossings`` of
``monitoring.compliance.verdicts.availability_verdict``, the next deadline from
``monitoring.budget``): pure, no database.

Hand-computed moments pin the rule on a 24x7 calendar, on office hours with a holiday, at a
closing time and with excluded maintenance; a property test checks that each moment is
exactly where ``availability_verdict`` changes its status.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements.clock import BusinessCalendar
from monitoring.budget import WARNING, next_crossing
from monitoring.compliance.states import AT_RISK, BREACHED, MET, MISSED_TARGET
from monitoring.compliance.verdicts import Goal, availability_verdict


class Found:
    """The crossings of one period, read by level name."""

    def __init__(self, crossings: dict[str, datetime]) -> None:
        self.crossings = crossings
        self.warning = crossings.get(WARNING)
        self.missed_target = crossings.get(MISSED_TARGET)
        self.breached = crossings.get(BREACHED)

    def moment(self, level: str) -> datetime | None:
        return self.crossings.get(level)


def availability_crossings(calendar, period, outages, maintenance, cap, goal) -> Found:
    """The crossings of ``availability_verdict`` (they do not depend on ``now``)."""
    outages = list(outages)
    return Found(
        availability_verdict(calendar, period, period[0], outages, maintenance, cap, goal).crossings
    )


BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = BusinessCalendar.always()
# Office hours Monday to Friday 09:00-17:00 in Berlin; Friday 20 March 2026 is a holiday.
OFFICE = BusinessCalendar(
    "Europe/Berlin",
    {day: [(time(9), time(17))] for day in range(5)},
    holidays=[date(2026, 3, 20)],
)
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
MARCH_BERLIN = (
    datetime(2026, 3, 1, tzinfo=BERLIN).astimezone(UTC),
    datetime(2026, 4, 1, tzinfo=BERLIN).astimezone(UTC),
)
CLOSE = timedelta(microseconds=100)  # the tolerance of Goal.status, in time, is ~27 us


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def near(moment: datetime | None, expected: datetime) -> bool:
    return moment is not None and abs(moment - expected) <= CLOSE


def test_open_outage_on_a_24x7_month():
    """March has 2,678,400 s; 99.9 % allows 2,678.4 s down, the warning (75 %) 2,008.8 s and
    the threshold (99.5 %) 13,392 s. An outage open since 12:00 crosses them at 12:33:28.8,
    12:44:38.4 and 15:43:12."""
    goal = Goal(99.9, 99.5, True, 75.0)
    found = availability_crossings(ALWAYS, MARCH, [(utc(2026, 3, 10, 12), None)], [], None, goal)
    assert near(found.warning, utc(2026, 3, 10, 12, 33, 28, 800000))
    assert near(found.missed_target, utc(2026, 3, 10, 12, 44, 38, 400000))
    assert near(found.breached, utc(2026, 3, 10, 15, 43, 12))
    assert set(found.crossings) == {WARNING, MISSED_TARGET, BREACHED}


def test_earlier_downtime_in_the_period_brings_the_moments_forward():
    """A closed 30-minute outage on the 2nd used 1,800 s: the open one needs 208.8 s more
    for the warning and 878.4 s more for the target."""
    goal = Goal(99.9, 99.5, True, 75.0)
    outages = [(utc(2026, 3, 2, 8), utc(2026, 3, 2, 8, 30)), (utc(2026, 3, 10, 12), None)]
    found = availability_crossings(ALWAYS, MARCH, outages, [], None, goal)
    assert near(found.warning, utc(2026, 3, 10, 12, 3, 28, 800000))
    assert near(found.missed_target, utc(2026, 3, 10, 12, 14, 38, 400000))


def test_office_hours_skip_the_night_the_weekend_and_the_holiday():
    """March 2026 in Berlin has 22 weekdays, one of them the holiday: 21 x 8 h = 604,800 s.
    99 % allows 6,048 s, the warning (50 %) 3,024 s, the threshold (98 %) 12,096 s. An outage
    open since Thursday 19th 16:30 uses 1,800 s that day; Friday is the holiday, so the rest
    runs from Monday 23rd 09:00: warning +1,224 s (09:20:24), target +4,248 s (10:10:48),
    threshold +10,296 s (11:51:36), Berlin time."""
    goal = Goal(99.0, 98.0, True, 50.0)
    outage = [(berlin(2026, 3, 19, 16, 30), None)]
    found = availability_crossings(OFFICE, MARCH_BERLIN, outage, [], None, goal)
    assert near(found.warning, berlin(2026, 3, 23, 9, 20, 24))
    assert near(found.missed_target, berlin(2026, 3, 23, 10, 10, 48))
    assert near(found.breached, berlin(2026, 3, 23, 11, 51, 36))


def test_a_budget_used_up_exactly_at_closing_time_is_crossed_when_service_resumes():
    """From Thursday 16:09:36 the outage uses exactly the 3,024 s warning allowance by
    17:00, which still meets it (down must exceed the allowance); it is exceeded at the next
    instant of service, the first microsecond after Monday 09:00 (Friday is the holiday)."""
    goal = Goal(99.0, 98.0, True, 50.0)
    outage = [(berlin(2026, 3, 19, 16, 9, 36), None)]
    found = availability_crossings(OFFICE, MARCH_BERLIN, outage, [], None, goal)
    assert found.warning == berlin(2026, 3, 23, 9, 0) + timedelta(microseconds=1)
    monday = availability_verdict(OFFICE, MARCH_BERLIN, found.warning, outage, [], None, goal)
    assert monday.status == AT_RISK
    closing = availability_verdict(
        OFFICE, MARCH_BERLIN, berlin(2026, 3, 20, 12), outage, [], None, goal
    )
    assert closing.status == MET


def test_excluded_maintenance_does_not_count_and_shrinks_the_budget():
    """April has 2,592,000 s; an announced hour of maintenance (10:30-11:30) is excluded,
    leaving 2,588,400 s: 99.9 % allows 2,588.4 s, the warning (75 %) 1,941.3 s. An outage
    open since 10:00 is down 1,800 s until the maintenance, then again from 11:30: the
    warning at 11:32:21.3, the target at 11:43:08.4."""
    goal = Goal(99.9, 99.5, True, 75.0)
    april = (utc(2026, 4, 1), utc(2026, 5, 1))
    maintenance = [(utc(2026, 4, 7, 10, 30), utc(2026, 4, 7, 11, 30))]
    outage = [(utc(2026, 4, 7, 10), None)]
    found = availability_crossings(ALWAYS, april, outage, maintenance, None, goal)
    assert near(found.warning, utc(2026, 4, 7, 11, 32, 21, 300000))
    assert near(found.missed_target, utc(2026, 4, 7, 11, 43, 8, 400000))


def test_maintenance_beyond_the_allowed_minutes_counts_again():
    """Only 30 of the 60 minutes may be excluded (the cap): 11:00-11:30 is downtime."""
    goal = Goal(99.9, 99.5, True, 75.0)
    april = (utc(2026, 4, 1), utc(2026, 5, 1))
    maintenance = [(utc(2026, 4, 7, 10, 30), utc(2026, 4, 7, 11, 30))]
    outage = [(utc(2026, 4, 7, 10), None)]
    found = availability_crossings(ALWAYS, april, outage, maintenance, 30 * 60, goal)
    # 2,590,200 s counted: warning after 1,942.65 s of downtime, i.e. 142.65 s after 11:00.
    assert near(found.warning, utc(2026, 4, 7, 11, 2, 22, 650000))


def test_no_crossing_within_the_period_and_none_for_ended_outages_below_the_budget():
    goal = Goal(99.9, 99.5, True, 75.0)
    late = availability_crossings(ALWAYS, MARCH, [(utc(2026, 3, 31, 23, 20), None)], [], None, goal)
    assert near(late.warning, utc(2026, 3, 31, 23, 20) + timedelta(seconds=2008.8))
    assert (late.missed_target, late.breached) == (None, None)  # after the period ends
    ended = availability_crossings(
        ALWAYS, MARCH, [(utc(2026, 3, 2), utc(2026, 3, 2, 0, 10))], [], None, goal
    )
    assert ended.crossings == {}


def test_nothing_counted_gives_no_moment():
    goal = Goal(99.9, 99.5, True, 75.0)
    closed = BusinessCalendar("UTC", {}, ())
    found = availability_crossings(closed, MARCH, [(utc(2026, 3, 2), None)], [], None, goal)
    assert found.crossings == {}


def test_the_next_deadline_is_the_first_level_not_shown_yet():
    crossings = {
        WARNING: utc(2026, 3, 10, 12, 33),
        MISSED_TARGET: utc(2026, 3, 10, 12, 44),
        BREACHED: utc(2026, 3, 10, 15),
    }
    now = utc(2026, 3, 10, 12)
    assert next_crossing(crossings, MET, now) == crossings[WARNING]
    assert next_crossing(crossings, AT_RISK, now) == crossings[MISSED_TARGET]
    assert next_crossing(crossings, MISSED_TARGET, now) == crossings[BREACHED]
    assert next_crossing(crossings, BREACHED, now) is None
    assert next_crossing({}, MET, now) is None
    # Past the period's end nothing is crossed: the breach is absent, no deadline after it.
    assert next_crossing({WARNING: crossings[WARNING]}, AT_RISK, now) is None
    # Come, but the verdict (within its tolerance) does not show it yet: looked at again.
    later = utc(2026, 3, 10, 12, 50)
    assert next_crossing(crossings, AT_RISK, later) == later + timedelta(seconds=1)


RANK = {MET: 0, AT_RISK: 1, MISSED_TARGET: 2, BREACHED: 3}


@settings(max_examples=60, deadline=None)
@given(
    start_minutes=st.integers(min_value=0, max_value=31 * 24 * 60 - 1),
    earlier_seconds=st.integers(min_value=0, max_value=4000),
    target=st.sampled_from([99.0, 99.5, 99.9, 99.95]),
    gap=st.sampled_from([0.0, 0.4, 1.0]),
    warning=st.sampled_from([50.0, 75.0, 90.0]),
    calendar=st.sampled_from([ALWAYS, OFFICE]),
)
def test_each_moment_is_where_the_verdict_changes(
    start_minutes, earlier_seconds, target, gap, warning, calendar
):
    """Just before a moment the verdict has not reached the level; at the moment, it has."""
    goal = Goal(target, target - gap, True, warning)
    period = MARCH_BERLIN if calendar is OFFICE else MARCH
    opened = period[0] + timedelta(minutes=start_minutes)
    outages = [(opened, None)]
    if earlier_seconds:
        outages.append((period[0], period[0] + timedelta(seconds=earlier_seconds)))
    found = availability_crossings(calendar, period, outages, [], None, goal)
    tick = timedelta(microseconds=1)
    for rank, level in enumerate((WARNING, MISSED_TARGET, BREACHED), start=1):
        moment = found.moment(level)
        if moment is None or moment + tick >= period[1]:
            continue
        after = availability_verdict(calendar, period, moment, outages, [], None, goal)
        assert RANK[after.status] >= rank, (level, moment, after)
        if moment - tick > period[0]:
            before = availability_verdict(calendar, period, moment - tick, outages, [], None, goal)
            assert RANK[before.status] < rank, (level, moment, before)


@pytest.mark.parametrize("percent", [0.0, 100.0])
def test_a_warning_share_at_the_edges(percent):
    """0 %: the first microsecond down warns; 100 %: the warning and the miss coincide."""
    goal = Goal(99.9, 99.5, True, percent)
    found = availability_crossings(ALWAYS, MARCH, [(utc(2026, 3, 10, 12), None)], [], None, goal)
    if percent == 0:
        assert found.warning == utc(2026, 3, 10, 12) + timedelta(microseconds=1)
    else:
        assert found.warning is not None and near(found.warning, found.missed_target)
