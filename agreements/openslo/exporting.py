"""Agreement target specs to OpenSLO v1 YAML that reads back to the same specs.

Each availability or performance target becomes one SLO object with its SLI inline:
availability as a ratio SLI over a RatioTimeslices budget (the average of one-minute slices'
success ratios is the share of time available, which is what the portal measures),
performance as a threshold SLI whose objective's ``value`` is the target value. The period is
a calendar-aligned window (1M, 1Q, 1Y) starting at midnight UTC on the first of January. What
OpenSLO has no field for goes into ``sla-portal/...`` annotations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from agreements.openslo import annotations as A
from agreements.openslo.periods import PERIOD_DURATION
from agreements.smart import TargetSpec

EXPORTED_METRICS = ("availability", "performance")
# OpenSLO requires a target below 1 on every objective; a performance target without a share
# goal has none, so this stands in for it and the empty compliance annotation says so.
PERFORMANCE_PLACEHOLDER_TARGET = 0.99
SOURCE_TYPE = "SLAPortal"


@dataclass(frozen=True)
class ExportedTarget:
    spec: TargetSpec
    service: str = ""  # the portal service's name; '' means every service of the agreement
    calendar: str = ""  # the calendar's name; '' means none of its own


def slug(text: str, fallback: str = "target") -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return value or fallback


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _float(value: Decimal) -> float | int:
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def write_openslo(
    targets: list[ExportedTarget], *, reference: str = "", year: int = 2000, title: str = ""
) -> str:
    """OpenSLO v1 YAML (a list of SLO objects, one per target) for the availability and performance
    targets among ``targets``; others are left out (OpenSLO describes neither ticket times
    nor error counts)."""
    documents = []
    taken: set[str] = set()
    for target in targets:
        spec = target.spec
        if spec.metric not in EXPORTED_METRICS:
            continue
        label = spec.name or ("Availability" if spec.metric == "availability" else "Performance")
        name = slug(label)
        base, n = name, 2
        while name in taken:
            suffix = f"-{n}"
            name, n = base[: 63 - len(suffix)] + suffix, n + 1
        taken.add(name)
        documents.append(_slo(target, name, label, reference, year))
    header = "# OpenSLO v1 export of the availability and performance targets"
    if reference:
        header += f" of {_one_line(reference)}" + (f" ({_one_line(title)})" if title else "")
    # One YAML document holding the list of objects (the go-sdk's and oslo's style): a reader
    # that takes a single document, as many HTTP clients do for application/yaml, gets it all.
    body = yaml.safe_dump(documents, sort_keys=False, allow_unicode=True) if documents else "[]\n"
    return f"{header}\n{body}"


def _one_line(text: str) -> str:
    """Text for the ``#`` comment: any line break (YAML's or Unicode's) would end the comment
    and turn the rest of the title into YAML."""
    return " ".join(text.split())


def _slo(target: ExportedTarget, name: str, label: str, reference: str, year: int) -> dict:
    spec = target.spec
    annotations = {
        A.NAME: spec.name,
        A.SERVICE: target.service,
        A.THRESHOLD: _number(spec.threshold_value),
        A.UNIT: spec.unit,
        A.WARNING: _number(spec.warning_percent),
        A.CALENDAR: target.calendar,
    }
    if reference:
        annotations[A.AGREEMENT] = reference

    def source() -> dict:
        # A fresh mapping each time: a shared one would be written as a YAML alias.
        return {"type": SOURCE_TYPE, "spec": {"dataSource": spec.data_source}}

    if spec.metric == "availability":
        indicator = {
            "ratioMetric": {"good": {"metricSource": source()}, "total": {"metricSource": source()}}
        }
        objective = {"displayName": label, "target": _float(spec.target_value / 100)}
        method = "RatioTimeslices"
        objective["timeSliceWindow"] = "1m"
    else:
        measured = source()
        measured["spec"]["name"] = spec.name
        indicator = {"thresholdMetric": {"metricSource": measured}}
        annotations[A.COMPLIANCE_TARGET] = _number(spec.compliance_target)
        annotations[A.COMPLIANCE_THRESHOLD] = _number(spec.compliance_threshold)
        share = (
            _float(spec.compliance_target / 100)
            if spec.compliance_target is not None and spec.compliance_target < 100
            else PERFORMANCE_PLACEHOLDER_TARGET
        )
        objective = {
            "displayName": label,
            "op": "lte" if spec.direction == "lower" else "gte",
            "value": _float(spec.target_value),
            "target": share,
        }
        method = "Occurrences"
    service = slug(target.service or reference or "agreement", "agreement")
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name, "displayName": label, "annotations": annotations},
        "spec": {
            "service": service,
            "indicator": {"metadata": {"name": f"{name[:59]}-sli"}, "spec": indicator},
            "timeWindow": [
                {
                    "duration": PERIOD_DURATION[spec.period],
                    "isRolling": False,
                    "calendar": {"startTime": f"{year:04d}-01-01 00:00:00", "timeZone": "UTC"},
                }
            ],
            "budgetingMethod": method,
            "objectives": [objective],
        },
    }


def portal_sources_only(value: Any) -> bool:
    """Every metric source in ``value`` is the portal's own (and there is at least one)."""
    found: list[bool] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            source = item.get("metricSource")
            if isinstance(source, dict):
                found.append(source.get("type") == SOURCE_TYPE)
            for child in item.values():
                walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(value)
    return bool(found) and all(found)
