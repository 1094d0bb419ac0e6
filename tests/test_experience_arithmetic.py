"""CSAT, NPS and the minimum-sample rule as plain arithmetic (monitoring.experience)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET, NO_DATA
from monitoring.compliance.verdicts import Goal
from monitoring.experience.arithmetic import (
    csat_mean,
    enough_responses,
    experience_verdict,
    is_low,
    nps_score,
)

CSAT_GOAL = Goal(4.2, 3.8, True)
NPS_GOAL = Goal(30, 10, True)


def test_csat_is_the_mean_of_the_ratings():
    assert csat_mean([5, 4, 3]) == 4.0
    assert csat_mean([]) is None


def test_nps_is_promoters_minus_detractors_in_points():
    # 5 promoters (9-10), 3 passives (7-8), 2 detractors (0-6) of 10: 50 % - 20 % = 30.
    assert nps_score([10, 9, 9, 10, 9, 7, 8, 7, 6, 0]) == 30
    assert nps_score([0, 6]) == -100
    assert nps_score([7, 8]) == 0
    assert nps_score([]) is None


@pytest.mark.parametrize("bad", [0, 6])
def test_a_csat_rating_outside_1_to_5_is_refused(bad):
    with pytest.raises(ValueError, match="1 to 5"):
        csat_mean([4, bad])


def test_an_nps_answer_outside_0_to_10_is_refused():
    with pytest.raises(ValueError, match="0 to 10"):
        nps_score([11])


@given(st.lists(st.integers(1, 5), min_size=1))
def test_csat_lies_between_the_lowest_and_highest_rating(ratings):
    assert min(ratings) <= csat_mean(ratings) <= max(ratings)


@given(st.lists(st.integers(0, 10), min_size=1))
def test_nps_lies_between_minus_100_and_100_and_ignores_passives(scores):
    value = nps_score(scores)
    assert -100 <= value <= 100
    # Adding passives moves the score toward 0, never across it.
    with_passives = nps_score([*scores, 7, 8])
    assert abs(with_passives) <= abs(value) + 1e-9


@given(st.integers(0, 50), st.integers(1, 50))
def test_below_the_minimum_sample_there_is_never_a_verdict(count, minimum):
    verdict = experience_verdict("csat", [1] * count, CSAT_GOAL, minimum, closed=True)
    if count < minimum:
        assert verdict.status == NO_DATA and verdict.value is None
        assert verdict.details["not_enough_responses"] is True
        assert verdict.details["responses"] == count
    else:
        assert verdict.status == BREACHED
    assert enough_responses(count, minimum) == (count >= minimum)


def test_csat_verdicts_follow_target_and_threshold():
    assert experience_verdict("csat", [5, 4, 4], CSAT_GOAL, 3, True).status == MET  # 4.33
    assert experience_verdict("csat", [4, 4, 4], CSAT_GOAL, 3, True).status == MISSED_TARGET
    low = experience_verdict("csat", [2, 4, 4], CSAT_GOAL, 3, True)  # 3.33
    assert low.status == BREACHED and low.details["responses"] == 3


def test_not_enough_responses_says_how_many_and_keeps_the_provisional_figure():
    verdict = experience_verdict("csat", [1, 2], CSAT_GOAL, 3, closed=False)
    assert verdict.status == NO_DATA
    assert verdict.details["reason"] == "Not enough responses: 2 of the 3 needed for a verdict."
    assert verdict.details["provisional_value"] == 1.5


def test_nps_verdict_counts_promoters_passives_and_detractors():
    verdict = experience_verdict("nps", [10, 9, 8, 3], NPS_GOAL, 2, True)
    assert verdict.value == 25.0 and verdict.status == MISSED_TARGET
    assert (verdict.details["promoters"], verdict.details["passives"]) == (2, 1)
    assert verdict.details["detractors"] == 1


def test_low_answers():
    assert is_low("csat", 2) and not is_low("csat", 3)
    assert is_low("nps", 6) and not is_low("nps", 7)


def test_the_worked_example_of_the_docs():
    csat = experience_verdict("csat", [5, 4, 1, 2], CSAT_GOAL, 3, closed=True)
    assert (csat.value, csat.status) == (3.0, BREACHED)
    early = experience_verdict("csat", [5, 4], CSAT_GOAL, 3, closed=True)
    assert "2 of the 3 needed" in early.details["reason"]
    nps = experience_verdict("nps", [10, 9, 7, 3], NPS_GOAL, 2, closed=True)
    assert (nps.value, nps.status) == (25.0, MISSED_TARGET)
