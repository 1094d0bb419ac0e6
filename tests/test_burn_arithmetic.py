"""Burn rates of an error budget (``monitoring.compliance.burn``, ``agreements.burn_rules``):
pure, no database. Hand-computed figures pin the windows, their scaling, the rates and the
moments a rule fires and recovers (docs/burn-rates.md)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from agreements.burn_rules import DEFAULT_RULES, BurnRule, parse_rules
from agreements.clock import BusinessCalendar
from monitoring.compliance.burn import (
    availability_burn,
    count_burn,
    counted_time,
    expected_tickets,
    rules_for_period,
    spends,
    window_start,
)

START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
MONTH = (START, datetime(2026, 7, 1, tzinfo=UTC))  # 30 days
MS = timedelta(milliseconds=2)


def test_default_rules_are_the_workbook_windows_on_a_thirty_day_period() -> None:
    rules = {r.name: r for r in rules_for_period(DEFAULT_RULES, 30 * 86400)}
    assert (rules["page-1h"].long_seconds, rules["page-1h"].short_seconds) == (3600, 300)
    assert rules["page-1h"].factor == 14.4
    assert (rules["page-6h"].long_seconds, rules["page-6h"].factor) == (21600, 6)
    assert (rules["warn-3d"].long_seconds, rules["warn-3d"].short_seconds) == (259200, 21600)


def test_default_windows_stretch_with_a_quarter_and_shrink_with_office_hours() -> None:
    quarter = {r.name: r for r in rules_for_period(DEFAULT_RULES, 90 * 86400)}
    assert quarter["page-1h"].long_seconds == pytest.approx(3 * 3600)
    assert quarter["page-1h"].factor == 14.4  # the same 2 % of the budget per long window
    # 22 working days of 8 h: 1/720 of 176 h is 14 min 40 s of office time.
    office = {r.name: r for r in rules_for_period(DEFAULT_RULES, 22 * 8 * 3600)}
    assert office["page-1h"].long_seconds == pytest.approx(880)


def test_a_targets_own_rules_are_taken_as_written() -> None:
    own = BurnRule("fast", "page", 60, 5, 10)
    assert rules_for_period([own], 90 * 86400) == [own]


def test_window_reaches_back_over_closed_hours_into_the_previous_day() -> None:
    office = BusinessCalendar("UTC", {d: [(time(9), time(17))] for d in range(5)})
    counted = office.intervals(*MONTH)
    tuesday_0930 = datetime(2026, 6, 2, 9, 30, tzinfo=UTC)
    assert window_start(counted, tuesday_0930, 3600) == datetime(2026, 6, 1, 16, 30, tzinfo=UTC)
    # Clipped to the period: the first counted moment.
    assert window_start(counted, datetime(2026, 6, 1, 9, 10, tzinfo=UTC), 3600) == MONTH[0] + (
        timedelta(hours=9)
    )


def test_rates_of_an_open_outage_on_a_thirty_day_month() -> None:
    counted = [MONTH]
    now = START + timedelta(days=3)
    report = availability_burn(
        counted, [(now - timedelta(minutes=10), None)], now, 99.9, DEFAULT_RULES
    )
    states = {s.rule.name: s for s in report.states}
    # 600 s down in the hour against 3.6 s allowed: 166.7; the 5 min window is all down.
    assert states["page-1h"].long_rate == pytest.approx(600 / 3.6)
    assert states["page-1h"].short_rate == pytest.approx(300 / 0.3)
    assert states["page-1h"].firing and states["page-6h"].firing
    # 3 days: 600 s against 259.2 s allowed is 2.3; 6 h: 600 / 21.6 = 27.8.
    assert states["warn-3d"].long_rate == pytest.approx(600 / 259.2)
    assert states["warn-3d"].firing
    # An open outage: nothing recovers by time alone.
    assert report.moments == {}


def test_a_fresh_outage_fires_the_fast_page_once_two_percent_of_the_hour_is_down() -> None:
    opened = START + timedelta(days=3)
    report = availability_burn([MONTH], [(opened, None)], opened, 99.9, DEFAULT_RULES)
    assert not any(s.firing for s in report.states)
    # 14.4 x 3600 s x 0.1 % = 51.84 s (the 5 min window needs 4.32 s, reached first).
    assert abs(report.moments["page-1h"] - (opened + timedelta(seconds=51.84))) < MS
    # 6 x 21,600 x 0.1 % = 129.6 s; 1 x 259,200 x 0.1 % = 259.2 s.
    assert abs(report.moments["page-6h"] - (opened + timedelta(seconds=129.6))) < MS
    assert abs(report.moments["warn-3d"] - (opened + timedelta(seconds=259.2))) < MS
    fired = availability_burn(
        [MONTH], [(opened, None)], report.moments["page-1h"], 99.9, DEFAULT_RULES
    )
    assert fired.states[0].firing


def test_a_page_recovers_when_the_short_window_no_longer_burns() -> None:
    opened = START + timedelta(days=3)
    ended = opened + timedelta(seconds=120)
    report = availability_burn([MONTH], [(opened, ended)], ended, 99.9, DEFAULT_RULES)
    assert report.states[0].firing
    # The 5 min window may hold 4.32 s of downtime: its start passes ended - 4.32 s.
    expected = ended - timedelta(seconds=4.32) + timedelta(seconds=300)
    assert abs(report.moments["page-1h"] - expected) < MS
    moment = report.moments["page-1h"]
    after = availability_burn([MONTH], [(opened, ended)], moment, 99.9, DEFAULT_RULES)
    assert not after.states[0].firing


def test_downtime_outside_service_hours_and_in_maintenance_burns_nothing() -> None:
    office = BusinessCalendar("UTC", {d: [(time(9), time(17))] for d in range(5)})
    service = office.intervals(*MONTH)
    maintenance = [(datetime(2026, 6, 2, 9, tzinfo=UTC), datetime(2026, 6, 2, 10, tzinfo=UTC))]
    counted = counted_time(service, maintenance, None, [])
    now = datetime(2026, 6, 2, 10, tzinfo=UTC)
    night_and_maintenance = [(datetime(2026, 6, 1, 20, tzinfo=UTC), now)]
    report = availability_burn(counted, night_and_maintenance, now, 99.9, DEFAULT_RULES)
    assert all(s.long_rate == 0 for s in report.states)


def test_slow_burn_warns_without_paging() -> None:
    now = START + timedelta(days=10)
    # 0.5 s down in every 100 s of the last 3 days: 0.5 % of the time against 0.1 %.
    outages = [
        (now - timedelta(seconds=100 * k), now - timedelta(seconds=100 * k - 0.5))
        for k in range(1, 2593)
    ]
    report = availability_burn([MONTH], outages, now, 99.9, DEFAULT_RULES)
    states = {s.rule.name: s for s in report.states}
    assert states["warn-3d"].firing  # rate 5 > 1
    assert not states["page-1h"].firing and not states["page-6h"].firing  # 5 < 14.4, 6
    assert states["page-6h"].long_rate == pytest.approx(5, rel=0.01)


def test_ticket_burn_is_the_share_of_expected_tickets_that_missed_against_the_budget() -> None:
    # The worked example of docs/burn-rates.md: 95 % within target, a 30-day month, day 10:
    # 140 decided (the flow, extrapolated: 420) and 30 pending (as they are) make 450
    # tickets; earlier months decided 400.
    expected = expected_tickets(140, 30, 10 * 86400, 30 * 86400, [380, 420])
    assert expected == pytest.approx(450)
    budget = expected * (100 - 95) / 100  # 22.5 tickets may miss
    now = START + timedelta(days=10)
    missed = [now - timedelta(minutes=m) for m in (1, 2, 40)]  # 3 missed in the last hour
    report = count_burn([MONTH], missed, now, budget, DEFAULT_RULES)
    states = {s.rule.name: s for s in report.states}
    # The hour's share of the budget: 22.5 / 720 = 0.03125 tickets; 3 missed: rate 96.
    assert states["page-1h"].long_rate == pytest.approx(96)
    # 2 missed in the 5 minutes: 2 / (22.5 / 8640) = 768.
    assert states["page-1h"].short_rate == pytest.approx(768)
    assert states["page-1h"].firing
    # It recovers when the 5 min window holds no more than 14.4 x 0.0026 = 0.0375 tickets,
    # i.e. none: once the minute-old miss leaves it, 4 min from now.
    assert abs(report.moments["page-1h"] - (now + timedelta(minutes=4))) < MS


def test_expected_tickets_prefers_history_early_in_the_period() -> None:
    assert expected_tickets(2, 1, 86400, 30 * 86400, [400]) == 400
    assert expected_tickets(0, 0, 0, 30 * 86400) == 1
    # Before 10 % of the period the flow is not extrapolated (2 decided in a day are not
    # 60 a month); after it, only the flow is, and the backlog is added as it is.
    assert expected_tickets(2, 5, 86400, 30 * 86400) == 7
    assert expected_tickets(20, 5, 6 * 86400, 30 * 86400) == pytest.approx(105)


def test_a_count_rule_fires_only_once_its_long_window_holds_min_events() -> None:
    now = START + timedelta(days=10)
    # A budget of 22.5 tickets: one miss a minute ago burns the hour at 32 and the five
    # minutes at 384, far past 14.4, yet one miss is not a burn.
    one = count_burn([MONTH], [now - timedelta(minutes=1)], now, 22.5, DEFAULT_RULES)
    page = one.states[0]
    assert page.long_rate == pytest.approx(32) and page.short_rate == pytest.approx(384)
    assert page.events == 1 and not page.firing
    two = count_burn(
        [MONTH], [now - timedelta(minutes=30), now - timedelta(minutes=1)], now, 22.5, DEFAULT_RULES
    )
    assert two.states[0].firing
    own = BurnRule("fast", "page", 3600, 300, 14.4, min_events=1)
    assert count_burn([MONTH], [now - timedelta(minutes=1)], now, 22.5, [own]).states[0].firing
    _rules, errors = parse_rules(
        [
            {
                "name": "a",
                "severity": "page",
                "long_seconds": 60,
                "short_seconds": 5,
                "factor": 2,
                "min_events": 0,
            }
        ]
    )
    assert errors == {"0.min_events": "A whole number from 1 to 100000."}


def test_error_budget_burns_with_errors_against_the_target_count() -> None:
    now = START + timedelta(days=1)
    report = count_burn([MONTH], [now - timedelta(seconds=30)], now, 720.0, DEFAULT_RULES)
    # 720 errors a month: 1 per hour, 1/12 per 5 min; one error is rate 1 and 12.
    assert report.states[0].long_rate == pytest.approx(1)
    assert report.states[0].short_rate == pytest.approx(12)
    assert not report.states[0].firing


def test_spends_only_with_downtime_misses_or_errors() -> None:
    assert not spends({"down_seconds": 0.0, "counted_seconds": 10})
    assert spends({"down_seconds": 0.0}, open_outage=True)
    assert spends({"down_seconds": 3.0}) and spends({"missed": 1}) and spends({"count": 2})


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ("fast", "rules", "Expected a list"),
        ([{"severity": "page", "long_seconds": 60, "short_seconds": 5, "factor": 2}], "0.name", ""),
        (
            [{"name": "a", "severity": "sms", "long_seconds": 60, "short_seconds": 5, "factor": 2}],
            "0.severity",
            "page",
        ),
        (
            [
                {
                    "name": "a",
                    "severity": "page",
                    "long_seconds": 60,
                    "short_seconds": 60,
                    "factor": 2,
                }
            ],
            "0.short_seconds",
            "shorter",
        ),
        (
            [
                {
                    "name": "a",
                    "severity": "page",
                    "long_seconds": "1h",
                    "short_seconds": 5,
                    "factor": 2,
                }
            ],
            "0.long_seconds",
            "number",
        ),
        (
            [
                {
                    "name": "a",
                    "severity": "warn",
                    "long_seconds": 60,
                    "short_seconds": 5,
                    "factor": -1,
                }
            ],
            "0.factor",
            "positive",
        ),
    ],
)
def test_bad_rules_are_refused_with_the_field_and_reason(raw, field, reason) -> None:
    rules, errors = parse_rules(raw)
    assert rules == ()
    assert field in errors and reason in errors[field]


def test_absurd_numbers_are_refused_not_crashed_on() -> None:
    huge = {"name": "a", "severity": "page", "long_seconds": 10**400, "short_seconds": 5}
    _rules, errors = parse_rules([{**huge, "factor": float("nan")}])
    assert "positive finite" in errors["0.long_seconds"] and "0.factor" in errors
    _rules, errors = parse_rules([None, [], {"name": {"x": 1}}])
    assert set(errors) >= {"0", "1"}


def test_good_rules_parse_and_empty_means_the_default_set() -> None:
    rules, errors = parse_rules(
        [{"name": "fast", "severity": "page", "long_seconds": 60, "short_seconds": 5, "factor": 9}]
    )
    assert errors == {} and rules == (BurnRule("fast", "page", 60.0, 5.0, 9.0),)
    assert parse_rules(None) == ((), {}) and parse_rules([]) == ((), {})


def test_errors_learnt_late_give_the_moment_a_rule_fired_and_recovered() -> None:
    # 720 errors a month: 1/12 per 5 min, so 2 errors in 5 min are rate 24 over the short
    # window; 15 in the hour are 15 > 14.4 over the long one. The 15th fires the page.
    now = START + timedelta(days=1)
    burst = [now - timedelta(hours=2) + timedelta(seconds=10 * i) for i in range(20)]
    own = BurnRule("fast", "page", 3600, 300, 14.4)
    report = count_burn([MONTH], burst, now, 720.0, [own], since=now - timedelta(hours=3))
    assert not report.states[0].firing
    assert report.fired == {"fast": burst[14]}
    # The short window holds one error (rate 12) 300 s after the last but one.
    assert abs(report.recovered["fast"] - (burst[-2] + timedelta(seconds=300))) < timedelta(
        milliseconds=2
    )
    # Without ``since`` (or nothing new since it) nothing is searched.
    assert count_burn([MONTH], burst, now, 720.0, [own]).fired == {}
    assert count_burn([MONTH], burst, now, 720.0, [own], since=now).fired == {}
