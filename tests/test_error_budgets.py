"""Error budgets (``monitoring.compliance.budgets``): pure, no database.

Every figure below is computed by hand in the docstring of its test and written out in
``docs/budgets.md``; the moments are checked to the second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agreements.clock import BusinessCalendar
from monitoring.compliance.budgets import (
    Budget,
    availability_budget,
    carried,
    count_budget,
    expected_tickets,
    ticket_budget,
    value_budget,
)
from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET
from monitoring.compliance.verdicts import Goal, availability_verdict, value_verdict

BERLIN = ZoneInfo("Europe/Berlin")
# Monday to Friday 09:00-17:00 in Berlin; Friday 20 March 2026 is a holiday.
OFFICE = BusinessCalendar(
    "Europe/Berlin",
    {day: [(time(9), time(17))] for day in range(5)},
    holidays=[date(2026, 3, 20)],
)
MARCH = (
    datetime(2026, 3, 1, tzinfo=BERLIN).astimezone(UTC),
    datetime(2026, 4, 1, tzinfo=BERLIN).astimezone(UTC),
)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def to_second(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment is not None else None


def office_march(outages, now: datetime) -> Budget:
    """99.5 % / 99 % on March's office hours, Tuesday 10 March 09:00-11:00 maintenance excluded."""
    goal = Goal(99.5, 99.0, True, 75.0)
    maintenance = [(berlin(2026, 3, 10, 9), berlin(2026, 3, 10, 11))]
    verdict = availability_verdict(OFFICE, MARCH, now, outages, maintenance, None, goal)
    budget = availability_budget(verdict.details, verdict.crossings, now)
    assert budget is not None
    return budget


def test_availability_budget_in_service_hours_with_a_holiday_and_maintenance():
    """March 2026 has 22 weekdays, one a holiday: 21 x 8 h = 604,800 s of service. Two hours
    of maintenance are excluded: 597,600 s counted. 99.5 % allows 2,988 s (49 min 48 s) of
    downtime, 99 % allows 5,976 s.

    Monday 9 March 16:30-18:00 counts 1,800 s (service ends at 17:00). Tuesday 10 March
    10:00-11:30 overlaps the maintenance, so only 11:00-11:30 counts: 1,800 s more. The budget
    has 1,188 s left at 11:00 on Tuesday and runs out at 11:19:48 Berlin time."""
    outages = [
        (berlin(2026, 3, 9, 16, 30), berlin(2026, 3, 9, 18)),
        (berlin(2026, 3, 10, 10), berlin(2026, 3, 10, 11, 30)),
    ]
    budget = office_march(outages, berlin(2026, 3, 12, 10))
    assert budget.unit == "seconds"
    assert budget.basis["counted_seconds"] == 597_600
    assert budget.allowed == pytest.approx(2_988)
    assert budget.allowed_threshold == pytest.approx(5_976)
    assert budget.consumed == 3_600
    assert budget.remaining == pytest.approx(-612)
    assert budget.remaining_threshold == pytest.approx(2_376)
    assert to_second(budget.ran_out_at) == berlin(2026, 3, 10, 11, 19, 48)
    assert budget.threshold_ran_out_at is None


def test_availability_threshold_budget_runs_out_in_an_open_outage_across_the_night():
    """After the 3,600 s above, an outage open since Wednesday 11 March 16:00 uses the
    threshold's remaining 2,376 s by 16:39:36. Seen on Thursday 12 March at 10:00, it has
    counted 16:00-17:00 and 09:00-10:00: 10,800 s down in all."""
    outages = [
        (berlin(2026, 3, 9, 16, 30), berlin(2026, 3, 9, 18)),
        (berlin(2026, 3, 10, 10), berlin(2026, 3, 10, 11, 30)),
        (berlin(2026, 3, 11, 16), None),
    ]
    budget = office_march(outages, berlin(2026, 3, 12, 10))
    assert budget.consumed == 10_800
    assert to_second(budget.ran_out_at) == berlin(2026, 3, 10, 11, 19, 48)
    assert to_second(budget.threshold_ran_out_at) == berlin(2026, 3, 11, 16, 39, 36)


def test_a_crossing_still_to_come_has_not_run_out_yet():
    """Seen at 11:10 on Tuesday, the budget has 588 s left; its moment is still to come."""
    outages = [
        (berlin(2026, 3, 9, 16, 30), berlin(2026, 3, 9, 18)),
        (berlin(2026, 3, 10, 10), None),
    ]
    budget = office_march(outages, berlin(2026, 3, 10, 11, 10))
    assert budget.consumed == 2_400
    assert budget.remaining == pytest.approx(588)
    assert budget.ran_out_at is None


def test_expected_tickets_extrapolate_over_the_service_time_or_follow_earlier_periods():
    """By Friday 13 March 17:00, 10 of March's 21 office days have passed. The flow, 18
    decided tickets, extrapolates to 18 / (10/21) = 37.8; the 2 pending are added as they
    are: 39.8. An earlier mean of 50 is larger."""
    assert expected_tickets(18, 2, 10 / 21, 30.0, closed=False) == pytest.approx(39.8)
    assert expected_tickets(18, 2, 10 / 21, 50.0, closed=False) == 50
    assert expected_tickets(18, 2, 0.0, None, closed=False) == 20
    # A closed period decided what it decided.
    assert expected_tickets(38, 0, 1.0, 50.0, closed=True) == 38


def test_ticket_budget_counts_the_tickets_that_may_still_miss():
    """95 % of 42 expected tickets: 2.1 may miss (90 %: 4.2). Two missed: 0.1 left, 2.2
    before the threshold. The third miss runs the budget out at its moment, the fifth the
    threshold's."""
    goal = Goal(95.0, 90.0, True, 75.0)
    misses = [datetime(2026, 3, day, 10, tzinfo=UTC) for day in (3, 5, 10, 11, 12)]

    def moment_of(nth: int) -> datetime | None:
        return misses[nth - 1]

    budget = ticket_budget(16, 2, 42.0, goal, moment_of)
    assert (budget.unit, budget.allowed, budget.consumed) == ("tickets", pytest.approx(2.1), 2)
    assert budget.remaining == pytest.approx(0.1)
    assert budget.remaining_threshold == pytest.approx(2.2)
    assert budget.ran_out_at is None
    budget = ticket_budget(16, 3, 42.0, goal, moment_of)
    assert budget.ran_out_at == misses[2]
    assert budget.threshold_ran_out_at is None
    budget = ticket_budget(16, 5, 42.0, goal, moment_of)
    assert budget.threshold_ran_out_at == misses[4]


def test_ticket_budget_of_exactly_whole_tickets_runs_out_with_the_one_after():
    """40 tickets at 95 %: 2 may miss; the second miss uses it up, the third runs it out."""
    goal = Goal(95.0, 90.0, True, 75.0)
    moments = [datetime(2026, 3, 2 + n, tzinfo=UTC) for n in range(5)]
    assert ticket_budget(38, 2, 40.0, goal, lambda n: moments[n - 1]).ran_out_at is None
    assert ticket_budget(37, 3, 40.0, goal, lambda n: moments[n - 1]).ran_out_at == moments[2]


def test_error_budget_is_the_target_count_less_the_errors():
    """Target 5 errors, threshold 10: 7 errors leave -2 and 3; the 6th error ran it out."""
    goal = Goal(5.0, 10.0, False, 75.0)
    moments = [datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n) for n in range(7)]
    budget = count_budget(7, goal, lambda n: moments[n - 1])
    assert (budget.unit, budget.allowed, budget.allowed_threshold) == ("errors", 5, 10)
    assert (budget.remaining, budget.remaining_threshold) == (-2, 3)
    assert budget.ran_out_at == moments[5]
    assert budget.threshold_ran_out_at is None
    assert count_budget(5, goal, lambda n: moments[n - 1]).ran_out_at is None


def test_performance_budget_is_the_excess_the_slow_samples_may_add():
    """Target 200 ms, threshold 300 ms, samples 150, 180, 260, 240, 190: the good ones bank
    50 + 20 + 10 = 80 ms, the slow ones spend 60 + 40 = 100 ms, so -20 ms = 5 x (200 - 204)
    is left; the running mean passes 200 ms with the fourth sample (207.5 ms)."""
    goal = Goal(200.0, 300.0, False, 75.0)
    values = [150.0, 180.0, 260.0, 240.0, 190.0]
    samples = [(datetime(2026, 3, 1, hour, tzinfo=UTC), v) for hour, v in enumerate(values)]
    budget = value_budget(samples, goal, "ms")
    assert budget is not None
    assert (budget.unit, budget.allowed, budget.consumed) == ("ms", 80, 100)
    assert budget.remaining == pytest.approx(-20)
    assert budget.allowed_threshold == pytest.approx(580)
    assert budget.remaining_threshold == pytest.approx(480)
    assert budget.basis == {
        "samples": 5,
        "slow_samples": 2,
        "mean": 204,
        "excess_per_threshold_sample": 100,
    }
    assert budget.samples_left == 0  # overspent: no sample at 300 ms fits
    assert budget.ran_out_at == samples[3][0]
    assert budget.threshold_ran_out_at is None
    # Exactly where value_verdict stops meeting the target.
    assert value_verdict(values, goal, True).status == MISSED_TARGET
    assert value_verdict(values[:3], goal, True).status == MET
    assert value_budget([], goal, "ms") is None


def test_performance_budget_for_a_higher_is_better_value():
    """Throughput target 100/s, threshold 80/s: 120 banks 20, 70 spends 30 and breaches."""
    goal = Goal(100.0, 80.0, True, 75.0)
    samples = [
        (datetime(2026, 3, 1, 0, tzinfo=UTC), 120.0),
        (datetime(2026, 3, 1, 1, tzinfo=UTC), 30.0),
    ]
    budget = value_budget(samples, goal, "req/s")
    assert budget is not None
    assert (budget.allowed, budget.consumed, budget.remaining) == (20, 70, -50)
    # n x (mean - threshold) for a higher-is-better value: 2 x (75 - 80).
    assert budget.remaining_threshold == pytest.approx(2 * (75 - 80))
    assert budget.ran_out_at == samples[1][0]
    assert budget.threshold_ran_out_at == samples[1][0]
    assert value_verdict([120.0, 30.0], goal, True).status == BREACHED


GOAL = (95.0, 90.0)
FOUND = datetime(2026, 3, 10, 10, 19, 48, tzinfo=UTC)


def first_found() -> dict:
    """3 misses against 2.1 allowed: ran out at FOUND, as the first evaluation stores it."""
    fresh = Budget("tickets", "tickets", 2.1, 4.2, 3, ran_out_at=FOUND)
    return carried(fresh, None, goal=GOAL).as_dict()


def test_a_moment_once_reached_is_kept_as_it_was_while_its_cause_stands():
    """An evaluation that finds no moment (more tickets expected now), a later one or an
    earlier one (a late miss sorted before) keeps the one found first: no min(), no move."""
    before = first_found()
    assert before["basis"]["ran_out_consumed"] == 3
    now = Budget("tickets", "tickets", 3.5, 7.0, 3)
    kept = carried(now, before, goal=GOAL)
    assert kept.ran_out_at == FOUND
    assert kept.allowed == 3.5 and kept.within
    for other in (FOUND + timedelta(days=1), FOUND - timedelta(days=1)):
        moved = Budget("tickets", "tickets", 2.1, 4.2, 4, ran_out_at=other)
        assert carried(moved, before, goal=GOAL).ran_out_at == FOUND
    assert Budget.from_dict(kept.as_dict()) == kept
    assert Budget.from_dict({"kind": "tickets"}) is None
    assert carried(now, None).ran_out_at is None


def test_a_retracted_cause_drops_the_moment():
    """The misses that ran it out are fewer now (a timer deleted when a priority was
    corrected): within budget the moment goes; still out, the current moment is taken."""
    before = first_found()
    fewer = Budget("tickets", "tickets", 2.1, 4.2, 2)
    assert carried(fewer, before, goal=GOAL).ran_out_at is None
    later = FOUND + timedelta(hours=5)
    still_out = Budget("tickets", "tickets", 0.5, 4.2, 2, ran_out_at=later)
    taken = carried(still_out, before, goal=GOAL)
    assert taken.ran_out_at == later
    assert taken.basis["ran_out_consumed"] == 2


def test_a_relaxed_target_drops_the_moment():
    """Same 3 misses, the target relaxed from 95 % to 90 %: 4.2 allowed, nothing ran out."""
    relaxed = Budget("tickets", "tickets", 4.2, 8.4, 3)
    kept = carried(relaxed, first_found(), goal=(90.0, 80.0))
    assert kept.ran_out_at is None
    assert "ran_out_consumed" not in kept.basis


def test_a_closed_period_that_met_the_level_never_ran_out():
    """Kept while open (back within budget), dropped when the period closes within it."""
    now = Budget("tickets", "tickets", 3.5, 7.0, 3)
    assert carried(now, first_found(), closed=False, goal=GOAL).ran_out_at == FOUND
    assert carried(now, first_found(), closed=True, goal=GOAL).ran_out_at is None
    out = Budget("tickets", "tickets", 2.1, 4.2, 3, ran_out_at=FOUND + timedelta(days=2))
    assert carried(out, first_found(), closed=True, goal=GOAL).ran_out_at == FOUND


def test_usage_exactly_at_the_allowance_is_within_it_not_overspent():
    """30 days of 24x7 at 99.9 %: 2,592 s allowed, 2,592 s down meets the target. Floating
    point makes the allowance 2,591.99999999985; the budget is within it and stores 0 left."""
    always = BusinessCalendar.always()
    month = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    goal = Goal(99.9, 99.0, True, 75.0)
    start = month[0] + timedelta(days=3)
    outages = [(start, start + timedelta(seconds=2592))]
    verdict = availability_verdict(always, month, month[1], outages, [], None, goal)
    assert verdict.status == MET
    budget = availability_budget(verdict.details, verdict.crossings, month[1])
    assert budget is not None
    fake = Budget("downtime", "seconds", 2591.99999999985, 25920.0, 2592.0, basis=budget.basis)
    for each in (budget, fake):
        assert each.within
        assert each.as_dict()["remaining"] == 0
        assert each.ran_out_at is None


def test_early_in_a_period_the_backlog_is_not_extrapolated():
    """5 minutes into March (share 0.0002): 2 decided and 40 pending from February would
    "expect" 210,000 tickets if divided by the share. The flow is not extrapolated below
    10 % of the service time: 42, or the history's 30 where larger; no jump at share 0."""
    assert expected_tickets(2, 40, 0.0002, 30.0, closed=False) == 42
    assert expected_tickets(2, 0, 0.0002, 30.0, closed=False) == 30
    assert expected_tickets(2, 40, 0.0, 30.0, closed=False) == 42
    assert expected_tickets(2, 40, 0.0999, None, closed=False) == 42
    # From 10 % on the flow is extrapolated, the backlog still added once: 2 / 0.1 + 40.
    assert expected_tickets(2, 40, 0.1, None, closed=False) == pytest.approx(60)


def test_a_period_without_tickets_has_no_budget():
    goal = Goal(95.0, 90.0, True, 75.0)
    assert ticket_budget(0, 0, 0.0, goal, lambda n: None) is None


def test_a_crossing_whose_allowance_ends_on_a_whole_microsecond_is_past_it():
    """24x7 March at 99.5 %, warning at 90 %: 12,052.8 s. 3,463 s down before, an outage open
    from 00:58 crosses 8,589.8 s later; 8,589.8 x 10^6 rounds down in floating point, yet the
    moment must be the first microsecond past the allowance, where the verdict warns."""
    march = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    goal = Goal(99.5, 99.5, True, 90.0)
    start = march[0]
    outages = [(start + timedelta(minutes=58), None), (start, start + timedelta(seconds=3463))]
    always = BusinessCalendar.always()
    found = availability_verdict(always, march, start, outages, [], None, goal).crossings
    assert found["warning"] == datetime(2026, 3, 1, 3, 21, 9, 800001, tzinfo=UTC)
    at = availability_verdict(always, march, found["warning"], outages, [], None, goal)
    assert at.status == "at_risk"
