"""Validation of the other dialects read: OpenSLO v1alpha SLOs (as Sloth writes them) and
Sloth's own specs (``prometheus/v1`` and the ``sloth.slok.dev/v1`` Kubernetes form)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from agreements.openslo.checker import (
    OPERATORS,
    Checker,
    check_objective_target,
    check_time_window,
    join_path,
)

# --- OpenSLO v1alpha (as Sloth writes it) --------------------------------------------------


def _check_alpha_query(check: Checker, value: Any, path: str) -> None:
    query = check.mapping(value, path, ("source", "queryType", "query", "metadata"), ("query",))
    if query is not None:
        check.text(query.get("query"), f"{path}.query")


def check_v1alpha_slo(check: Checker, spec: Any, path: str) -> None:
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
        check_objective_target(check, objective, where)
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


def check_sloth(check: Checker, spec: dict, path: str = "", k8s: bool = False) -> None:
    top = ("service", "labels", "slos") + (() if k8s else ("version", "slo_plugins"))
    if k8s:
        top += ("sloPlugins",)
    check.mapping(spec, path, top, ("service", "slos"))
    check.text(spec.get("service"), join_path(path, "service"))
    slos = check.items(spec.get("slos"), join_path(path, "slos"), required=True)
    events = ("errorQuery", "totalQuery") if k8s else ("error_query", "total_query")
    raw = "errorRatioQuery" if k8s else "error_ratio_query"
    alerts = ("pageAlert", "ticketAlert") if k8s else ("page_alert", "ticket_alert")
    seen: set[str] = set()
    for i, slo in enumerate(slos):
        where = join_path(path, f"slos[{i}]")
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
