"""Validation of OpenSLO v1 objects, and the dispatch of every object of a file to its
checks (v1alpha and Sloth specs are in :mod:`agreements.openslo.dialects`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agreements.openslo.checker import (
    BUDGETING,
    LABEL_KEY_RE,
    OPERATORS,
    PREFIX_RE,
    SLOTH,
    SLOTH_K8S,
    SUPPORTED,
    V1,
    V1_KINDS,
    V1ALPHA,
    V1ALPHA_KINDS,
    Checker,
    check_objective_target,
    check_time_window,
    type_name,
)
from agreements.openslo.dialects import check_sloth, check_v1alpha_slo
from agreements.openslo.problems import Problem

# --- OpenSLO v1 ----------------------------------------------------------------------------


def check_object(index: int, obj: Any) -> list[Problem]:
    """Every problem of one object of the file (an empty list: it is valid)."""
    if not isinstance(obj, dict):
        check = Checker(index)
        check.error(
            "", f"a document must be a mapping with apiVersion and kind, not {type_name(obj)}"
        )
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
        check_sloth(check, obj)
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
            check_sloth(check, spec, path="spec", k8s=True)
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
        {"SLO": check_v1alpha_slo, "Service": _check_service}[kind](check, spec, "spec")
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
                check.error(where, f"an annotation value is text, not {type_name(value)}")
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
        check_objective_target(check, objective, where)
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
        if (
            composite
            and not own
            and "indicator" not in objective
            and "indicatorRef" not in objective
        ):
            check.error(
                f"{where}.indicator",
                "one of indicator or indicatorRef is required: the SLO has none of its own, so "
                "every objective names its SLI",
            )
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
