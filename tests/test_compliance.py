"""Compliance arithmetic (``monitoring.compliance``): ticket timers, periods and verdicts.

Pure functions, so no Django and no database: hand-computed examples pin the documented
rules, property-based tests (Hypothesis) check what must hold for any input.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.clock import BusinessCalendar
from monitoring.compliance.periods import period_bounds, periods_between
from monitoring.compliance.states import (
    AT_RISK,
    BREACHED,
    MET,
    MISSED_TARGET,
    NO_DATA,
    PAUSED,
    RUNNING,
)
from monitoring.compliance.timers import TimerInput, ticket_timer
from monitoring.compliance.verdicts import (
    Goal,
    availability_verdict,
    count_verdict,
    recovery_verdict,
    ticket_share_verdict,
    value_verdict,
)

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = 60
HOUR = 3600
DAY = 86400
ALWAYS = BusinessCalendar.always()
OFFICE = BusinessCalendar("Europe/Berlin", {day: [(time(9), time(17))] for day in range(5)})
RANK = {RUNNING: 0, PAUSED: 0, AT_RISK: 0, MET: 0, MISSED_TARGET: 1, BREACHED: 2}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def spec(start, stop=None, pauses=(), target=HOUR, threshold=2 * HOUR, warning=75.0):
    return TimerInput(start, stop, list(pauses), target, threshold, warning)


# --- Ticket timers on a 24x7 calendar ---------------------------------------------------------

START = utc(2026, 3, 2, 10, 0)


def test_running_timer_has_its_moments_and_next_due():
    result = ticket_timer(ALWAYS, spec(START), START + timedelta(minutes=30))
    assert result.state == RUNNING
    assert result.used_seconds == 30 * MINUTE
    assert result.remaining_seconds == 30 * MINUTE
    assert result.warning_at == utc(2026, 3, 2, 10, 45)
    assert result.due_at == utc(2026, 3, 2, 11, 0)
    assert result.threshold_due_at == utc(2026, 3, 2, 12, 0)
    assert result.next_due == utc(2026, 3, 2, 10, 45)
    assert result.reached == ()
    assert result.decided_at is None
    assert result.is_open


def test_warning_point_reached_at_its_moment():
    result = ticket_timer(ALWAYS, spec(START), utc(2026, 3, 2, 10, 45))
    assert result.state == AT_RISK
    assert result.reached == (("warning", utc(2026, 3, 2, 10, 45)),)
    assert result.next_due == utc(2026, 3, 2, 11, 0)
    assert result.decided_at is None


def test_open_clock_misses_the_target_at_the_due_time():
    result = ticket_timer(ALWAYS, spec(START), utc(2026, 3, 2, 11, 0))
    assert result.state == MISSED_TARGET
    assert [level for level, _ in result.reached] == ["warning", MISSED_TARGET]
    assert result.decided_at == utc(2026, 3, 2, 11, 0)
    assert result.next_due == utc(2026, 3, 2, 12, 0)
    assert result.remaining_seconds == 0


def test_open_clock_breaches_at_the_threshold_and_has_nothing_left_to_wait_for():
    result = ticket_timer(ALWAYS, spec(START), utc(2026, 3, 2, 12, 0))
    assert result.state == BREACHED
    assert result.reached == (
        ("warning", utc(2026, 3, 2, 10, 45)),
        (MISSED_TARGET, utc(2026, 3, 2, 11, 0)),
        (BREACHED, utc(2026, 3, 2, 12, 0)),
    )
    assert result.next_due is None
    assert result.decided_at == utc(2026, 3, 2, 11, 0)
    assert result.remaining_seconds == -HOUR


def test_stop_exactly_at_the_deadline_meets_the_target():
    stop = utc(2026, 3, 2, 11, 0)
    result = ticket_timer(ALWAYS, spec(START, stop=stop), utc(2026, 3, 2, 13, 0))
    assert result.state == MET
    assert result.stopped_at == stop
    assert result.decided_at == stop
    assert result.used_seconds == HOUR
    assert result.next_due is None
    assert not result.is_open
    # The warning point was passed before the stop; the miss was not.
    assert [level for level, _ in result.reached] == ["warning"]


def test_stop_one_second_late_misses_and_is_decided_at_the_due_time():
    stop = utc(2026, 3, 2, 11, 0, 1)
    result = ticket_timer(ALWAYS, spec(START, stop=stop), utc(2026, 3, 2, 13, 0))
    assert result.state == MISSED_TARGET
    assert result.decided_at == utc(2026, 3, 2, 11, 0)
    assert result.stopped_at == stop


def test_stop_after_the_threshold_is_breached():
    result = ticket_timer(ALWAYS, spec(START, stop=utc(2026, 3, 2, 12, 30)), utc(2026, 3, 3))
    assert result.state == BREACHED
    assert result.decided_at == utc(2026, 3, 2, 11, 0)


def test_stop_in_the_future_is_not_known_yet():
    now = utc(2026, 3, 2, 10, 20)
    result = ticket_timer(ALWAYS, spec(START, stop=utc(2026, 3, 2, 10, 30)), now)
    assert result.state == RUNNING
    assert result.stopped_at is None
    assert result.used_seconds == 20 * MINUTE


def test_closed_pause_moves_every_deadline():
    pause = (utc(2026, 3, 2, 10, 10), utc(2026, 3, 2, 10, 40))
    result = ticket_timer(ALWAYS, spec(START, pauses=[pause]), utc(2026, 3, 2, 11, 0))
    assert result.state == RUNNING
    assert result.used_seconds == 30 * MINUTE
    assert result.warning_at == utc(2026, 3, 2, 11, 15)
    assert result.next_due == utc(2026, 3, 2, 11, 15)
    assert result.due_at == utc(2026, 3, 2, 11, 30)
    assert result.threshold_due_at == utc(2026, 3, 2, 12, 30)


def test_pause_still_open_leaves_later_deadlines_unknown():
    pause = (utc(2026, 3, 2, 10, 20), None)
    result = ticket_timer(ALWAYS, spec(START, pauses=[pause]), utc(2026, 3, 2, 11, 0))
    assert result.state == PAUSED
    assert result.used_seconds == 20 * MINUTE
    assert (result.warning_at, result.due_at, result.threshold_due_at) == (None, None, None)
    assert result.next_due is None
    assert result.reached == ()


def test_pause_opened_after_the_warning_keeps_the_warning_and_the_clock_stands():
    pause = (utc(2026, 3, 2, 10, 50), None)
    result = ticket_timer(ALWAYS, spec(START, pauses=[pause]), utc(2026, 3, 2, 13, 0))
    assert result.state == PAUSED
    assert result.used_seconds == 50 * MINUTE
    assert result.warning_at == utc(2026, 3, 2, 10, 45)
    assert result.due_at is None
    assert result.reached == (("warning", utc(2026, 3, 2, 10, 45)),)


def test_pause_still_open_at_the_stop_counts_until_the_stop():
    pause = (utc(2026, 3, 2, 10, 20), None)
    stop = utc(2026, 3, 2, 15, 0)
    result = ticket_timer(ALWAYS, spec(START, stop=stop, pauses=[pause]), utc(2026, 3, 3))
    assert result.state == MET
    assert result.used_seconds == 20 * MINUTE


def test_pause_starting_at_the_due_time_holds_the_miss_until_it_ends():
    due = utc(2026, 3, 2, 11, 0)
    during = ticket_timer(ALWAYS, spec(START, pauses=[(due, None)]), utc(2026, 3, 2, 11, 20))
    assert during.due_at == due
    assert during.state == PAUSED
    assert during.reached == (("warning", utc(2026, 3, 2, 10, 45)),)
    answered = ticket_timer(
        ALWAYS, spec(START, stop=utc(2026, 3, 2, 11, 20), pauses=[(due, None)]), utc(2026, 3, 3)
    )
    assert answered.state == MET
    assert answered.used_seconds == HOUR
    resumed = spec(START, pauses=[(due, utc(2026, 3, 2, 11, 30))])
    before = ticket_timer(ALWAYS, resumed, utc(2026, 3, 2, 11, 29))
    assert before.state == AT_RISK
    assert before.next_due == utc(2026, 3, 2, 11, 30)
    after = ticket_timer(ALWAYS, resumed, utc(2026, 3, 2, 11, 40))
    assert after.state == MISSED_TARGET
    assert after.decided_at == utc(2026, 3, 2, 11, 30)


# --- Ticket timers on business hours (Mon-Fri 09-17 Berlin) ----------------------------------

# Friday 6 March 2026, 15:00 in Berlin (UTC+1); target 2 h, threshold 4 h, warning at 50 %.
FRIDAY_1500 = berlin(2026, 3, 6, 15, 0)


def office_spec(**kwargs):
    return spec(FRIDAY_1500, target=2 * HOUR, threshold=4 * HOUR, warning=50.0, **kwargs)


def test_business_hours_moments():
    result = ticket_timer(OFFICE, office_spec(), berlin(2026, 3, 6, 15, 30))
    assert result.warning_at == berlin(2026, 3, 6, 16, 0)
    assert result.due_at == berlin(2026, 3, 6, 17, 0)  # closing time, not Monday 09:00
    assert result.threshold_due_at == berlin(2026, 3, 9, 11, 0)
    assert result.next_due == berlin(2026, 3, 6, 16, 0)
    assert result.used_seconds == 30 * MINUTE


def test_business_hours_clock_stands_over_the_weekend():
    result = ticket_timer(OFFICE, office_spec(), berlin(2026, 3, 7, 12, 0))
    assert result.used_seconds == 2 * HOUR
    # Due at Friday's closing time, but the clock has not moved past it: not missed yet.
    assert result.state == AT_RISK
    assert result.next_due == berlin(2026, 3, 9, 9, 0)


def test_business_hours_answer_on_saturday_meets_a_target_due_at_closing_time():
    result = ticket_timer(
        OFFICE, office_spec(stop=berlin(2026, 3, 7, 10, 0)), berlin(2026, 3, 7, 12, 0)
    )
    assert result.used_seconds == 2 * HOUR
    assert result.state == MET
    assert result.decided_at == berlin(2026, 3, 7, 10, 0)


def test_business_hours_answer_at_monday_opening_still_meets():
    stop = berlin(2026, 3, 9, 9, 0)
    result = ticket_timer(OFFICE, office_spec(stop=stop), berlin(2026, 3, 9, 12, 0))
    assert result.state == MET


def test_business_hours_open_clock_misses_at_monday_opening():
    result = ticket_timer(OFFICE, office_spec(), berlin(2026, 3, 9, 9, 0))
    assert result.state == MISSED_TARGET
    assert result.decided_at == berlin(2026, 3, 9, 9, 0)
    assert result.reached[-1] == (MISSED_TARGET, berlin(2026, 3, 9, 9, 0))
    assert result.next_due == berlin(2026, 3, 9, 11, 0)


def test_business_hours_answer_after_monday_opening_misses():
    stop = berlin(2026, 3, 9, 9, 30)
    result = ticket_timer(OFFICE, office_spec(stop=stop), berlin(2026, 3, 9, 12, 0))
    assert result.state == MISSED_TARGET
    assert result.used_seconds == 2 * HOUR + 30 * MINUTE
    assert result.decided_at == berlin(2026, 3, 9, 9, 0)


def test_business_hours_deadline_across_the_dst_change():
    # Friday 27 March 2026 16:00 CET; the clocks go forward on Sunday 29 March.
    start = berlin(2026, 3, 27, 16, 0)
    result = ticket_timer(OFFICE, spec(start, target=2 * HOUR), berlin(2026, 3, 27, 16, 30))
    assert result.due_at == berlin(2026, 3, 30, 10, 0)
    assert result.due_at == utc(2026, 3, 30, 8, 0)


# --- Properties of timers -------------------------------------------------------------------

BASE = utc(2026, 3, 2)
offsets = st.integers(min_value=0, max_value=10 * DAY)
calendars = st.sampled_from([ALWAYS, OFFICE])


@st.composite
def timer_cases(draw):
    start = BASE + timedelta(seconds=draw(offsets))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        a = start + timedelta(seconds=draw(st.integers(0, 5 * DAY)))
        end = draw(st.one_of(st.none(), st.integers(1, 2 * DAY)))
        pauses.append((a, None if end is None else a + timedelta(seconds=end)))
    target = draw(st.integers(1, 20)) * 15 * MINUTE
    threshold = target + draw(st.integers(0, 20)) * 15 * MINUTE
    warning = float(draw(st.sampled_from([50, 75, 90])))
    return start, pauses, target, threshold, warning


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars, timer_cases(), st.integers(0, 12 * DAY))
def test_used_time_never_exceeds_elapsed_time(calendar, case, elapsed):
    start, pauses, target, threshold, warning = case
    now = start + timedelta(seconds=elapsed)
    result = ticket_timer(
        calendar, TimerInput(start, None, pauses, target, threshold, warning), now
    )
    assert 0 <= result.used_seconds <= elapsed
    if result.next_due is not None:
        assert result.next_due > now
    if result.state in (MISSED_TARGET, BREACHED):
        assert result.decided_at is not None and result.decided_at <= now


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars, timer_cases(), st.integers(0, 12 * DAY), st.integers(0, 12 * DAY))
def test_a_later_stop_never_improves_the_state(calendar, case, first, second):
    start, pauses, target, threshold, warning = case
    early, late = sorted([first, second])
    now = start + timedelta(seconds=13 * DAY)

    def state(offset: int) -> str:
        stop = start + timedelta(seconds=offset)
        timer_spec = TimerInput(start, stop, pauses, target, threshold, warning)
        return ticket_timer(calendar, timer_spec, now).state

    assert RANK[state(early)] <= RANK[state(late)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars, timer_cases(), st.integers(0, 12 * DAY))
def test_a_stopped_timer_meets_iff_its_business_time_is_within_the_target(calendar, case, used):
    """The rule of docs/clock.md: met iff business seconds from start to stop <= target."""
    start, pauses, target, threshold, warning = case
    stop = start + timedelta(seconds=used)
    now = stop + timedelta(days=1)
    result = ticket_timer(
        calendar, TimerInput(start, stop, pauses, target, threshold, warning), now
    )
    closed = [(a, b if b is not None else stop) for a, b in pauses]
    business = calendar.business_seconds(start, stop, closed)
    assert result.used_seconds == business
    expected = MET if business <= target else (MISSED_TARGET if business <= threshold else BREACHED)
    assert result.state == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars, timer_cases(), st.integers(0, 12 * DAY))
def test_the_state_at_next_due_has_reached_one_more_level(calendar, case, elapsed):
    """The deadline loop wakes at ``next_due``: something must have changed by then."""
    start, pauses, target, threshold, warning = case
    timer_spec = TimerInput(start, None, pauses, target, threshold, warning)
    now = start + timedelta(seconds=elapsed)
    result = ticket_timer(calendar, timer_spec, now)
    if result.next_due is None:
        return
    later = ticket_timer(calendar, timer_spec, result.next_due)
    assert len(later.reached) > len(result.reached)
    assert later.reached[-1][1] == result.next_due


# --- Periods ----------------------------------------------------------------------------------


def test_month_in_berlin_spans_the_dst_change():
    start, end = period_bounds("month", utc(2026, 3, 15, 12), "Europe/Berlin")
    assert start == utc(2026, 2, 28, 23)  # 1 March 00:00 CET
    assert end == utc(2026, 3, 31, 22)  # 1 April 00:00 CEST
    assert (end - start).total_seconds() == 31 * DAY - HOUR


def test_instant_after_local_midnight_belongs_to_the_next_local_month():
    # 31 March 22:30 UTC is 1 April 00:30 in Berlin.
    start, end = period_bounds("month", utc(2026, 3, 31, 22, 30), "Europe/Berlin")
    assert start == utc(2026, 3, 31, 22)
    assert end == utc(2026, 4, 30, 22)


def test_october_in_berlin_has_an_extra_hour():
    start, end = period_bounds("month", utc(2026, 10, 10), "Europe/Berlin")
    assert (start, end) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))
    assert (end - start).total_seconds() == 31 * DAY + HOUR


def test_quarter_and_year_bounds():
    assert period_bounds("quarter", utc(2026, 5, 15), "Europe/Berlin") == (
        utc(2026, 3, 31, 22),
        utc(2026, 6, 30, 22),
    )
    assert period_bounds("quarter", utc(2026, 12, 31, 23, 30), "Europe/Berlin") == (
        utc(2026, 12, 31, 23),
        utc(2027, 3, 31, 22),
    )
    assert period_bounds("year", utc(2026, 7, 1), "Europe/Berlin") == (
        utc(2025, 12, 31, 23),
        utc(2026, 12, 31, 23),
    )
    assert period_bounds("quarter", utc(2026, 11, 2), "America/New_York") == (
        utc(2026, 10, 1, 4),
        utc(2027, 1, 1, 5),
    )
    assert period_bounds("month", utc(2026, 2, 10)) == (utc(2026, 2, 1), utc(2026, 3, 1))


def test_periods_between_are_contiguous_and_cover_both_ends():
    found = periods_between("month", utc(2026, 1, 15), utc(2026, 4, 1, 0, 30), "Europe/Berlin")
    assert [start for start, _ in found] == [
        utc(2025, 12, 31, 23),
        utc(2026, 1, 31, 23),
        utc(2026, 2, 28, 23),
        utc(2026, 3, 31, 22),
    ]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(found))
    assert periods_between("quarter", utc(2026, 2, 1), utc(2026, 2, 2)) == [
        (utc(2026, 1, 1), utc(2026, 4, 1))
    ]


# --- Share of tickets -------------------------------------------------------------------------

SHARE = Goal(target=90.0, threshold=80.0, higher_is_better=True)


def test_share_at_the_target_is_met():
    verdict = ticket_share_verdict(9, 1, 0, 0, SHARE, closed=False)
    assert verdict.value == 90.0
    assert verdict.status == MET
    assert not verdict.final
    assert verdict.details == {"met": 9, "missed": 1, "pending": 0, "pending_at_risk": 0}


def test_share_is_at_risk_when_tickets_past_their_warning_would_take_it_below_target():
    # 9 met of 10 decided is 90 %; counting the one at risk as missed gives 9/11 = 81.8 %.
    verdict = ticket_share_verdict(9, 1, 3, 1, SHARE, closed=False)
    assert verdict.value == 90.0
    assert verdict.status == AT_RISK


def test_share_not_at_risk_when_the_tickets_at_risk_cannot_take_it_below_target():
    # 19 met of 20 is 95 %; with one more miss 19/21 = 90.5 %, still at the target.
    assert ticket_share_verdict(19, 1, 2, 1, SHARE, closed=False).status == MET


def test_closed_share_period_is_final_and_ignores_pending_tickets():
    verdict = ticket_share_verdict(9, 1, 3, 1, SHARE, closed=True)
    assert verdict.status == MET
    assert verdict.final


def test_share_below_target_and_below_threshold():
    assert ticket_share_verdict(85, 15, 0, 0, SHARE, closed=False).status == MISSED_TARGET
    breached = ticket_share_verdict(7, 3, 0, 0, SHARE, closed=True)
    assert breached.status == BREACHED
    assert breached.value == pytest.approx(70.0)


def test_share_without_decided_tickets():
    assert ticket_share_verdict(0, 0, 2, 1, SHARE, closed=False).status == AT_RISK
    pending = ticket_share_verdict(0, 0, 2, 0, SHARE, closed=False)
    assert (pending.value, pending.status) == (None, MET)
    assert ticket_share_verdict(0, 0, 0, 0, SHARE, closed=False).status == NO_DATA
    assert ticket_share_verdict(0, 0, 0, 0, SHARE, closed=True).status == NO_DATA
    # Open tickets at period close are decided in a later period: nothing to report here.
    assert ticket_share_verdict(0, 0, 2, 1, SHARE, closed=True).status == NO_DATA


# --- Availability -----------------------------------------------------------------------------

MARCH = (utc(2026, 3, 1), utc(2026, 4, 1))
AVAILABILITY = Goal(target=99.5, threshold=99.0, higher_is_better=True)
OUTAGES = [
    (utc(2026, 3, 5, 10, 0), utc(2026, 3, 5, 12, 0)),  # 2 h
    (utc(2026, 3, 20, 8, 0), utc(2026, 3, 20, 8, 30)),  # 30 min
]
MAINTENANCE = [(utc(2026, 3, 10, 1, 0), utc(2026, 3, 10, 4, 0))]  # 3 h announced


def test_hand_computed_month_with_outages_and_capped_maintenance():
    verdict = availability_verdict(
        ALWAYS, MARCH, utc(2026, 4, 2), OUTAGES, MAINTENANCE, 2 * HOUR, AVAILABILITY
    )
    service = 31 * DAY  # 2,678,400 s
    excluded = 2 * HOUR  # 3 h announced, 2 h allowed
    counted = service - excluded  # 2,671,200 s
    down = 2 * HOUR + 30 * MINUTE  # 9,000 s
    assert service == 2_678_400
    assert verdict.details["service_seconds"] == service
    assert verdict.details["excluded_seconds"] == excluded
    assert verdict.details["counted_seconds"] == counted
    assert verdict.details["down_seconds"] == down
    assert verdict.value == pytest.approx((counted - down) / counted * 100)
    assert verdict.value == pytest.approx(99.66307277628032)
    assert verdict.status == MET
    assert verdict.final


def test_outage_inside_excluded_maintenance_is_not_downtime_but_beyond_the_cap_it_is():
    outages = [
        *OUTAGES,
        (utc(2026, 3, 10, 1, 30), utc(2026, 3, 10, 2, 0)),  # inside the excluded 2 h
        (utc(2026, 3, 10, 3, 0), utc(2026, 3, 10, 3, 15)),  # in the third hour, not excluded
    ]
    verdict = availability_verdict(
        ALWAYS, MARCH, utc(2026, 4, 2), outages, MAINTENANCE, 2 * HOUR, AVAILABILITY
    )
    counted = 31 * DAY - 2 * HOUR
    down = 2 * HOUR + 30 * MINUTE + 15 * MINUTE
    assert verdict.details["down_seconds"] == down
    assert verdict.value == pytest.approx((counted - down) / counted * 100)


def test_maintenance_without_cap_is_excluded_entirely():
    verdict = availability_verdict(
        ALWAYS, MARCH, utc(2026, 4, 2), OUTAGES, MAINTENANCE, None, AVAILABILITY
    )
    assert verdict.details["excluded_seconds"] == 3 * HOUR
    assert verdict.details["counted_seconds"] == 31 * DAY - 3 * HOUR


def test_downtime_exactly_at_the_budget_meets_the_target():
    # 0.5 % of 600,008 s is exactly 3,000.04 s, but (600008 - 3000.04) / 600008 * 100 is
    # 99.49999999999999 in floating point: without a tolerance this was a final miss.
    period = (utc(2026, 4, 1), utc(2026, 4, 1) + timedelta(seconds=600_008))
    outage = [(period[0], period[0] + timedelta(seconds=3000, milliseconds=40))]
    verdict = availability_verdict(ALWAYS, period, period[1], outage, [], None, AVAILABILITY)
    assert verdict.details["down_seconds"] == 3000.04
    assert verdict.status == MET
    one_more = [(period[0], period[0] + timedelta(seconds=3000, milliseconds=41))]
    verdict = availability_verdict(ALWAYS, period, period[1], one_more, [], None, AVAILABILITY)
    assert verdict.status == MISSED_TARGET


def test_availability_misses_before_the_month_ends_and_the_miss_is_final():
    goal = Goal(99.9, 99.5, True)
    verdict = availability_verdict(ALWAYS, MARCH, utc(2026, 3, 25), OUTAGES, [], None, goal)
    assert verdict.value == pytest.approx((31 * DAY - 9000) / (31 * DAY) * 100)
    assert verdict.status == MISSED_TARGET
    assert verdict.final
    assert verdict.details["budget_left_seconds"] == pytest.approx(31 * DAY * 0.001 - 9000)


def test_availability_breached_when_the_threshold_budget_is_spent():
    outage = [(utc(2026, 3, 3), utc(2026, 3, 4))]  # a whole day: 96.77 %
    verdict = availability_verdict(ALWAYS, MARCH, utc(2026, 3, 5), outage, [], None, AVAILABILITY)
    assert verdict.status == BREACHED
    assert verdict.final


def test_availability_at_risk_after_the_warning_share_of_the_budget():
    budget = 31 * DAY * 0.5 / 100  # 13,392 s
    outage = [(utc(2026, 3, 3), utc(2026, 3, 3) + timedelta(seconds=0.8 * budget))]
    verdict = availability_verdict(ALWAYS, MARCH, utc(2026, 3, 5), outage, [], None, AVAILABILITY)
    assert verdict.status == AT_RISK
    assert not verdict.final
    closed = availability_verdict(ALWAYS, MARCH, utc(2026, 4, 1), outage, [], None, AVAILABILITY)
    assert closed.status == MET
    assert closed.final


def test_open_outage_counts_until_now_and_at_most_to_the_period_end():
    outage = [(utc(2026, 3, 31, 23, 0), None)]
    running = availability_verdict(
        ALWAYS, MARCH, utc(2026, 3, 31, 23, 30), outage, [], None, AVAILABILITY
    )
    assert running.details["down_seconds"] == 30 * MINUTE
    assert running.details["elapsed_seconds"] == 31 * DAY - 30 * MINUTE
    assert running.details["so_far"] == pytest.approx(
        (31 * DAY - 30 * MINUTE - 30 * MINUTE) / (31 * DAY - 30 * MINUTE) * 100
    )
    later = availability_verdict(ALWAYS, MARCH, utc(2026, 4, 3), outage, [], None, AVAILABILITY)
    assert later.details["down_seconds"] == HOUR


def test_business_hours_availability_counts_only_service_hours():
    period = period_bounds("month", utc(2026, 3, 15), "Europe/Berlin")
    outages = [
        (berlin(2026, 3, 7, 10, 0), berlin(2026, 3, 7, 14, 0)),  # Saturday: outside hours
        (berlin(2026, 3, 2, 16, 0), berlin(2026, 3, 2, 18, 0)),  # one hour inside
        (berlin(2026, 3, 30, 8, 30), berlin(2026, 3, 30, 9, 30)),  # after DST: half inside
    ]
    verdict = availability_verdict(OFFICE, period, utc(2026, 4, 2), outages, [], None, SHARE)
    service = 22 * 8 * HOUR  # 22 weekdays in March 2026, 8 h each: 633,600 s
    down = HOUR + 30 * MINUTE
    assert verdict.details["service_seconds"] == service
    assert verdict.details["down_seconds"] == down
    assert verdict.value == pytest.approx((service - down) / service * 100)


def test_availability_without_service_time_has_no_data():
    saturday_only = BusinessCalendar("UTC", {5: [(time(9), time(17))]})
    week = (utc(2026, 3, 2), utc(2026, 3, 7))  # Monday to Friday
    verdict = availability_verdict(saturday_only, week, utc(2026, 3, 8), [], [], None, SHARE)
    assert (verdict.value, verdict.status) == (None, NO_DATA)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-DAY, 32 * DAY), st.integers(0, 3 * DAY)), max_size=5),
    st.lists(st.tuples(st.integers(0, 31 * DAY), st.integers(0, DAY)), max_size=3),
    st.one_of(st.none(), st.integers(0, 10 * HOUR)),
    st.integers(-DAY, 33 * DAY),
    calendars,
)
def test_availability_is_a_percentage_and_more_downtime_never_raises_it(
    outages, maintenance, cap, now_offset, calendar
):
    start = MARCH[0]

    def spans(rows):
        return [
            (start + timedelta(seconds=a), start + timedelta(seconds=a + length))
            for a, length in rows
        ]

    now = start + timedelta(seconds=now_offset)
    args = (spans(maintenance), cap, AVAILABILITY)
    verdict = availability_verdict(calendar, MARCH, now, spans(outages), *args)
    if verdict.value is None:
        return
    assert 0 <= verdict.value <= 100
    assert verdict.details["down_seconds"] <= verdict.details["counted_seconds"]
    worse = availability_verdict(
        calendar, MARCH, now, [*spans(outages), (start + timedelta(days=3), None)], *args
    )
    assert worse.value <= verdict.value


# --- Counts, recoveries, measured values ------------------------------------------------------

ERRORS = Goal(target=4, threshold=10, higher_is_better=False)


def test_count_verdict():
    assert count_verdict(2, ERRORS, closed=False).status == MET
    at_risk = count_verdict(4, ERRORS, closed=False)  # 4 > 75 % of 4
    assert (at_risk.status, at_risk.final) == (AT_RISK, False)
    assert count_verdict(4, ERRORS, closed=True).status == MET
    missed = count_verdict(5, ERRORS, closed=False)
    assert (missed.status, missed.final, missed.value) == (MISSED_TARGET, True, 5.0)
    assert count_verdict(11, ERRORS, closed=False).status == BREACHED
    assert count_verdict(0, ERRORS, closed=True).details == {"count": 0}


def test_recovery_verdict_takes_the_longest_and_counts_an_open_incident_until_now():
    goal = Goal(target=60, threshold=240, higher_is_better=False)
    now = utc(2026, 3, 10, 12, 0)
    incidents = [
        (utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 10, 30)),
        (utc(2026, 3, 10, 10, 30), None),  # 90 min so far
    ]
    verdict = recovery_verdict(incidents, now, goal, closed=False)
    assert verdict.value == 90
    assert verdict.status == MISSED_TARGET
    assert verdict.final
    assert verdict.details == {"incidents": 2, "longest_minutes": 90}
    assert recovery_verdict(incidents[:1], now, goal, closed=False).status == MET
    assert recovery_verdict([], now, goal, closed=False).status == MET
    assert recovery_verdict([], now, goal, closed=True).status == NO_DATA


def test_value_verdict_uses_the_mean_and_warns_on_the_latest_sample():
    latency = Goal(target=200, threshold=400, higher_is_better=False)
    verdict = value_verdict([100, 150, 260], latency, closed=False)
    assert verdict.value == pytest.approx(170)
    assert verdict.status == AT_RISK
    assert verdict.details == {"samples": 3, "latest": 260, "worst": 260}
    assert value_verdict([100, 150, 260], latency, closed=True).status == MET
    assert value_verdict([300, 500], latency, closed=True).status == MISSED_TARGET
    assert value_verdict([], latency, closed=True).status == NO_DATA
