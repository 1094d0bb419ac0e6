"""How figures and states read: one percentage format and one word per state, everywhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitoring.evaluation.format import (
    LEVEL_WORDS,
    decimals_of,
    number,
    percent,
    percent_places,
    state_word,
)
from monitoring.models import Level, Status
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
    assert set(LEVEL_WORDS) == set(Level.values)
