"""Validation of OpenSLO v1 / v1alpha objects and Sloth specs, field by field.

The rules follow the OpenSLO specification and the go-sdk's validators (``openslo/go-sdk``
``pkg/openslo/v1``): RFC 1123 names, exactly one time window, ``target`` in [0, 1) or
``targetPercent`` in [0, 100) (one of them), ``timeSliceTarget`` and ``timeSliceWindow`` for
the time-slice budgeting methods, ``indicator`` xor ``indicatorRef``, duration shorthands,
IANA time zones, and no field the specification does not define (an unknown field is most
often a typo that would otherwise be dropped silently). Free-form parts (a metric source's
``spec``, a data source's ``connectionDetails``, Sloth plugin options) are not looked into.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agreements.openslo.problems import Problem

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DURATION_RE = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

V1 = "openslo/v1"
V1ALPHA = "openslo/v1alpha"
SLOTH = "prometheus/v1"
SLOTH_K8S = "sloth.slok.dev/v1"
V1_KINDS = (
    "SLO",
    "SLI",
    "Service",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
)
V1ALPHA_KINDS = ("SLO", "Service")
BUDGETING = ("Occurrences", "Timeslices", "RatioTimeslices")
OPERATORS = ("lt", "lte", "gt", "gte")
V1ALPHA_UNITS = ("Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year")
SUPPORTED = (
    f"{V1}, {V1ALPHA} (SLO and Service), Sloth's {SLOTH} and {SLOTH_K8S} PrometheusServiceLevel"
)


class Checker:
    """Collects the problems of one object; each check says where and why."""

    def __init__(self, index: int, kind: str = "", name: str = "") -> None:
        self.index, self.kind, self.name = index, kind, name
        self.problems: list[Problem] = []

    def error(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.index, self.kind, self.name, path, reason))

    def mapping(
        self,
        value: Any,
        path: str,
        allowed: tuple[str, ...] | None = None,
        required: tuple[str, ...] = (),
    ) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping of fields, not {_type(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    known = ", ".join(allowed)
                    self.error(
                        _join(path, str(key)), f"unknown field (the fields here are: {known})"
                    )
        for key in required:
            if value.get(key) is None:
                self.error(_join(path, key), "required field is missing")
        return value

    def text(self, value: Any, path: str, *, max_length: int | None = None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(path, f"must be text, not {_type(value)}")
            return None
        if max_length is not None and len(value) > max_length:
            self.error(path, f"at most {max_length} characters, not {len(value)}")
        return value

    def boolean(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            self.error(path, f"must be true or false, not {_type(value)}")

    def number(self, value: Any, path: str) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, f"must be a number, not {_type(value)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(path, f"must be a finite number, not {value}")
            return None
        return to_decimal(value)

    def one_of(self, value: Any, path: str, choices: tuple[str, ...]) -> None:
        if value is not None and value not in choices:
            self.error(path, f"must be one of {', '.join(choices)}, not {value!r}")

    def dns_name(self, value: Any, path: str) -> None:
        if value is None:
            self.error(path, "required field is missing")
            return
        if self.text(value, path) is None:
            return
        if len(value) > 63 or not NAME_RE.match(value):
            self.error(
                path,
                f"{value!r} is not an RFC 1123 name: at most 63 lower case letters, digits or "
                "'-', starting and ending with a letter or digit",
            )

    def duration(self, value: Any, path: str, *, numeric_ok: bool = False) -> None:
        if value is None:
            return
        if numeric_ok and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return
        if not isinstance(value, str) or not DURATION_RE.match(value):
            self.error(
                path,
                f"{value!r} is not a duration shorthand: a positive whole number followed by "
                "m, h, d, w, M, Q or Y (for example 28d, 1M)",
            )

    def items(self, value: Any, path: str, *, required: bool = False) -> list:
        if value is None:
            if required:
                self.error(path, "required field is missing")
            return []
        if not isinstance(value, list):
            self.error(path, f"must be a list, not {_type(value)}")
            return []
        if required and not value:
            self.error(path, "must hold at least one item")
        return value


def to_decimal(value: int | float) -> Decimal:
    # repr gives the shortest text that reads back to the same float: 0.999 stays 0.999.
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- OpenSLO v1 ----------------------------------------------------------------------------


def check_object(index: int, obj: Any) -> list[Problem]:
    """Every problem of one object of the file (an empty list: it is valid)."""
    if not isinstance(obj, dict):
        check = Checker(index)
        check.error("", f"a document must be a mapping with apiVersion and kind, not {_type(obj)}")
        return check.problems
    version = obj.get("apiVersion")
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else ""
    if version is None and "version" in obj:
        version = obj.get("version")
        check = Checker(
            index, "Sloth", obj.get("service") if isinstance(obj.get("service"), str) else ""
        )
        if version != SLOTH:
            check.error("version", f"unsupported Sloth spec version {version!r}: use {SLOTH}")
            return check.problems
        _check_sloth(check, obj)
        return check.problems
    check = Checker(index, kind, name)
    if version is None:
        check.error(
            "apiVersion",
            "required field is missing: this is neither an OpenSLO object (apiVersion, kind) "
            f"nor a Sloth spec (version: {SLOTH})",
        )
        return check.problems
    if version == SLOTH_K8S:
        if kind != "PrometheusServiceLevel":
            check.error(
                "kind",
                f"{kind or 'a missing kind'} ({SLOTH_K8S}) holds no objectives; only "
                "PrometheusServiceLevel is imported",
            )
            return check.problems
        check.mapping(obj, "", ("apiVersion", "kind", "metadata", "spec"), ("metadata", "spec"))
        _check_metadata(check, obj.get("metadata"), v1=False)
        spec = check.mapping(obj.get("spec"), "spec")
        if spec is not None:
            _check_sloth(check, spec, path="spec", k8s=True)
        return check.problems
    if version not in (V1, V1ALPHA):
        check.error("apiVersion", f"unsupported apiVersion {version!r}: supported are {SUPPORTED}")
        return check.problems
    kinds = V1_KINDS if version == V1 else V1ALPHA_KINDS
    if kind not in kinds:
        check.error(
            "kind", f"unsupported kind {obj.get('kind')!r} for {version}: use {', '.join(kinds)}"
        )
        return check.problems
    check.mapping(obj, "", ("apiVersion", "kind", "metadata", "spec"), ("metadata",))
    _check_metadata(check, obj.get("metadata"), v1=version == V1)
    spec = obj.get("spec")
    if spec is None and kind == "Service":
        return check.problems
    if spec is None:
        check.error("spec", "required field is missing")
        return check.problems
    if version == V1ALPHA:
        {"SLO": _check_v1alpha_slo, "Service": _check_service}[kind](check, spec, "spec")
    else:
        CHECKS_V1[kind](check, spec, "spec")
    return check.problems


def _check_metadata(check: Checker, metadata: Any, v1: bool, path: str = "metadata") -> None:
    allowed = ("name", "displayName", "labels", "annotations") + (() if v1 else ("namespace",))
    metadata = check.mapping(metadata, path, allowed)
    if metadata is None:
        return
    check.dns_name(metadata.get("name"), f"{path}.name")
    check.text(metadata.get("displayName"), f"{path}.displayName")
    labels = metadata.get("labels")
    if labels is not None and check.mapping(labels, f"{path}.labels") is not None:
        for key, value in labels.items():
            where = f"{path}.labels.{key}"
            if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
                check.error(where, "a label key is at most 63 letters, digits, '-', '_' or '.'")
            values = value if isinstance(value, list) else [value]
            if v1 and not all(isinstance(v, str) for v in values):
                check.error(where, "a label value is text or a list of texts")
    annotations = metadata.get("annotations")
    if annotations is not None and check.mapping(annotations, f"{path}.annotations") is not None:
        for key, value in annotations.items():
            where = f'{path}.annotations["{key}"]'
            if not isinstance(value, str):
                check.error(where, f"an annotation value is text, not {_type(value)}")
            prefix, _, name = str(key).rpartition("/")
            if not LABEL_KEY_RE.match(name) or (prefix and not PREFIX_RE.match(prefix)):
                check.error(
                    where, "an annotation key is an optional DNS prefix and '/' then a name"
                )


def _check_service(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(spec, path, ("description",))
    if spec is not None:
        check.text(spec.get("description"), f"{path}.description", max_length=1050)


def _check_data_source(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(spec, path, ("description", "type", "connectionDetails"), ("type",))
    if spec is not None:
        check.text(spec.get("description"), f"{path}.description", max_length=1050)
        check.text(spec.get("type"), f"{path}.type")


def _check_notification_target(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(spec, path, ("description", "target"), ("target",))
    if spec is not None:
        check.text(spec.get("description"), f"{path}.description", max_length=1050)
        check.text(spec.get("target"), f"{path}.target")


def _check_alert_condition(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(
        spec, path, ("description", "severity", "condition"), ("severity", "condition")
    )
    if spec is None:
        return
    check.text(spec.get("description"), f"{path}.description", max_length=1050)
    check.text(spec.get("severity"), f"{path}.severity")
    where = f"{path}.condition"
    condition = spec.get("condition")
    if condition is None:
        return
    condition = check.mapping(
        condition,
        where,
        ("kind", "op", "threshold", "lookbackWindow", "alertAfter"),
        ("kind", "op", "threshold", "lookbackWindow"),
    )
    if condition is None:
        return
    check.one_of(condition.get("kind"), f"{where}.kind", ("burnrate",))
    check.one_of(condition.get("op"), f"{where}.op", OPERATORS)
    check.number(condition.get("threshold"), f"{where}.threshold")
    check.duration(condition.get("lookbackWindow"), f"{where}.lookbackWindow")
    check.duration(condition.get("alertAfter"), f"{where}.alertAfter")


def _check_alert_policy(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(
        spec,
        path,
        (
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        ),
    )
    if spec is None:
        return
    check.text(spec.get("description"), f"{path}.description", max_length=1050)
    for flag in ("alertWhenNoData", "alertWhenResolved", "alertWhenBreaching"):
        check.boolean(spec.get(flag), f"{path}.{flag}")
    conditions = check.items(spec.get("conditions"), f"{path}.conditions", required=True)
    if len(conditions) > 1:
        check.error(f"{path}.conditions", "an alert policy has exactly one condition")
    for i, item in enumerate(conditions):
        _check_inline_or_ref(
            check,
            item,
            f"{path}.conditions[{i}]",
            "conditionRef",
            "AlertCondition",
            _check_alert_condition,
        )
    targets = check.items(
        spec.get("notificationTargets"), f"{path}.notificationTargets", required=True
    )
    for i, item in enumerate(targets):
        _check_inline_or_ref(
            check,
            item,
            f"{path}.notificationTargets[{i}]",
            "targetRef",
            "AlertNotificationTarget",
            _check_notification_target,
        )


def _check_inline_or_ref(check, item, path, ref_field, kind, spec_check) -> None:
    item = check.mapping(item, path)
    if item is None:
        return
    if ref_field in item:
        check.mapping(item, path, (ref_field,))
        check.dns_name(item.get(ref_field), f"{path}.{ref_field}")
        return
    check.mapping(item, path, ("kind", "metadata", "spec"), ("kind", "metadata", "spec"))
    if item.get("kind") is not None and item.get("kind") != kind:
        check.error(f"{path}.kind", f"must be {kind}, not {item.get('kind')!r}")
    if item.get("metadata") is not None:
        _check_metadata(check, item.get("metadata"), v1=True, path=f"{path}.metadata")
    if item.get("spec") is not None:
        spec_check(check, item.get("spec"), f"{path}.spec")


def _check_metric_source(check: Checker, value: Any, path: str) -> None:
    source = check.mapping(value, path, ("metricSource",), ("metricSource",))
    if source is None or source.get("metricSource") is None:
        return
    where = f"{path}.metricSource"
    inner = check.mapping(
        source["metricSource"], where, ("metricSourceRef", "type", "spec"), ("spec",)
    )
    if inner is not None:
        check.text(inner.get("metricSourceRef"), f"{where}.metricSourceRef")
        check.text(inner.get("type"), f"{where}.type")
        check.mapping(inner.get("spec"), f"{where}.spec") if inner.get("spec") is not None else None


def _check_sli_spec(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(spec, path, ("description", "thresholdMetric", "ratioMetric"))
    if spec is None:
        return
    check.text(spec.get("description"), f"{path}.description", max_length=1050)
    has_threshold, has_ratio = "thresholdMetric" in spec, "ratioMetric" in spec
    if has_threshold == has_ratio:
        check.error(path, "exactly one of thresholdMetric or ratioMetric is required")
    if has_threshold:
        _check_metric_source(check, spec["thresholdMetric"], f"{path}.thresholdMetric")
    if has_ratio:
        where = f"{path}.ratioMetric"
        ratio = check.mapping(
            spec["ratioMetric"], where, ("counter", "good", "bad", "raw", "rawType", "total")
        )
        if ratio is None:
            return
        check.boolean(ratio.get("counter"), f"{where}.counter")
        present = [k for k in ("good", "bad", "raw") if k in ratio]
        if len(present) != 1:
            check.error(where, "exactly one of good, bad or raw is required")
        if "raw" in ratio:
            check.one_of(ratio.get("rawType"), f"{where}.rawType", ("success", "failure"))
            if ratio.get("rawType") is None:
                check.error(f"{where}.rawType", "required with raw: success or failure")
            if "total" in ratio:
                check.error(f"{where}.total", "not allowed with raw")
        else:
            if "rawType" in ratio:
                check.error(f"{where}.rawType", "only allowed with raw")
            if ratio.get("total") is None:
                check.error(f"{where}.total", "required field is missing")
        for key in ("good", "bad", "raw", "total"):
            if ratio.get(key) is not None:
                _check_metric_source(check, ratio[key], f"{where}.{key}")


def _check_sli(check: Checker, spec: Any, path: str) -> None:
    _check_sli_spec(check, spec, path)


def _check_inline_indicator(check: Checker, value: Any, path: str) -> None:
    indicator = check.mapping(value, path, ("metadata", "spec"), ("metadata", "spec"))
    if indicator is None:
        return
    if indicator.get("metadata") is not None:
        _check_metadata(check, indicator["metadata"], v1=True, path=f"{path}.metadata")
    if indicator.get("spec") is not None:
        _check_sli_spec(check, indicator["spec"], f"{path}.spec")


def check_time_window(check: Checker, windows: Any, path: str, alpha: bool = False) -> None:
    windows = check.items(windows, path)
    if len(windows) > 1:
        check.error(path, f"exactly one time window is allowed, not {len(windows)}")
    for i, window in enumerate(windows[:1]):
        where = f"{path}[{i}]"
        fields = (
            ("unit", "count", "isRolling", "calendar")
            if alpha
            else ("duration", "isRolling", "calendar")
        )
        window = check.mapping(window, where, fields, ("unit", "count") if alpha else ("duration",))
        if window is None:
            continue
        if alpha:
            check.one_of(window.get("unit"), f"{where}.unit", V1ALPHA_UNITS)
            count = window.get("count")
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or count < 1
            ):
                check.error(f"{where}.count", f"must be a positive whole number, not {count!r}")
        else:
            check.duration(window.get("duration"), f"{where}.duration")
        check.boolean(window.get("isRolling"), f"{where}.isRolling")
        rolling = window.get("isRolling") is True
        calendar = window.get("calendar")
        if not alpha and rolling and calendar is not None:
            check.error(f"{where}.calendar", "'calendar' cannot be set when 'isRolling' is true")
        if not alpha and window.get("isRolling") is False and calendar is None:
            check.error(f"{where}.calendar", "'calendar' must be set when 'isRolling' is false")
        if calendar is not None:
            _check_calendar(check, calendar, f"{where}.calendar")


def _check_calendar(check: Checker, calendar: Any, path: str) -> None:
    calendar = check.mapping(calendar, path, ("startTime", "timeZone"), ("startTime", "timeZone"))
    if calendar is None:
        return
    start = calendar.get("startTime")
    if start is not None and not isinstance(start, (datetime, date)):
        try:
            datetime.strptime(str(start), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            check.error(
                f"{path}.startTime", f"{start!r} is not a date and time like 2022-01-01 12:00:00"
            )
    zone = calendar.get("timeZone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            check.error(
                f"{path}.timeZone", f"{zone!r} is not an IANA time zone (e.g. Europe/Warsaw)"
            )


def _check_objective_target(check: Checker, objective: dict, where: str) -> None:
    has_target, has_percent = "target" in objective, "targetPercent" in objective
    if has_target == has_percent:
        check.error(where, "exactly one of target (a ratio) or targetPercent is required")
    if has_target:
        value = check.number(objective.get("target"), f"{where}.target")
        if objective.get("target") is None:
            check.error(f"{where}.target", "required field is missing")
        elif value is not None and not Decimal(0) <= value <= Decimal(1):
            hint = " (a ratio: 0.999 means 99.9 %)" if value > 1 else ""
            check.error(f"{where}.target", f"must lie between 0 and 1, not {value}{hint}")
    if has_percent:
        value = check.number(objective.get("targetPercent"), f"{where}.targetPercent")
        if value is not None and not Decimal(0) <= value <= Decimal(100):
            check.error(f"{where}.targetPercent", f"must lie between 0 and 100, not {value}")


def _check_v1_slo(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(
        spec,
        path,
        (
            "description",
            "service",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        ),
        ("service", "budgetingMethod", "objectives"),
    )
    if spec is None:
        return
    check.text(spec.get("description"), f"{path}.description", max_length=1050)
    check.text(spec.get("service"), f"{path}.service")
    method = spec.get("budgetingMethod")
    check.one_of(method, f"{path}.budgetingMethod", BUDGETING)
    objectives = check.items(spec.get("objectives"), f"{path}.objectives", required=True)
    composite = any(
        isinstance(o, dict) and ("indicator" in o or "indicatorRef" in o) for o in objectives
    )
    own = "indicator" in spec or "indicatorRef" in spec
    if composite and own:
        check.error(path, "indicator/indicatorRef belong on spec or on every objective, not both")
    elif not composite and not own:
        check.error(f"{path}.indicator", "one of indicator or indicatorRef is required")
    if "indicator" in spec and "indicatorRef" in spec:
        check.error(f"{path}.indicatorRef", "give indicator or indicatorRef, not both")
    if spec.get("indicator") is not None:
        _check_inline_indicator(check, spec["indicator"], f"{path}.indicator")
    if "indicatorRef" in spec:
        check.dns_name(spec.get("indicatorRef"), f"{path}.indicatorRef")
    check_time_window(check, spec.get("timeWindow"), f"{path}.timeWindow")
    for i, objective in enumerate(objectives):
        where = f"{path}.objectives[{i}]"
        objective = check.mapping(
            objective,
            where,
            (
                "displayName",
                "op",
                "value",
                "target",
                "targetPercent",
                "timeSliceTarget",
                "timeSliceWindow",
                "indicator",
                "indicatorRef",
                "compositeWeight",
            ),
        )
        if objective is None:
            continue
        check.text(objective.get("displayName"), f"{where}.displayName")
        check.one_of(objective.get("op"), f"{where}.op", OPERATORS)
        check.number(objective.get("value"), f"{where}.value")
        _check_objective_target(check, objective, where)
        if method == "Timeslices":
            slice_target = check.number(
                objective.get("timeSliceTarget"), f"{where}.timeSliceTarget"
            )
            if objective.get("timeSliceTarget") is None:
                check.error(f"{where}.timeSliceTarget", "required with budgetingMethod Timeslices")
            elif slice_target is not None and not Decimal(0) < slice_target <= Decimal(1):
                check.error(f"{where}.timeSliceTarget", f"must lie in (0, 1], not {slice_target}")
        if method in ("Timeslices", "RatioTimeslices") and objective.get("timeSliceWindow") is None:
            check.error(f"{where}.timeSliceWindow", f"required with budgetingMethod {method}")
        check.duration(
            objective.get("timeSliceWindow"), f"{where}.timeSliceWindow", numeric_ok=True
        )
        weight = check.number(objective.get("compositeWeight"), f"{where}.compositeWeight")
        if weight is not None and weight <= 0:
            check.error(f"{where}.compositeWeight", f"must be greater than 0, not {weight}")
        if objective.get("indicator") is not None:
            _check_inline_indicator(check, objective["indicator"], f"{where}.indicator")
        if "indicatorRef" in objective:
            check.dns_name(objective.get("indicatorRef"), f"{where}.indicatorRef")
    for i, policy in enumerate(check.items(spec.get("alertPolicies"), f"{path}.alertPolicies")):
        where = f"{path}.alertPolicies[{i}]"
        item = check.mapping(policy, where)
        if item is None:
            continue
        if "alertPolicyRef" in item:
            check.mapping(item, where, ("alertPolicyRef",))
            check.dns_name(item.get("alertPolicyRef"), f"{where}.alertPolicyRef")
            continue
        check.mapping(item, where, ("kind", "metadata", "spec"), ("kind", "metadata", "spec"))
        if item.get("kind") is not None and item.get("kind") != "AlertPolicy":
            check.error(f"{where}.kind", f"must be AlertPolicy, not {item.get('kind')!r}")
        if item.get("metadata") is not None:
            _check_metadata(check, item["metadata"], v1=True, path=f"{where}.metadata")
        if item.get("spec") is not None:
            _check_alert_policy(check, item["spec"], f"{where}.spec")


CHECKS_V1 = {
    "SLO": _check_v1_slo,
    "SLI": _check_sli,
    "Service": _check_service,
    "AlertPolicy": _check_alert_policy,
    "AlertCondition": _check_alert_condition,
    "AlertNotificationTarget": _check_notification_target,
    "DataSource": _check_data_source,
}


# --- OpenSLO v1alpha (as Sloth writes it) --------------------------------------------------


def _check_alpha_query(check: Checker, value: Any, path: str) -> None:
    query = check.mapping(value, path, ("source", "queryType", "query", "metadata"), ("query",))
    if query is not None:
        check.text(query.get("query"), f"{path}.query")


def _check_v1alpha_slo(check: Checker, spec: Any, path: str) -> None:
    spec = check.mapping(
        spec,
        path,
        ("description", "service", "indicator", "timeWindows", "budgetingMethod", "objectives"),
        ("service", "budgetingMethod", "objectives"),
    )
    if spec is None:
        return
    check.text(spec.get("description"), f"{path}.description", max_length=1050)
    check.text(spec.get("service"), f"{path}.service")
    method = spec.get("budgetingMethod")
    check.one_of(method, f"{path}.budgetingMethod", ("Occurrences", "Timeslices"))
    if spec.get("indicator") is not None:
        indicator = check.mapping(spec["indicator"], f"{path}.indicator", ("thresholdMetric",))
        if indicator is not None and indicator.get("thresholdMetric") is not None:
            _check_alpha_query(
                check, indicator["thresholdMetric"], f"{path}.indicator.thresholdMetric"
            )
    check_time_window(check, spec.get("timeWindows"), f"{path}.timeWindows", alpha=True)
    objectives = check.items(spec.get("objectives"), f"{path}.objectives", required=True)
    for i, objective in enumerate(objectives):
        where = f"{path}.objectives[{i}]"
        objective = check.mapping(
            objective,
            where,
            ("displayName", "op", "value", "target", "timeSliceTarget", "ratioMetrics"),
            ("target",),
        )
        if objective is None:
            continue
        check.one_of(objective.get("op"), f"{where}.op", OPERATORS)
        check.number(objective.get("value"), f"{where}.value")
        _check_objective_target(check, objective, where)
        ratio = objective.get("ratioMetrics")
        if ratio is None and spec.get("indicator") is None:
            check.error(where, "a ratioMetrics here or a spec.indicator is required")
        if ratio is not None:
            ratio = check.mapping(
                ratio, f"{where}.ratioMetrics", ("incremental", "good", "total"), ("good", "total")
            )
            if ratio is not None:
                for key in ("good", "total"):
                    if ratio.get(key) is not None:
                        _check_alpha_query(check, ratio[key], f"{where}.ratioMetrics.{key}")
        if spec.get("indicator") is not None and ratio is None:
            if objective.get("value") is None:
                check.error(f"{where}.value", "required with a threshold metric")
            if objective.get("op") is None:
                check.error(f"{where}.op", "required with a threshold metric")
        if method == "Timeslices" and objective.get("timeSliceTarget") is None:
            check.error(f"{where}.timeSliceTarget", "required with budgetingMethod Timeslices")


# --- Sloth ---------------------------------------------------------------------------------


def _check_sloth(check: Checker, spec: dict, path: str = "", k8s: bool = False) -> None:
    top = ("service", "labels", "slos") + (() if k8s else ("version", "slo_plugins"))
    if k8s:
        top += ("sloPlugins",)
    check.mapping(spec, path, top, ("service", "slos"))
    check.text(spec.get("service"), _join(path, "service"))
    slos = check.items(spec.get("slos"), _join(path, "slos"), required=True)
    events = ("errorQuery", "totalQuery") if k8s else ("error_query", "total_query")
    raw = "errorRatioQuery" if k8s else "error_ratio_query"
    alerts = ("pageAlert", "ticketAlert") if k8s else ("page_alert", "ticket_alert")
    seen: set[str] = set()
    for i, slo in enumerate(slos):
        where = _join(path, f"slos[{i}]")
        slo = check.mapping(
            slo,
            where,
            ("name", "objective", "description", "labels", "sli", "alerting", "plugins"),
            ("name", "objective", "sli"),
        )
        if slo is None:
            continue
        name = slo.get("name")
        if check.text(name, f"{where}.name") is not None:
            if not re.match(r"^[A-Za-z0-9][-A-Za-z0-9_]*$", name):
                check.error(
                    f"{where}.name", f"{name!r} is not a Sloth SLO name (letters, digits, '-', '_')"
                )
            if name in seen:
                check.error(f"{where}.name", f"SLO {name!r} appears twice in this service")
            seen.add(name)
        objective = check.number(slo.get("objective"), f"{where}.objective")
        if objective is not None and not Decimal(0) < objective <= Decimal(100):
            hint = " (Sloth objectives are percentages: 99.9, not 0.999)" if objective <= 1 else ""
            check.error(
                f"{where}.objective", f"must be above 0 and at most 100, not {objective}{hint}"
            )
        sli = (
            check.mapping(slo.get("sli"), f"{where}.sli", ("events", "raw", "plugin"))
            if slo.get("sli") is not None
            else None
        )
        if sli is not None:
            if len([k for k in ("events", "raw", "plugin") if k in sli]) != 1:
                check.error(f"{where}.sli", "exactly one of events, raw or plugin is required")
            if "events" in sli:
                check.mapping(sli["events"], f"{where}.sli.events", events, events)
            if "raw" in sli:
                check.mapping(sli["raw"], f"{where}.sli.raw", (raw,), (raw,))
            if "plugin" in sli:
                check.mapping(sli["plugin"], f"{where}.sli.plugin", ("id", "options"), ("id",))
        if slo.get("alerting") is not None:
            alerting = check.mapping(
                slo["alerting"], f"{where}.alerting", ("name", "labels", "annotations", *alerts)
            )
            if alerting is not None:
                for key in alerts:
                    if alerting.get(key) is not None:
                        check.mapping(
                            alerting[key],
                            f"{where}.alerting.{key}",
                            ("disable", "labels", "annotations"),
                        )
