"""Error budgets as the pages say them (``reporting.selectors.budgets``, ``_budget.html``)
and carried across evaluations (``monitoring.evaluation.budgets.keep_ran_out``): no database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.template.loader import render_to_string

from monitoring.compliance.budgets import Budget, carried
from monitoring.compliance.states import MET, NO_DATA
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.evaluation.budgets import keep_ran_out
from monitoring.models import PeriodResult
from reporting.selectors.budgets import budget_view

RAN_OUT = datetime(2026, 12, 1, 17, 37, tzinfo=UTC)


def view(budget: Budget):
    return budget_view(PeriodResult(details={"budget": budget.as_dict()}))


def html(budget: Budget, **flags) -> str:
    return render_to_string("reporting/_budget.html", {"b": view(budget), **flags})


def test_downtime_budget_in_words_with_its_bar_and_colour():
    """43 min 12 s allowed, 12 min used: 31 min left, 3 h 24 min before the 4 h threshold."""
    b = Budget("downtime", "seconds", 2_592, 12_960, 720, basis={"counted_seconds": 2_592_000})
    v = view(b)
    assert v.used == "12 min of 43 min downtime used"
    assert v.left == "31 min left before the target"
    assert v.threshold_left == "3 h 24 min before the threshold"
    assert (v.rag, v.short) == ("green", "budget 72% left")
    page = html(b)
    assert 'class="budget budget-green"' in page
    assert 'width="5.56"' in page and 'x1="20.00"' in page  # 720 and 2,592 of 12,960
    assert "(of 30 d counted service time)" in page


def test_usage_exactly_at_the_allowance_reads_zero_left_in_green():
    """Floating point makes 99.9 % of 30 days 2,591.99999999985 s: 2,592 s used is at it."""
    b = Budget("downtime", "seconds", 2591.99999999985, 12_960, 2592.0)
    b = Budget(**{**b.__dict__, "basis": {"counted_seconds": 2_592_000}})
    v = view(b)
    assert v.left == "0 s left before the target"
    assert v.rag == "green" and "overspent" not in html(b)


def test_ticket_budget_overspent_is_amber_and_dated():
    b = Budget(
        "tickets", "tickets", 2.1, 4.2, 3, ran_out_at=RAN_OUT, basis={"expected": 1_234_567.0}
    )
    v = view(b)
    assert v.used == "3 missed of 2 tickets allowed to miss"
    assert v.left == "1 missed too many"
    assert v.threshold_left == "1 before the threshold"
    assert v.rag == "amber"
    page = html(b)
    assert "budget-amber" in page and "ran out" in page and "1 Dec 17:37" in page
    assert "2.1 of 1,234,567 tickets expected this period" in page and "e+" not in page


def test_one_expected_ticket_is_singular():
    b = Budget("tickets", "tickets", 0.05, 0.1, 0, basis={"expected": 1.0})
    assert view(b).note == "0.1 of 1 ticket expected this period"


def test_a_fraction_of_a_ticket_allowed_means_none_may_miss():
    """5 % of 14 expected tickets is 0.7: one miss already misses the target, so the page
    says no ticket may miss, in whole tickets, and keeps the exact 0.7 in the note."""
    b = Budget("tickets", "tickets", 0.7, 1.4, 1, basis={"expected": 14.0})
    v = view(b)
    assert v.used == "1 missed of 0 tickets allowed to miss"
    assert (v.left, v.threshold_left, v.rag) == (
        "1 missed too many",
        "0 before the threshold",
        "amber",
    )
    assert v.note == "0.7 of 14 tickets expected this period"
    quiet = view(Budget("tickets", "tickets", 2.9999999, 5.0, 1, basis={"expected": 60.0}))
    assert (quiet.used, quiet.left) == (
        "1 missed of 3 tickets allowed to miss",
        "2 more may miss before the target",
    )


def test_past_the_threshold_is_red():
    b = Budget("errors", "errors", 2, 5, 7, ran_out_at=RAN_OUT, threshold_ran_out_at=RAN_OUT)
    v = view(b)
    assert (v.rag, v.left, v.threshold_left) == ("red", "overspent by 5", "2 past the threshold")
    assert "budget-red" in html(b) and "threshold's ran out" in html(b)


def test_performance_budget_says_the_samples_at_the_threshold_that_still_fit():
    """Target 800 ms, threshold 1,500 ms: each sample at the threshold spends 700 ms of
    excess; 2,200 ms left fit 3 of them. Large figures read as time, not 1.2e+06 ms."""
    basis = {"samples": 40, "slow_samples": 3, "mean": 745, "excess_per_threshold_sample": 700}
    b = Budget("excess", "ms", 4_000, 32_000, 1_800, basis=basis)
    assert b.samples_left == 3 and b.as_dict()["samples_left"] == 3
    v = view(b)
    assert v.used == "1,800 ms of 4,000 ms allowed excess over the target used"
    assert v.left == "2,200 ms left before the target (3 more samples at the threshold)"
    assert v.threshold_left == "30 s before the threshold"
    big = Budget("excess", "ms", 1_234_567, 2_000_000, 0, basis=basis)
    assert view(big).used.endswith("of 21 min allowed excess over the target used")
    odd = Budget("excess", "other", 3.25, 9, 0, basis=basis)
    assert view(odd).used == "0 of 3.2 allowed excess over the target used"
    points = Budget("excess", "percent", 36, 90, 0, basis=basis)
    assert view(points).used == "0 points of 36 points allowed excess over the target used"


def test_a_kept_moment_while_back_within_budget_is_said_so():
    b = Budget("tickets", "tickets", 3.5, 7.0, 3, ran_out_at=RAN_OUT, basis={"expected": 70})
    v = view(b)
    assert v.back_within and v.rag == "green"
    page = html(b, chip=True)  # the chip shows the words here, not only the short line
    assert "ran out" in page and "back within budget now" in page


def test_the_chip_is_one_short_line_unless_amber_or_red():
    green = Budget("downtime", "seconds", 2_592, 12_960, 1_425.6)
    page = html(green, chip=True)
    assert '<span class="budget-short">budget 45% left</span>' in page
    assert "<svg" not in page and "<p" not in page
    amber = Budget("downtime", "seconds", 2_592, 12_960, 3_000, ran_out_at=RAN_OUT)
    page = html(amber, chip=True)
    assert "overspent by 7 min" in page and "<svg" not in page


GOAL = Goal(99.9, 99.5, True, 75.0)


def test_a_budget_absent_for_a_while_keeps_its_moment_and_comes_back():
    """A silence not counted as down leaves an open period without figures: the budget it
    had is kept, moment and all; when data is back the moment is still the one found."""
    fresh = Budget("downtime", "seconds", 2_592, 12_960, 3_000, ran_out_at=RAN_OUT)
    first = keep_ran_out(
        Verdict(99.8, "missed_target", False, {"budget": fresh.as_dict()}), {}, False, GOAL
    )
    stored = first.details
    assert stored["budget"]["basis"]["ran_out_consumed"] == 3_000
    gap = keep_ran_out(Verdict(None, NO_DATA, False, {"reason": "silent"}), stored, False, GOAL)
    assert Budget.from_dict(gap.details["budget"]).ran_out_at == RAN_OUT
    later = Budget("downtime", "seconds", 2_592, 12_960, 3_000, ran_out_at=RAN_OUT.replace(hour=18))
    back = keep_ran_out(
        Verdict(99.8, "missed_target", False, {"budget": later.as_dict()}), gap.details, False, GOAL
    )
    assert Budget.from_dict(back.details["budget"]).ran_out_at == RAN_OUT
    # Closed without figures, or figures without a budget: nothing to keep.
    shut = keep_ran_out(Verdict(None, NO_DATA, True, {}), stored, True, GOAL)
    assert "budget" not in shut.details
    met = keep_ran_out(Verdict(100.0, MET, False, {"met": 0, "missed": 0}), stored, False, GOAL)
    assert "budget" not in met.details


def test_carried_records_the_goal_it_was_found_under():
    kept = carried(Budget("errors", "errors", 2, 5, 3, ran_out_at=RAN_OUT), None, goal=(2, 5))
    assert kept.basis["goal"] == [2, 5]
