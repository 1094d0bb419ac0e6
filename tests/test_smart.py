"""SMART validation of targets: pure rules, every message says what and why."""

from decimal import Decimal as D

import pytest

from agreements.smart import TargetSpec, smart_errors


def spec(**overrides) -> TargetSpec:
    values = dict(
        metric="response_time",
        target_value=D(15),
        threshold_value=D(30),
        unit="minutes",
        direction="lower",
        period="month",
        data_source="tickets",
        priority="P1",
        compliance_target=D(95),
        compliance_threshold=D(90),
        warning_percent=D(75),
    )
    values.update(overrides)
    return TargetSpec(**values)


def test_a_good_response_target_is_smart():
    assert smart_errors(spec()) == {}


def test_threshold_better_than_target_is_refused_with_explanation():
    errors = smart_errors(spec(threshold_value=D(10)))
    assert list(errors) == ["threshold_value"]
    assert "cannot be better than the target (15)" in errors["threshold_value"][0]


def test_for_higher_is_better_the_threshold_must_be_lower():
    ok = spec(
        metric="availability",
        unit="percent",
        direction="higher",
        data_source="uptime",
        target_value=D("99.9"),
        threshold_value=D("99.5"),
        priority="",
        compliance_target=None,
        compliance_threshold=None,
    )
    assert smart_errors(ok) == {}
    bad = smart_errors(ok.__class__(**{**ok.__dict__, "threshold_value": D("99.95")}))
    assert "must be 99.9 or less" in bad["threshold_value"][0]


def test_percentages_stay_within_0_and_100():
    errors = smart_errors(
        spec(
            metric="availability",
            unit="percent",
            direction="higher",
            data_source="uptime",
            target_value=D(101),
            threshold_value=D(99),
            priority="",
        )
    )
    assert any("between 0 and 100" in m for m in errors["target_value"])


def test_times_must_be_positive():
    errors = smart_errors(spec(target_value=D(0), threshold_value=D(0)))
    assert "greater than 0" in errors["target_value"][0]


def test_ticket_targets_are_specific_about_priority():
    assert "which ticket priority" in smart_errors(spec(priority=""))["priority"][0]


def test_error_counts_name_their_category():
    errors = smart_errors(
        spec(
            metric="error_count",
            unit="count",
            data_source="errors",
            target_value=D(2),
            threshold_value=D(5),
            priority="",
            compliance_target=None,
            compliance_threshold=None,
        )
    )
    assert "error category" in errors["error_category"][0]


def test_measurable_unit_and_source_must_fit_the_metric():
    errors = smart_errors(spec(unit="percent", data_source="uptime"))
    assert "measured in hours, minutes" in errors["unit"][0]
    assert "comes from tickets" in errors["data_source"][0]


def test_ticket_targets_need_a_compliance_goal_with_breach_not_above_goal():
    assert "compliance goal" in smart_errors(spec(compliance_target=None))["compliance_target"][0]
    errors = smart_errors(spec(compliance_target=D(90), compliance_threshold=D(95)))
    assert "cannot be above the compliance goal" in errors["compliance_threshold"][0]


def test_fixed_direction_metrics_refuse_the_wrong_direction():
    assert "lower is better" in smart_errors(spec(direction="higher"))["direction"][0]


@pytest.mark.parametrize("warning", [D(0), D(100), D(120)])
def test_warning_point_lies_strictly_inside_the_allowed_time(warning):
    assert "warning_percent" in smart_errors(spec(warning_percent=warning))


def test_time_bound_needs_a_period():
    assert "Time-bound" in smart_errors(spec(period=""))["period"][0]


def test_performance_values_need_a_name():
    errors = smart_errors(
        spec(
            metric="performance",
            unit="ms",
            data_source="measurements",
            priority="",
            name="",
            target_value=D(800),
            threshold_value=D(1500),
            compliance_target=None,
            compliance_threshold=None,
        )
    )
    assert "name the measured value" in errors["name"][0]
