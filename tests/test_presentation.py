"""How figures and states read: one percentage format and one word per state, everywhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitoring.format import (
    LEVEL_WORDS,
    decimals_of,
    number,
    percent,
    percent_places,
    state_word,
)
from monitoring.models import BurnLevel, Level, Status
from monitoring.presentation import level_badge, status_badge


@pytest.mark.parametrize(
    ("figure", "places"),
    [
        (99.996, 3),
        (99.9, 1),
        (100, 0),
        (95.0, 0),
        (Decimal("99.950"), 2),
        ("99.9995", 4),
        (None, 0),
    ],
)
def test_decimals_of_a_goal(figure, places):
    assert decimals_of(figure) == places


def test_a_value_shows_as_many_decimals_as_its_target_has():
    # The issue: a 99.996 % target read "100.00 %", and so did a value just under it.
    assert percent(99.996, goals=(99.996, 99.99)) == "99.996 %"
    assert percent(99.9953, goals=(99.996, 99.99)) == "99.995 %"
    assert number(99.996, "percent", (99.996, 99.9)) == "99.996 %"


def test_percentages_keep_two_decimals_at_least_and_four_at_most():
    assert percent(99.5, goals=(99.9, 99.5)) == "99.50 %"
    assert percent(66.6667, goals=(95, 90)) == "66.67 %"
    assert percent_places([99.9999999]) == 4
    assert percent_places([]) == 2
    assert percent(None) == "–"
    assert percent(12.345, 1) == "12.3 %"  # a caller may still fix the decimals


def test_an_alert_level_reads_like_the_state_it_announces():
    # The issue: the same breach was "Threshold breached" on the dashboard and "Warning" on
    # the alerts page. A warning alert announces the state "At risk"; breaches and missed
    # targets have one word each on every page.
    assert level_badge(Level.WARNING).text == status_badge(Status.AT_RISK).text == "At risk"
    assert level_badge(Level.BREACHED).text == status_badge(Status.BREACHED).text
    assert level_badge(Level.MISSED_TARGET).text == status_badge(Status.MISSED_TARGET).text
    assert level_badge(Level.WARNING).icon == status_badge(Status.AT_RISK).icon
    assert state_word("warning") == "At risk"
    assert "Warning" not in LEVEL_WORDS.values()
    # Every alert level has its words: the levels reached and the burn-rate alerts'.
    assert set(LEVEL_WORDS) == set(Level.values) | set(BurnLevel.values)


def test_every_place_a_period_is_shown_uses_the_targets_decimals():
    """Dashboards, compliance page, reports and alert emails (value_text) all read a 99.996 %
    availability target with three decimals, not as "100.00 %"."""
    from datetime import UTC, datetime

    from monitoring.evaluation.period_breaches import value_text
    from monitoring.models import PeriodResult
    from monitoring.presentation import availability_figures, goal_text, period_value
    from reporting.selectors.targets import _panel
    from reporting.services.content import _value_text

    row = PeriodResult(
        target_label="Availability",
        metric="availability",
        unit="percent",
        value_unit="percent",
        direction="higher",
        goal_target=99.996,
        goal_threshold=99.99,
        value=99.9953,
        status=Status.AT_RISK,
        period="month",
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
        details={
            "service_seconds": 2_592_000,
            "excluded_seconds": 0,
            "counted_seconds": 2_592_000,
            "down_seconds": 12,
            "elapsed_seconds": 2_592_000,
            "budget_seconds": 103.68,
            "budget_left_seconds": 91.68,
            "threshold_budget_seconds": 259.2,
            "so_far": 99.9995,
        },
    )
    assert period_value(row) == "99.995 %"
    assert goal_text(row) == "at least 99.996 % (threshold 99.990 %)"
    assert availability_figures(row)["target"] == "99.996 %"
    panel = _panel(row, [row])
    assert panel.sentence == "99.995 % against target 99.996 %, threshold 99.990 %"
    assert _value_text(row.value, "percent", row.status, row.details, (99.996, 99.99)) == (
        "99.995 %"
    )

    class Goal:
        target, threshold = 99.996, 99.99

    assert value_text(99.9953, "percent", Goal()) == (
        "99.995 % against target 99.996 % (threshold 99.990 %)"
    )
