"""Forecasts of a period's end value (``monitoring.compliance.forecast``) and their backtest
scoring (``monitoring.compliance.backtest``): pure arithmetic, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.compliance import backtest
from monitoring.compliance import forecast as fc
from monitoring.compliance.verdicts import Goal

DAY = 86400.0
MONTH = 30 * DAY
AVAILABILITY = Goal(99.9, 99.5, True)


def availability(down: float, elapsed: float, remaining: float, outages: int) -> fc.Observation:
    return fc.Observation(fc.RATIO, down, elapsed, outages, elapsed, remaining, sized_events=True)


def test_a_quarter_gone_with_half_the_budget_spent_is_predicted_to_miss():
    """30 min down in the first 7.5 days of a 30-day 24x7 month: at that pace the month
    ends with 120 min down, 99.722 %: below the 99.9 % target, above the 99.5 % threshold.
    The current value (99.958 %) still meets the target."""
    obs = availability(1800, MONTH / 4, 3 * MONTH / 4, outages=2)
    made = fc.forecast(obs, AVAILABILITY)
    assert made.value == pytest.approx(100 * (1 - 7200 / MONTH))
    assert made.status == "missed_target" and made.predicted == fc.PREDICTED_MISS
    assert made.low < made.value < made.high <= 100
    assert made.chance_missed > 0.5 > made.chance_breached
    assert made.confidence == made.chance_missed
    assert fc.naive_status(obs, AVAILABILITY) == "met"


def test_no_downtime_yet_forecasts_met_with_a_band_below_100():
    made = fc.forecast(availability(0, MONTH / 2, MONTH / 2, 0), AVAILABILITY)
    assert made.value == 100 and made.status == "met" and made.predicted == "met"
    assert made.low < 100 and made.high == 100
    assert made.confidence > 0.5


def test_history_weighs_most_early_in_the_period():
    """Early on, a calm start is pulled toward a history of bad months; late, the period's
    own pace counts most."""
    bad_history = fc.History(rates=[0.003, 0.004, 0.002], sizes=[1800])
    early = fc.forecast(availability(0, MONTH * 0.1, MONTH * 0.9, 0), AVAILABILITY, bad_history)
    late = fc.forecast(availability(0, MONTH * 0.9, MONTH * 0.1, 0), AVAILABILITY, bad_history)
    assert early.status == "missed_target"
    assert late.status == "met"
    assert early.details["history"] == 3


def test_less_counted_time_left_means_less_downtime_to_come():
    """Excluded maintenance and closed service hours shorten the time left, and with it the
    downtime still expected at the same pace (the share stays the pace's share)."""
    full = fc.forecast(availability(1800, MONTH / 4, 3 * MONTH / 4, 2), AVAILABILITY)
    shorter = fc.forecast(availability(1800, MONTH / 4, MONTH / 2, 2), AVAILABILITY)

    def down(made, counted):
        return (100 - made.value) / 100 * counted

    assert down(full, MONTH) == pytest.approx(7200)
    assert down(shorter, 3 * MONTH / 4) == pytest.approx(5400)
    assert shorter.value == pytest.approx(full.value)


def test_ticket_share_extrapolates_misses_at_the_periods_pace():
    """19 met and 1 missed of 20 decided: 95 % now and, at the same pace, at the end."""
    obs = fc.Observation(fc.RATIO, 1, 20, 1, MONTH / 2, MONTH / 2)
    made = fc.forecast(obs, Goal(95, 90, True))
    assert made.value == pytest.approx(95.0)
    assert made.low < 95 < made.high


def test_ticket_share_without_decided_tickets_uses_historys_volume():
    obs = fc.Observation(fc.RATIO, 0, 0, 0, MONTH / 4, 3 * MONTH / 4)
    assert fc.forecast(obs, Goal(95, 90, True)) is None
    history = fc.History(rates=[0.2, 0.1], volumes=[40 / MONTH, 60 / MONTH])
    made = fc.forecast(obs, Goal(95, 90, True), history)
    assert made.value == pytest.approx(85.0)
    assert made.status == "breached" and made.predicted == fc.PREDICTED_BREACH


def test_error_count_runs_on_at_its_pace():
    """6 errors in a third of the month: 18 by its end, against a target of 10, threshold 20."""
    obs = fc.Observation(fc.COUNT, 6, 0, 6, MONTH / 3, 2 * MONTH / 3)
    made = fc.forecast(obs, Goal(10, 20, False))
    assert made.value == pytest.approx(18)
    assert made.status == "missed_target"
    assert made.low < 18 < made.high
    assert 0 < made.chance_breached < made.chance_missed


def test_measured_mean_of_samples():
    """Latency samples averaging 180 ms against a 200 ms target: met, a band around 180."""
    samples = [150.0, 210.0, 180.0, 170.0, 190.0]
    spread = sum((s - 180) ** 2 for s in samples) / 5
    obs = fc.Observation(fc.MEAN, sum(samples), 5, 0, DAY, DAY, sample_variance=spread)
    made = fc.forecast(obs, Goal(200, 250, False))
    assert made.value == pytest.approx(180)
    assert made.status == "met" and made.low < 180 < made.high < 200


def test_a_worse_season_ahead_raises_the_forecast_downtime():
    calm = fc.forecast(availability(600, MONTH / 2, MONTH / 2, 1), AVAILABILITY)
    obs = fc.Observation(
        fc.RATIO, 600, MONTH / 2, 1, MONTH / 2, MONTH / 2, sized_events=True, season_factor=3.0
    )
    stormy = fc.forecast(obs, AVAILABILITY)
    assert stormy.value < calm.value and stormy.seasonal and not calm.seasonal


def test_hour_of_week_profile_needs_enough_history_and_finds_the_bad_hour():
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    exposure = [(start, start + timedelta(days=35))]
    # Every Monday 10:00 UTC, four outages of 5 min: 20 events in five weeks.
    events = [
        (start + timedelta(days=7 * w, hours=10, minutes=m), 300.0)
        for w in range(5)
        for m in (0, 10, 20, 30)
    ]
    profile = fc.hour_of_week_profile(events, exposure, "UTC")
    assert profile[10] > 10 and profile[11] < 1
    assert fc.hour_of_week_profile(events[:10], exposure, "UTC") is None
    assert fc.hour_of_week_profile(events, [(start, start + timedelta(days=7))], "UTC") is None
    monday_ten = [(start + timedelta(hours=10), start + timedelta(hours=11))]
    assert fc.weighted_seconds(monday_ten, profile, "UTC") == pytest.approx(3600 * profile[10])


def trial(kind, actual, predicted, naive, value, low, high, at=0.5):
    return backtest.Trial(kind, at, actual, value, predicted, low, high, naive)


def test_backtest_scores_forecast_against_current_value():
    trials = [
        trial("availability", "missed_target", "missed_target", "met", 99.8, 99.7, 99.9),
        trial("availability", "met", "met", "met", 99.95, 99.9, 100),
        trial("availability", "breached", "missed_target", "met", 99.0, 99.6, 99.9),
        trial("availability", "met", "missed_target", "met", 99.99, 99.7, 99.95),
    ]
    (row,) = backtest.score(trials)
    assert (row.periods, row.missed, row.right, row.naive_right) == (4, 2, 2, 2)
    assert (row.covered, row.warned, row.naive_warned) == (2, 2, 0)
    assert (row.false_alarms, row.naive_false_alarms) == (1, 0)
    assert row.better
    table = backtest.markdown([row], "Synthetic")
    assert (
        "| availability | 50% | 4 | 2 | 2 (50%) | 2 (50%) | 2 (50%) | 2 (50%) | 2 / 0 | 1 / 0 |"
        in table
    )
    assert "does no better" not in table
    # Saying "met" every time is right as often: the row says it is degenerate.
    assert row.degenerate and "- availability at 50%: degenerate" in table


def test_backtest_says_when_the_forecast_does_no_better():
    trials = [
        trial("error count", "met", "missed_target", "met", 3, 5, 9),
        trial("error count", "met", "met", "met", 2, 1, 4),
    ]
    (row,) = backtest.score(trials)
    assert not row.better
    assert (
        "- error count at 50%: the forecast does no better than the current value "
        "(1 right against 2, 0 misses warned of against 0, 1 false alarms against 0)."
    ) in backtest.markdown([row])


def test_false_alarms_cancel_the_misses_warned_of():
    """As many right as the current value, one more miss warned of but two false alarms:
    no better."""
    trials = [
        trial("availability", "missed_target", "missed_target", "met", 99.8, 99.7, 99.9),
        trial("availability", "met", "missed_target", "met", 99.95, 99.7, 99.99),
        trial("availability", "met", "missed_target", "met", 99.95, 99.7, 99.99),
        trial("availability", "met", "met", "met", 99.95, 99.7, 99.99),
    ]
    (row,) = backtest.score(trials)
    assert (row.right, row.naive_right, row.warned, row.false_alarms) == (2, 3, 1, 2)
    tie = backtest.Row("availability", 0.5, 4, 1, 3, 3, 4, 1, 0, 2, 0, 3)
    assert not tie.better and tie.degenerate


def test_lead_time_of_first_warnings_against_the_current_value():
    """Two missed periods: the forecast warned 12 and 5 days before the end, the current
    value showed the misses 4 days and 1 day before; one met period had a false warning."""
    leads = [
        backtest.Lead("availability", "missed_target", 12 * DAY, 4 * DAY, alerted=True),
        backtest.Lead("availability", "breached", 5 * DAY, 1 * DAY),
        backtest.Lead("availability", "met", 20 * DAY, None, alerted=True),
        backtest.Lead("availability", "met", None, None),
    ]
    (row,) = backtest.score_leads(leads)
    assert (row.periods, row.missed, row.warned, row.naive_warned) == (4, 2, 2, 2)
    assert (row.false_warnings, row.naive_false_warnings) == (1, 0)
    assert row.lead_days == pytest.approx(8.5) and row.naive_lead_days == pytest.approx(2.5)
    assert row.ahead_days == pytest.approx(6) and row.better
    table = backtest.lead_markdown([row], 24)
    assert (row.alerts_for_misses, row.alerts_for_met) == (1, 1)
    assert "| availability | 4 | 2 | 2 / 2 | 1 / 0 | 8.5 / 2.5 | 6.0 | 1 / 1 |" in table
    assert "no earlier" not in table


def test_lead_time_says_when_the_forecast_warns_no_earlier():
    leads = [backtest.Lead("ticket share", "missed_target", 3 * DAY, 3 * DAY)]
    (row,) = backtest.score_leads(leads)
    assert not row.better
    assert "- ticket share: the forecast warns of misses no earlier than the current value" in (
        backtest.lead_markdown([row], 24)
    )


def test_one_sample_is_never_a_certain_miss():
    """One 260 ms sample against 200 ms, no history: no spread of its own, yet a band
    (a share of the mean) and a chance short of 100 %; it says it rests on one sample."""
    made = fc.forecast(fc.Observation(fc.MEAN, 260.0, 1, 0, DAY, 29 * DAY), Goal(200, 300, False))
    assert made.low < 260 < made.high
    assert made.chance_missed <= fc.CAP < 1 and made.details["samples"] == 1


def test_equal_samples_with_one_period_of_history_keep_a_band():
    obs = fc.Observation(fc.MEAN, 3 * 250.0, 3, 0, DAY, 29 * DAY, sample_variance=0.0)
    made = fc.forecast(obs, Goal(200, 300, False), fc.History(rates=[250.0]))
    assert made.low < made.value < made.high and made.confidence <= fc.CAP


def test_an_outage_counted_zero_seconds_does_not_shrink_the_band_to_nothing():
    """An outage that has just begun (0 s so far) is one event of no size: the outage size
    comes from history, so the band is as wide as with no outage at all."""
    fresh = fc.forecast(availability(0, MONTH / 2, MONTH / 2, 1), AVAILABILITY)
    none = fc.forecast(availability(0, MONTH / 2, MONTH / 2, 0), AVAILABILITY)
    assert fresh.low == pytest.approx(none.low) and fresh.low < 100


def test_even_a_hopeless_period_is_at_most_99_percent_sure():
    made = fc.forecast(availability(0.01 * MONTH, MONTH * 0.9, MONTH * 0.1, 5), AVAILABILITY)
    assert made.predicted == fc.PREDICTED_BREACH and made.confidence == fc.CAP


def test_the_season_ahead_scales_history_by_the_hours_left_not_by_their_ratio_to_the_seen():
    """Early in a period, history dominates: its rate (an average over whole periods) is
    scaled by how bad the hours left are against the average hour, not against the hours
    seen. Seen hours twice as bad as the ones left (factor 0.5), hours left average (1.0):
    history's part is unchanged."""
    history = fc.History(rates=[0.001, 0.001])
    base = fc.Observation(fc.RATIO, 0, DAY, 0, DAY, 29 * DAY, sized_events=True)
    plain = fc.forecast(base, AVAILABILITY, history)
    obs = fc.Observation(
        fc.RATIO, 0, DAY, 0, DAY, 29 * DAY, sized_events=True, season_factor=0.5, season_left=1.0
    )
    assert fc.forecast(obs, AVAILABILITY, history).value == pytest.approx(plain.value)
    worse = fc.Observation(
        fc.RATIO, 0, DAY, 0, DAY, 29 * DAY, sized_events=True, season_factor=1.0, season_left=2.0
    )
    assert fc.forecast(worse, AVAILABILITY, history).value < plain.value
