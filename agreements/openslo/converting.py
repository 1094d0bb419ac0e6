"""One object of a file to target specs: the mapping rules of docs/openslo.md, each value
OpenSLO lacks read from a ``sla-portal/`` annotation or filled in by a rule that says so."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from agreements.openslo import annotations as A
from agreements.openslo.checker import DURATION_RE, SLOTH_K8S, V1, V1ALPHA, show, to_decimal
from agreements.openslo.exporting import PERFORMANCE_PLACEHOLDER_TARGET, portal_sources_only
from agreements.openslo.periods import ALPHA_UNITS, period_for, start_is_period_start
from agreements.openslo.problems import Note, Problem
from agreements.openslo.results import ImportedTarget, Reading
from agreements.openslo.sloth import convert_sloth
from agreements.smart import TargetSpec

PLACES = Decimal("0.001")
# The warning level and the compliance goals are percentages kept to 2 decimal places.
PERCENT_PLACES = Decimal("0.01")
PERCENT_KEYS = (A.WARNING, A.COMPLIANCE_TARGET, A.COMPLIANCE_THRESHOLD)
MAX_NAME = 160
UNIT_WORDS = {
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
    "M": "months",
    "Q": "quarters",
    "Y": "years",
}
# The largest target or threshold value the portal stores (12 digits, 3 of them decimals).
LIMIT = Decimal("999999999.999")


class Converter:
    def __init__(
        self, index: int, obj: dict, slis: dict[str, dict], reading: Reading, used_slis: set[str]
    ) -> None:
        self.index, self.obj, self.slis, self.reading = index, obj, slis, reading
        self.used_slis = used_slis
        self.summary = reading.objects[index]
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        self.metadata = metadata
        self.annotations = metadata.get("annotations") or {}
        # Written by the portal's export: its annotations and its own metric sources. Notes
        # about what such a file leaves out (queries, descriptions) would say nothing.
        self.from_portal = A.NAME in self.annotations and portal_sources_only(obj.get("spec"))

    def note(self, path: str, rule: str, message: str) -> None:
        self.reading.notes.append(Note(self.index, self.summary.name, path, rule, message))

    def problem(self, path: str, reason: str) -> None:
        s = self.summary
        self.reading.problems.append(Problem(s.index, s.kind, s.name, path, reason))

    def run(self) -> None:
        version, kind = self.summary.api_version, self.summary.kind
        if kind == "Sloth" or version == SLOTH_K8S:
            convert_sloth(self)
        elif kind == "SLO" and version == V1:
            self.v1_slo()
        elif kind == "SLO" and version == V1ALPHA:
            self.v1alpha_slo()
        elif kind == "Service":
            self.note(
                "",
                "service-object",
                "Service objects change nothing: an agreement's services come from the "
                "service catalogue; SLOs naming this service are matched to it by name.",
            )
        elif kind == "SLI":
            pass  # used (or reported unused) through the SLOs
        else:
            self.note(
                "",
                "not-imported",
                f"{kind} objects have no counterpart in an agreement's targets and are not "
                "imported (the portal warns at each target's warning level instead).",
            )

    # -- values ---------------------------------------------------------------------------

    def annotation_number(self, key: str) -> tuple[Decimal | None, bool]:
        """(value, present). An empty annotation is present and means 'none'."""
        if key not in self.annotations:
            return None, False
        text = str(self.annotations[key]).strip()
        if text == "":
            return None, True
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.problem(A.path(key), f"must be a number, not {text!r}")
            return None, True
        if not value.is_finite():
            self.problem(A.path(key), f"must be a finite number, not {text!r}")
            return None, True
        places = PERCENT_PLACES if key in PERCENT_KEYS else PLACES
        return self.portal_decimal(value, A.path(key), places), True

    def portal_decimal(self, value: Decimal, path: str, places: Decimal = PLACES) -> Decimal | None:
        # abs() and quantize() round in the decimal context, whose exponent limit a text like
        # "1e999999999999" exceeds (decimal.Overflow): compare its magnitude first.
        if value.adjusted() > LIMIT.adjusted() or abs(value) > LIMIT:
            self.problem(path, f"{value} is beyond what the portal stores (at most {LIMIT})")
            return None
        if value != value.quantize(places):
            self.problem(
                path,
                f"{value} is more precise than the portal keeps ({-places.as_tuple().exponent} "
                "decimal places)",
            )
            return None
        return value

    def period(self, windows: list | None, path: str, alpha: bool = False) -> str:
        if not windows:
            self.note(
                path,
                "no-time-window",
                "No time window: the target is measured per calendar month, the portal's "
                "default period.",
            )
            return "month"
        window = windows[0]
        rolling = window.get("isRolling") is True
        if alpha:
            unit, factor = ALPHA_UNITS[window["unit"]]
            count, text = window["count"] * factor, f"{window['count']} {window['unit']}"
        else:
            match = DURATION_RE.match(window["duration"])
            count, unit = int(match.group(1)), match.group(2)
            word = UNIT_WORDS[unit] if count != 1 else UNIT_WORDS[unit][:-1]
            text = f"{window['duration']} ({count} {word})"
        period, exact = period_for(count, unit, rolling)
        if not exact:
            kind = "rolling" if rolling else "calendar-aligned"
            self.note(
                f"{path}[0]",
                "nearest-period",
                f"The {kind} time window {text} is measured per calendar {period}, the "
                "nearest period the portal has (it measures calendar months, quarters and "
                "years).",
            )
        calendar = window.get("calendar")
        if (
            calendar is not None
            and exact
            and not start_is_period_start(
                calendar.get("startTime"), calendar.get("timeZone"), period
            )
        ):
            self.note(
                f"{path}[0].calendar",
                "calendar-start",
                f"The window's start ({calendar.get('startTime')} {calendar.get('timeZone')}) "
                f"is not kept: portal periods start on the first day of each {period} in the "
                "target's calendar.",
            )
        return period

    def name_for(self, objective: dict, i: int, count: int, display: str, metric: str) -> str:
        base = display or self.summary.name
        base_path = "metadata.displayName" if display else "metadata.name"
        if count > 1:
            base = f"{base} — {objective.get('displayName') or f'objective {i + 1}'}"
        if A.NAME in self.annotations:
            name = str(self.annotations[A.NAME])
            if len(name) > MAX_NAME:
                self.problem(
                    A.path(A.NAME),
                    f"a target's name is at most {MAX_NAME} characters, not {len(name)}",
                )
            # The export writes an unnamed target's display name as its metric's label.
            label = name or ("Availability" if metric == "availability" else "Performance")
            if label != base:
                named = f"named {name!r}" if name else "left unnamed"
                self.note(
                    A.path(A.NAME),
                    "annotation-overrides",
                    f"The target is {named} as sla-portal/name says, not {base!r} as the "
                    "file's own names would make it.",
                )
            return name
        return self.shortened(base, base_path)

    def shortened(self, name: str, path: str) -> str:
        if len(name) <= MAX_NAME:
            return name
        self.note(
            path,
            "name-shortened",
            f"The name is {len(name)} characters: the target keeps the first {MAX_NAME}.",
        )
        return name[:MAX_NAME]

    def service_fields(self, named: str) -> tuple[str, bool]:
        if A.SERVICE in self.annotations:
            return str(self.annotations[A.SERVICE]), True
        return named or "", False

    def threshold(self, target_value: Decimal, path: str, unit_word: str) -> Decimal:
        value, _ = self.annotation_number(A.THRESHOLD)
        if value is not None:
            return value
        self.note(
            path,
            "threshold-equals-target",
            "The file gives no threshold of unacceptable service (OpenSLO has no field for "
            f"it): it is set equal to the target ({show(target_value)}{unit_word}); edit it in "
            "the draft to allow a margin.",
        )
        return target_value

    def add(self, spec: TargetSpec, path: str, service_named: str) -> None:
        service, exact = self.service_fields(service_named)
        self.reading.targets.append(
            ImportedTarget(
                spec=spec,
                index=self.index,
                source=f"{self.summary.kind} {self.summary.name!r}, {path}",
                service=service,
                service_is_portal_name=exact,
                calendar=str(self.annotations.get(A.CALENDAR, "")),
            )
        )

    def common_extras(self) -> dict:
        warning, _ = self.annotation_number(A.WARNING)
        return {"warning_percent": warning}

    # -- OpenSLO v1 -----------------------------------------------------------------------

    def sli_of(self, holder: dict) -> tuple[dict | None, str]:
        if holder.get("indicator") is not None:
            return holder["indicator"].get("spec") or {}, "indicator"
        ref = holder.get("indicatorRef")
        if ref is None:
            return None, ""
        self.used_slis.add(ref)
        # References are checked before: the SLI is in the file.
        return self.slis[ref].get("spec") or {}, f"SLI {ref!r}"

    def v1_slo(self) -> None:
        spec = self.obj["spec"]
        display = self.metadata.get("displayName") or ""
        period = self.period(spec.get("timeWindow"), "spec.timeWindow")
        method = spec["budgetingMethod"]
        objectives = spec["objectives"]
        shared_sli, shared_from = self.sli_of(spec)
        self.common_notes(spec)
        for i, objective in enumerate(objectives):
            path = f"spec.objectives[{i}]"
            sli, sli_from = (
                (shared_sli, shared_from) if shared_sli is not None else self.sli_of(objective)
            )
            target_path, ratio = self.objective_ratio(objective, path)
            if ratio is None:
                continue
            if objective.get("compositeWeight") is not None:
                self.note(
                    f"{path}.compositeWeight",
                    "composite-weight",
                    "The composite weight is not kept: each objective becomes a target of its own.",
                )
            metric = "availability" if "ratioMetric" in sli else "performance"
            name = self.name_for(objective, i, len(objectives), display, metric)
            if "ratioMetric" in sli:
                self.availability(
                    objective,
                    path,
                    target_path,
                    ratio,
                    name,
                    period,
                    spec["service"],
                    method,
                    sli_from,
                )
            else:
                self.performance(
                    objective, path, target_path, ratio, name, period, spec["service"], method
                )

    def common_notes(self, spec: dict) -> None:
        if spec.get("alertPolicies"):
            self.note(
                "spec.alertPolicies",
                "alerts-not-imported",
                "Alert policies are not imported: the portal warns when a target's warning "
                "level is reached and alerts on breaches.",
            )
        if spec.get("description"):
            self.note(
                "spec.description", "description", "The description is not kept on the target."
            )
        if self.metadata.get("labels"):
            self.note("metadata.labels", "labels", "The labels are not kept on the target.")

    def objective_ratio(self, objective: dict, path: str) -> tuple[str, Decimal | None]:
        if "targetPercent" in objective:
            return f"{path}.targetPercent", to_decimal(objective["targetPercent"]) / 100
        return f"{path}.target", to_decimal(objective["target"])

    def availability(
        self, objective, path, target_path, ratio, name, period, service, method, sli_from
    ) -> None:
        percent = self.portal_decimal((ratio * 100).normalize() + Decimal("0.000"), target_path)
        if percent is None:
            return
        if target_path.endswith(".target") and not self.from_portal:
            self.note(
                target_path,
                "ratio-to-percent",
                f"The target {ratio} is a ratio: the portal's availability target is "
                f"{show(percent)} %.",
            )
        if objective.get("op") in ("lt", "lte"):
            self.note(
                f"{path}.op",
                "operator-ignored",
                f"The operator {objective['op']} is not kept: availability is met at or above "
                "its target.",
            )
        if not self.from_portal:
            self.note(
                path,
                "measured-by-portal",
                f"Read as an availability target: the share of good events ({sli_from or 'the SLI'}"
                f", budgeting {method}) is measured by the portal as the share of the period "
                "without outages, from its uptime checks; the queries are not kept.",
            )
        self.slice_notes(objective, path, "counts the time without outages")
        spec = TargetSpec(
            metric="availability",
            target_value=percent,
            threshold_value=self.threshold(percent, path, " %"),
            unit="percent",
            direction="higher",
            period=period,
            data_source="uptime",
            name=name,
            **self.common_extras(),
        )
        self.add(spec, path, service)

    def slice_notes(self, objective: dict, path: str, instead: str) -> None:
        """Time slices the portal does not measure in, said when the file has them (the
        portal's own export writes a one-minute window for availability, which it implies)."""
        dropped = [
            f"{key} {objective[key]}"
            for key in ("timeSliceTarget", "timeSliceWindow")
            if objective.get(key) is not None
        ]
        # The portal's export writes exactly a one-minute window for availability, which its
        # measure implies; anything else in a portal file was added and is dropped: said.
        if dropped and not (self.from_portal and dropped == ["timeSliceWindow 1m"]):
            first = "timeSliceTarget" if "timeSliceTarget" in objective else "timeSliceWindow"
            self.note(
                f"{path}.{first}",
                "time-slices",
                f"{' and '.join(dropped)} not kept: the portal {instead}, not good time slices.",
            )

    def performance(
        self, objective, path, target_path, ratio, name, period, service, method
    ) -> None:
        value = objective.get("value")
        op = objective.get("op")
        if value is None:
            self.problem(
                f"{path}.value", "required with a threshold metric: it is the target value"
            )
        if op is None:
            self.problem(f"{path}.op", "required with a threshold metric: lt, lte, gt or gte")
        if value is None or op is None:
            return
        target_value = self.portal_decimal(to_decimal(value), f"{path}.value")
        if target_value is None:
            return
        direction = "lower" if op in ("lt", "lte") else "higher"
        if op in ("lt", "gt"):
            self.note(
                f"{path}.op",
                "inclusive-operator",
                f"The strict operator {op} is read as {op}e: the portal's target is met when "
                f"the value reaches {show(target_value)}.",
            )
        self.slice_notes(objective, path, "judges the mean of the period's values")
        unit = str(self.annotations.get(A.UNIT, ""))
        if not unit:
            unit = "other"
            self.note(
                path,
                "unit-other",
                "OpenSLO gives no unit for a measured value: the unit is 'other'; choose ms, "
                "seconds, percent or count in the draft.",
            )
        compliance, present = self.annotation_number(A.COMPLIANCE_TARGET)
        compliance_threshold, _ = self.annotation_number(A.COMPLIANCE_THRESHOLD)
        if present:
            written = (
                compliance / 100
                if compliance is not None and compliance < 100
                else Decimal(str(PERFORMANCE_PLACEHOLDER_TARGET))
            )
            if ratio != written:
                goal = f"{show(compliance)} %" if compliance is not None else "none"
                self.note(
                    target_path,
                    "annotation-overrides",
                    f"The objective's target {ratio} (share of good events) is not kept: "
                    f"sla-portal/compliance-target gives the compliance goal ({goal}).",
                )
        else:
            self.note(
                target_path,
                "share-not-kept",
                f"The objective's target {ratio} (share of good events) is not kept: the portal "
                f"judges the mean of the period's measured values against {show(target_value)}.",
            )
        if not self.from_portal:
            self.note(
                path,
                "measured-by-portal",
                f"Read as a performance target measured from the values named {name!r} sent "
                f"to the portal (budgeting {method}); the queries are not kept.",
            )
        spec = TargetSpec(
            metric="performance",
            target_value=target_value,
            threshold_value=self.threshold(target_value, path, ""),
            unit=unit,
            direction=direction,
            period=period,
            data_source="measurements",
            name=name,
            compliance_target=compliance,
            compliance_threshold=compliance_threshold,
            **self.common_extras(),
        )
        self.add(spec, path, service)

    # -- OpenSLO v1alpha ------------------------------------------------------------------

    def v1alpha_slo(self) -> None:
        spec = self.obj["spec"]
        display = self.metadata.get("displayName") or ""
        period = self.period(spec.get("timeWindows"), "spec.timeWindows", alpha=True)
        method = spec["budgetingMethod"]
        objectives = spec["objectives"]
        self.common_notes(spec)
        for i, objective in enumerate(objectives):
            path = f"spec.objectives[{i}]"
            target_path, ratio = self.objective_ratio(objective, path)
            ratio_sli = objective.get("ratioMetrics") is not None
            metric = "availability" if ratio_sli else "performance"
            name = self.name_for(objective, i, len(objectives), display, metric)
            if ratio_sli:
                self.availability(
                    objective,
                    path,
                    target_path,
                    ratio,
                    name,
                    period,
                    spec["service"],
                    method,
                    "ratioMetrics",
                )
            else:
                self.performance(
                    objective, path, target_path, ratio, name, period, spec["service"], method
                )
