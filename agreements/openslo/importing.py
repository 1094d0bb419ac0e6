"""OpenSLO v1 / v1alpha objects and Sloth specs to agreement target specs.

Mapping (docs/openslo.md has the full table): an SLO objective over a ratio SLI (good or bad
over total events, Sloth's events and raw error ratios) becomes an *availability* target in
percent; an objective over a threshold metric becomes a *performance* target whose value is
the objective's ``value``. What OpenSLO has no field for (the threshold of unacceptable
service, the unit of a measured value, the warning level, the calendar) is read from
``sla-portal/...`` annotations, which the portal's own export writes; without them a stated
rule fills the value in and says so in a :class:`Note`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from agreements.openslo import annotations as A
from agreements.openslo.checker import V1, V1ALPHA
from agreements.openslo.converting import Converter
from agreements.openslo.loading import load_objects
from agreements.openslo.problems import Note, Problem
from agreements.openslo.results import ObjectSummary, Reading
from agreements.openslo.schema import check_object
from agreements.smart import smart_errors

MAX_TARGETS = 200
MAX_OBJECTS = 1_000


def read_targets(text: str | bytes) -> Reading:
    """Read OpenSLO / Sloth YAML (one or many documents) into target specs. All or nothing:
    when any object is invalid, ``problems`` lists every problem and ``targets`` is empty."""
    reading = Reading()
    loaded = load_objects(text)
    if loaded.problems:
        reading.problems = loaded.problems
        return reading
    # A field set to null is a field not given (``alertPolicies:`` with nothing after it is
    # common in the specification's own examples); every check below then sees one case.
    objects = [_without_nulls(obj) for obj in loaded.objects]
    # Refused before any check: the work of checking and converting grows with these counts.
    if len(objects) > MAX_OBJECTS:
        reading.problems.append(
            _file_problem(
                f"The file holds {len(objects):,} objects; at most {MAX_OBJECTS:,} are read."
            )
        )
        return reading
    objectives = sum(_objective_count(obj) for obj in objects)
    if objectives > MAX_TARGETS:
        reading.problems.append(_too_many(objectives, "objectives"))
        return reading
    for index, obj in enumerate(objects):
        reading.objects.append(_summary(index, obj))
        reading.problems.extend(check_object(index, obj))
    if reading.problems:
        return reading
    reading.problems.extend(_duplicate_names(reading))
    reading.problems.extend(_check_references(objects, reading))
    if reading.problems:
        return reading
    used_slis: set[str] = set()
    slis: dict[str, dict] = {}
    for summary, obj in zip(reading.objects, objects, strict=True):
        if summary.api_version == V1 and summary.kind == "SLI":
            slis.setdefault(summary.name, obj)
    for index, obj in enumerate(objects):
        Converter(index, obj, slis, reading, used_slis).run()
    for summary in reading.objects:
        if summary.kind == "SLI" and summary.name not in used_slis:
            reading.notes.append(
                Note(
                    summary.index,
                    summary.name,
                    "",
                    "unused-sli",
                    "No SLO of this file uses this SLI: it gives no target on its own.",
                )
            )
    if len(reading.targets) > MAX_TARGETS:  # pragma: no cover - objectives are counted first
        reading.problems.append(_too_many(len(reading.targets), "targets"))
    _unique_names(reading)
    _smart(reading)
    # One rule said once per place: several objectives of one object may hit the same one.
    reading.notes = list(dict.fromkeys(reading.notes))
    if reading.problems:
        reading.targets = []
    return reading


def _file_problem(reason: str) -> Problem:
    return Problem(None, "", "", "", reason)


def _too_many(count: int, what: str) -> Problem:
    return _file_problem(
        f"The file gives {count} {what}; at most {MAX_TARGETS} are imported at once (an "
        "agreement with more would not be read by anyone)."
    )


def _objective_count(obj: Any) -> int:
    """How many targets an object could give at most: its objectives (Sloth: its SLOs)."""
    if not isinstance(obj, dict):
        return 0
    spec = obj if "version" in obj and "apiVersion" not in obj else obj.get("spec")
    if not isinstance(spec, dict):
        return 0
    items = spec.get("slos") if "slos" in spec else spec.get("objectives")
    return len(items) if isinstance(items, list) else 0


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _summary(index: int, obj: Any) -> ObjectSummary:
    if not isinstance(obj, dict):
        return ObjectSummary(index, "", "", "")
    if "version" in obj and "apiVersion" not in obj:
        return ObjectSummary(index, str(obj.get("version")), "Sloth", str(obj.get("service", "")))
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return ObjectSummary(
        index,
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        str(metadata.get("name", "")),
    )


# --- References ----------------------------------------------------------------------------


def _duplicate_names(reading: Reading) -> list[Problem]:
    """Two OpenSLO objects of one kind with one name: a reference to that name would pick one
    of them without a word, so the file must say which it means. Services are the exception
    (the go-sdk's own examples repeat one): they change nothing and nothing in the file is
    looked up among them."""
    first: dict[tuple[str, str, str], int] = {}
    problems = []
    for summary in reading.objects:
        if summary.api_version not in (V1, V1ALPHA) or not summary.name:
            continue
        if summary.kind == "Service":
            continue
        key = (summary.api_version, summary.kind, summary.name)
        if key in first:
            problems.append(
                Problem(
                    summary.index,
                    summary.kind,
                    summary.name,
                    "metadata.name",
                    f"another {summary.kind} named {summary.name!r} is document "
                    f"#{first[key] + 1}: names are unique per kind",
                )
            )
        else:
            first[key] = summary.index
    return problems


def _check_references(objects: list[Any], reading: Reading) -> list[Problem]:
    """An SLO's references (its SLI, alert policies, and their conditions and notification
    targets) must be in the same file: the SLO is what becomes a target, so what it points
    at must be known. A standalone AlertPolicy may point elsewhere (it gives no target)."""
    names: dict[str, set[str]] = {}
    for summary in reading.objects:
        if summary.api_version == V1:
            names.setdefault(summary.kind, set()).add(summary.name)
    problems: list[Problem] = []
    for summary, obj in zip(reading.objects, objects, strict=True):
        if summary.api_version != V1:
            continue
        spec = obj.get("spec") or {}

        def missing(path: str, kind: str, ref: str, s=summary) -> None:
            problems.append(
                Problem(s.index, s.kind, s.name, path, f"no {kind} named {ref!r} in this file")
            )

        if summary.kind == "SLO":
            if "indicatorRef" in spec and spec["indicatorRef"] not in names.get("SLI", set()):
                missing("spec.indicatorRef", "SLI", spec["indicatorRef"])
            for i, objective in enumerate(spec.get("objectives") or []):
                ref = objective.get("indicatorRef")
                if ref is not None and ref not in names.get("SLI", set()):
                    missing(f"spec.objectives[{i}].indicatorRef", "SLI", ref)
            for i, policy in enumerate(spec.get("alertPolicies") or []):
                where = f"spec.alertPolicies[{i}]"
                if "alertPolicyRef" in policy:
                    if policy["alertPolicyRef"] not in names.get("AlertPolicy", set()):
                        missing(f"{where}.alertPolicyRef", "AlertPolicy", policy["alertPolicyRef"])
                    continue
                pspec = policy.get("spec") or {}
                for j, cond in enumerate(pspec.get("conditions") or []):
                    if "conditionRef" in cond and cond["conditionRef"] not in names.get(
                        "AlertCondition", set()
                    ):
                        missing(
                            f"{where}.spec.conditions[{j}].conditionRef",
                            "AlertCondition",
                            cond["conditionRef"],
                        )
                for j, target in enumerate(pspec.get("notificationTargets") or []):
                    if "targetRef" in target and target["targetRef"] not in names.get(
                        "AlertNotificationTarget", set()
                    ):
                        missing(
                            f"{where}.spec.notificationTargets[{j}].targetRef",
                            "AlertNotificationTarget",
                            target["targetRef"],
                        )
    return problems


# --- After conversion ----------------------------------------------------------------------


def _unique_names(reading: Reading) -> None:
    """Two targets of one file with the same name would be one target twice: the second
    would overwrite the first. Add the service to tell them apart (Sloth's multi-service
    files repeat SLO names), or refuse when that does not help."""
    counts = Counter((t.spec.metric, t.spec.name) for t in reading.targets)
    renamed = []
    for target in reading.targets:
        key = (target.spec.metric, target.spec.name)
        if counts[key] > 1 and target.service and not target.service_is_portal_name:
            new = f"{target.spec.name} ({target.service})"[:160]
            reading.notes.append(
                Note(
                    target.index,
                    reading.objects[target.index].name,
                    "",
                    "name-with-service",
                    f"Another target of this file is also named {target.spec.name!r}: this one "
                    f"is named {new!r}.",
                )
            )
            target = replace(target, spec=replace(target.spec, name=new))
        renamed.append(target)
    reading.targets = renamed
    # One name per metric and service: an agreement with one unnamed availability target per
    # service (Web 99.9, API 99.5) writes two SLOs that differ only by their service.
    seen: set[tuple[str, str, str]] = set()
    for target in reading.targets:
        key = (target.spec.metric, target.spec.name, target.service)
        if key in seen:
            summary = reading.objects[target.index]
            reading.problems.append(
                Problem(
                    target.index,
                    summary.kind,
                    summary.name,
                    target.source.split(", ", 1)[1],
                    f"a second {target.spec.metric} target named {target.spec.name!r}"
                    + (f" for the service {target.service!r}" if target.service else "")
                    + ": give the objectives different displayName values",
                )
            )
        seen.add(key)


def _smart(reading: Reading) -> None:
    """The editor's SMART rules, located in the file."""
    for target in reading.targets:
        errors = smart_errors(target.spec)
        if not errors:
            continue
        summary = reading.objects[target.index]
        objective = target.source.split(", ", 1)[1]
        for field_name, messages in errors.items():
            path = {
                "threshold_value": A.path(A.THRESHOLD),
                "unit": A.path(A.UNIT),
                "warning_percent": A.path(A.WARNING),
                "compliance_target": A.path(A.COMPLIANCE_TARGET),
                "compliance_threshold": A.path(A.COMPLIANCE_THRESHOLD),
                "name": A.path(A.NAME),
            }.get(field_name, objective)
            for message in messages:
                reading.problems.append(
                    Problem(target.index, summary.kind, summary.name, path, message)
                )
