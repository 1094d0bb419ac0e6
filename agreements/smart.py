"""SMART validation of a target, as plain rules over plain values (no Django import).

Each rule explains itself in the words a service manager uses: a target is Specific (a metric
and its scope), Measurable (a unit and a data source that can measure it), Achievable/realistic
(the threshold of unacceptable service is never better than the target, percentages lie within
0-100, times are positive) and Time-bound (a measurement period).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

TICKET_METRICS = frozenset({"response_time", "resolution_time", "security_notification"})
TIME_METRICS = frozenset(
    {"response_time", "resolution_time", "recovery_time", "security_notification"}
)
TIME_UNITS = frozenset({"minutes", "hours", "seconds", "ms"})
# Experience targets (docs/experience.md): the range of their values, and they need a
# minimum number of responses before a period gets a verdict.
EXPERIENCE_METRICS = frozenset({"csat", "nps"})
EXPERIENCE_RANGE = {"csat": (Decimal(1), Decimal(5)), "nps": (Decimal(-100), Decimal(100))}

# Which units and data sources can measure each metric.
ALLOWED_UNITS = {
    "response_time": {"minutes", "hours"},
    "resolution_time": {"minutes", "hours"},
    "security_notification": {"minutes", "hours"},
    "recovery_time": {"minutes", "hours"},
    "availability": {"percent"},
    "error_count": {"count"},
    "performance": {"ms", "seconds", "percent", "count", "other"},
    "custom": {"ms", "seconds", "minutes", "hours", "percent", "count", "other"},
    "csat": {"score"},
    "nps": {"score"},
}
ALLOWED_SOURCES = {
    "response_time": {"tickets"},
    "resolution_time": {"tickets"},
    "security_notification": {"security_incidents", "tickets"},
    "recovery_time": {"incidents"},
    "availability": {"uptime"},
    "error_count": {"errors"},
    "performance": {"measurements"},
    "custom": {"measurements"},
    # CSAT ratings are stored on tickets (imported, or answered in the resolution survey).
    "csat": {"tickets"},
    "nps": {"surveys"},
}
# The natural direction of each metric; performance and custom values may go either way.
FIXED_DIRECTION = {
    "response_time": "lower",
    "resolution_time": "lower",
    "security_notification": "lower",
    "recovery_time": "lower",
    "availability": "higher",
    "error_count": "lower",
    "csat": "higher",
    "nps": "higher",
}
DEFAULT_UNIT = {
    "response_time": "minutes",
    "resolution_time": "hours",
    "security_notification": "hours",
    "recovery_time": "hours",
    "availability": "percent",
    "error_count": "count",
    "performance": "ms",
    "custom": "other",
    "csat": "score",
    "nps": "score",
}
DEFAULT_SOURCE = {metric: sorted(sources)[0] for metric, sources in ALLOWED_SOURCES.items()}
DEFAULT_SOURCE["security_notification"] = "security_incidents"


@dataclass(frozen=True)
class TargetSpec:
    metric: str
    target_value: Decimal | None
    threshold_value: Decimal | None
    unit: str
    direction: str
    period: str
    data_source: str
    name: str = ""
    priority: str = ""
    error_category: str = ""
    compliance_target: Decimal | None = None
    compliance_threshold: Decimal | None = None
    warning_percent: Decimal | None = None
    min_responses: int | None = None


def smart_errors(spec: TargetSpec) -> dict[str, list[str]]:
    """Every SMART rule the target breaks, keyed by field; empty when the target is SMART."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    metric = spec.metric
    # Specific: a metric and its scope.
    if metric not in ALLOWED_UNITS:
        add("metric", "Specific: choose what is measured (a metric).")
        return errors
    if metric in {"response_time", "resolution_time"} and not spec.priority:
        add("priority", "Specific: say which ticket priority this time target applies to.")
    if metric == "error_count" and not spec.error_category.strip():
        add("error_category", "Specific: name the error category whose errors are counted.")
    if metric in {"performance", "custom"} and not spec.name.strip():
        add("name", "Specific: name the measured value (for example 'p95 page load time').")

    # Measurable: a unit and a data source that can measure the metric.
    if spec.unit not in ALLOWED_UNITS[metric]:
        allowed = ", ".join(sorted(ALLOWED_UNITS[metric]))
        add("unit", f"Measurable: a {metric.replace('_', ' ')} is measured in {allowed}.")
    if spec.data_source not in ALLOWED_SOURCES[metric]:
        allowed = ", ".join(sorted(ALLOWED_SOURCES[metric]))
        add("data_source", f"Measurable: a {metric.replace('_', ' ')} comes from {allowed}.")
    fixed = FIXED_DIRECTION.get(metric)
    if fixed and spec.direction != fixed:
        word = "lower" if fixed == "lower" else "higher"
        add("direction", f"Measurable: for {metric.replace('_', ' ')}, {word} is better.")

    # Realistic: values present, in range, threshold no better than the target.
    target, threshold = spec.target_value, spec.threshold_value
    if target is None:
        add("target_value", "Measurable: give the target value we aim for.")
    if threshold is None:
        add("threshold_value", "Measurable: give the threshold of unacceptable service.")
    if target is not None and threshold is not None:
        _check_values(spec, target, threshold, add)

    if metric in TICKET_METRICS:
        ct, cth = spec.compliance_target, spec.compliance_threshold
        if ct is None or cth is None:
            add(
                "compliance_target",
                "Measurable: ticket targets need a compliance goal, e.g. 95% of tickets meet "
                "the target and below 90% is a breach.",
            )
        else:
            for field, value in (("compliance_target", ct), ("compliance_threshold", cth)):
                if not Decimal(0) < value <= Decimal(100):
                    add(field, "Realistic: a share of tickets lies between 0 and 100%.")
            if cth > ct:
                add(
                    "compliance_threshold",
                    f"Realistic: the breach level ({cth}%) cannot be above the compliance "
                    f"goal ({ct}%).",
                )
    if metric in EXPERIENCE_METRICS:
        _check_experience(spec, add)
    elif spec.min_responses is not None:
        add("min_responses", "Specific: a minimum of responses applies to CSAT and NPS only.")
    warning = spec.warning_percent
    if warning is not None and not Decimal(0) < warning < Decimal(100):
        add("warning_percent", "Realistic: warn at a share of the time between 1 and 99%.")

    # Time-bound: a measurement period.
    if spec.period not in {"month", "quarter", "year"}:
        add("period", "Time-bound: choose the measurement period (month, quarter or year).")
    return errors


def _check_values(spec: TargetSpec, target: Decimal, threshold: Decimal, add) -> None:
    if spec.unit == "percent":
        for field, value in (("target_value", target), ("threshold_value", threshold)):
            if not Decimal(0) <= value <= Decimal(100):
                add(field, f"Realistic: a percentage lies between 0 and 100, not {value}.")
    if spec.unit in TIME_UNITS or spec.metric in TIME_METRICS:
        for field, value in (("target_value", target), ("threshold_value", threshold)):
            if value <= 0:
                add(field, f"Realistic: a time must be greater than 0, not {value}.")
    if spec.unit == "count" and (target < 0 or threshold < 0):
        add("target_value", "Realistic: a count cannot be negative.")
    if spec.direction == "lower" and threshold < target:
        add(
            "threshold_value",
            f"Realistic: the threshold ({threshold}) cannot be better than the target "
            f"({target}); lower is better here, so the threshold must be {target} or more.",
        )
    if spec.direction == "higher" and threshold > target:
        add(
            "threshold_value",
            f"Realistic: the threshold ({threshold}) cannot be better than the target "
            f"({target}); higher is better here, so the threshold must be {target} or less.",
        )


def _check_experience(spec: TargetSpec, add) -> None:
    low, high = EXPERIENCE_RANGE[spec.metric]
    name = "a CSAT (mean of 1-5 ratings)" if spec.metric == "csat" else "an NPS"
    for field in ("target_value", "threshold_value"):
        value = getattr(spec, field)
        if value is not None and not low <= value <= high:
            add(field, f"Realistic: {name} lies between {low} and {high}, not {value}.")
    if spec.min_responses is None or spec.min_responses < 1:
        add(
            "min_responses",
            "Measurable: say how many responses a period needs before it gets a verdict "
            "(at least 1; e.g. 10).",
        )
