"""OpenSLO and Sloth files read into target specs: every example of the shared corpus either
imports with the targets expected here or fails for the reason its name says, and what the
portal writes reads back to the same targets. Pure: no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements.openslo import ExportedTarget, read_targets, write_openslo
from agreements.openslo.loading import MAX_DEPTH
from agreements.smart import TargetSpec
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA

A, P = "availability", "performance"
V2ALPHA = "unsupported apiVersion 'openslo.com/v2alpha'"
NOT_RFC1123 = "is not an RFC 1123 name"
GENERATED = "neither an OpenSLO object (apiVersion, kind) nor a Sloth spec"
ALERT_WINDOWS = "AlertWindows (sloth.slok.dev/v1) holds no objectives"

# file -> targets (metric, name, target %, period, service) or problems (index, path, reason)
EXPECTED: dict[str, list] = {
    # go-sdk v1 examples: valid; only SLOs give targets.
    "openslo/go-sdk/pkg/openslo/v1/examples/alert_conditions.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/alert_notification_targets.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/alert_policies.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/data_sources.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/services.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/slis.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1/examples/slos.yaml": [
        (A, "SLO for web availability", "99.5", "month", "web"),
    ],
    "openslo/go-sdk/pkg/openslo/v1alpha/examples/services.yaml": [],
    "openslo/go-sdk/pkg/openslo/v1alpha/examples/slos.yaml": [
        (P, "Threshold SLO for web latency", "200", "month", "web"),
        (A, "Ratio SLO for web availability", "99.5", "month", "web"),
    ],
    # v2alpha is a draft of the next version: refused by apiVersion, every object.
    "openslo/go-sdk/pkg/openslo/v2alpha/examples/slis.yaml": [
        (i, "apiVersion", V2ALPHA) for i in range(5)
    ],
    "openslo/go-sdk/pkg/openslo/v2alpha/examples/slos.yaml": [(0, "apiVersion", V2ALPHA)],
    "openslo/go-sdk/pkg/openslosdk/test_data/decode/two_documents.yaml": [],
    "openslo/go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo.yaml": [
        (P, "my-slo-1", "1", "month", "web"),
        (P, "my-slo-2", "1", "month", "web"),
    ],
    # The go-sdk's inliner refuses these: a reference to an object not in the file.
    "openslo/go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_sli.yaml": [
        (0, "spec.indicatorRef", "no SLI named 'no-sli' in this file"),
    ],
    "openslo/go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_target.yaml": [
        (
            0,
            "spec.alertPolicies[0].spec.notificationTargets[1].targetRef",
            "no AlertNotificationTarget named 'devs-email-notification' in this file",
        ),
    ],
    # oslo validate inputs (test/outputs/validate/* in oslo say what each fails for).
    "openslo/oslo/test/inputs/validate/invalid-apiversion.yaml": [
        (0, "apiVersion", "unsupported apiVersion 'foo'"),
    ],
    "openslo/oslo/test/inputs/validate/unknown-field.yaml": [
        (0, "metadata.name", NOT_RFC1123),
        (0, "spec.markdown", "unknown field"),
    ],
    "openslo/oslo/test/inputs/validate/v1.yaml": [(2, "metadata.name", NOT_RFC1123)],
    "openslo/oslo/test/inputs/validate/v1alpha.yaml": [
        (0, "metadata.name", NOT_RFC1123),
        (2, "spec.objectives[0].timeSliceTarget", "required with budgetingMethod Timeslices"),
    ],
    "openslo/oslo/test/inputs/validate/v2alpha.yaml": [
        (i, "apiVersion", V2ALPHA) for i in range(3)
    ],
    # OpenSLO specification examples.
    "openslo/spec-repo/examples/budgeting-method/occurences-slo.yaml": [
        (P, "Searching time", "500", "month", "web-shop"),
    ],
    "openslo/spec-repo/examples/budgeting-method/ratio-timeslices.yaml": [
        (A, "Main page availability", "99", "month", "web-shop"),
    ],
    "openslo/spec-repo/examples/budgeting-method/timeslices-slo.yaml": [
        (
            A,
            "Reflaction of out availability SLA — Internal objective",
            "99.5",
            "month",
            "web-availability",
        ),
        (A, "Reflaction of out availability SLA — SLA", "99", "month", "web-availability"),
    ],
    "openslo/spec-repo/examples/treat-low-traffic-as-equally-important/timeslices-slo.yaml": [
        (A, "SLO for this important service", "99.95", "month", "web-availability"),
    ],
    # Sloth: its own format (objectives in percent) and its OpenSLO v1alpha files.
    "sloth/examples/getting-started.yml": [
        (A, "requests-availability", "99.9", "month", "myservice"),
    ],
    "sloth/examples/home-wifi.yml": [
        (A, "good-wifi-client-satisfaction", "95", "month", "home-wifi"),
        (A, "risk-wifi-client-satisfaction", "99.9", "month", "home-wifi"),
    ],
    "sloth/examples/k8s-getting-started.yml": [
        (A, "requests-availability", "99.9", "month", "myservice"),
    ],
    "sloth/examples/kubernetes-apiserver.yml": [
        (A, "requests-availability", "99.9", "month", "k8s-apiserver"),
        (A, "requests-latency", "99", "month", "k8s-apiserver"),
    ],
    "sloth/examples/multifile.yml": [
        (A, "requests-availability (myservice)", "99.9", "month", "myservice"),
        (A, "requests-availability (myservice2)", "99.99", "month", "myservice2"),
    ],
    "sloth/examples/no-alerts.yml": [(A, "http-availability", "99.99", "month", "myapp")],
    "sloth/examples/openslo-getting-started.yml": [
        (A, "Requests Availability", "99.9", "month", "my-service"),
    ],
    "sloth/examples/openslo-kubernetes-apiserver.yml": [
        (A, "Requests Availability", "99.9", "month", "k8s-apiserver"),
        (A, "Requests Latency — objective 1", "99", "month", "k8s-apiserver"),
        (A, "Requests Latency — objective 2", "99.9", "month", "k8s-apiserver"),
    ],
    "sloth/examples/raw-home-wifi.yml": [
        (A, "wifi-client-satisfaction", "95", "month", "home-wifi"),
    ],
    "sloth/examples/victoria-metrics.yml": [
        (A, "grpc-latency-percentile-90", "90", "month", "foo-bar"),
        (A, "grpc-latency-percentile-99", "99", "month", "foo-bar"),
    ],
    # Sloth's generated Prometheus rules are outputs, not specs.
    "sloth/examples/_gen/getting-started.yml": [(0, "apiVersion", GENERATED)],
    "sloth/examples/_gen/home-wifi.yml": [(0, "apiVersion", GENERATED)],
    "sloth/examples/_gen/openslo-getting-started.yml": [(0, "apiVersion", GENERATED)],
    # Alert windows configure Sloth's alerts: no objectives in them.
    "sloth/examples/windows/7d.yaml": [(0, "kind", ALERT_WINDOWS)],
    "sloth/examples/windows/custom-30d.yaml": [(0, "kind", ALERT_WINDOWS)],
    "sloth/internal/alert/windows/google-28d.yaml": [(0, "kind", ALERT_WINDOWS)],
    "sloth/internal/alert/windows/google-30d.yaml": [(0, "kind", ALERT_WINDOWS)],
    # Sloth's own test of an unknown spec version.
    "sloth/test/integration/prometheus/testdata/in-invalid-version.yaml": [
        (0, "version", "unsupported Sloth spec version 'prometheus/v999'"),
    ],
}


def corpus() -> list[str]:
    files = sorted(
        str(p.relative_to(DATA))
        for root in ("openslo", "sloth")
        for p in (DATA / root).rglob("*")
        if p.suffix in {".yaml", ".yml"}
    )
    return files


def test_every_file_of_the_corpus_has_an_expectation():
    assert sorted(EXPECTED) == corpus()


@pytest.mark.parametrize("name", corpus())
def test_corpus_file_imports_or_fails_for_its_reason(name):
    reading = read_targets((DATA / name).read_bytes())
    expected = EXPECTED[name]
    if expected and len(expected[0]) == 3:  # problems
        assert not reading.ok and reading.targets == []
        got = {(p.index, p.path) for p in reading.problems}
        for index, path, reason in expected:
            assert (index, path) in got, (name, reading.problems)
            reasons = [p.reason for p in reading.problems if (p.index, p.path) == (index, path)]
            assert any(reason in r for r in reasons), reasons
        assert len(reading.problems) == len(expected), reading.problems
        return
    assert reading.ok, reading.problems
    got = [
        (
            t.spec.metric,
            t.spec.name,
            format(t.spec.target_value.normalize(), "f"),
            t.spec.period,
            t.service,
        )
        for t in reading.targets
    ]
    assert got == expected
    for target in reading.targets:
        # Every target obeys the editor's SMART rules, and nothing is filled in silently.
        assert target.spec.threshold_value == target.spec.target_value
        rules = {n.rule for n in reading.notes if n.index == target.index}
        assert "threshold-equals-target" in rules


def test_percentages_and_ratios_are_both_listed():
    sloth = read_targets((DATA / "sloth/examples/getting-started.yml").read_bytes())
    note = next(n for n in sloth.notes if n.rule == "sloth-percent")
    assert note.path == "slos[0].objective"
    assert "99.9 is kept as 99.9 %" in note.message and "0.999" in note.message
    openslo = read_targets((DATA / "openslo/go-sdk/pkg/openslo/v1/examples/slos.yaml").read_bytes())
    note = next(n for n in openslo.notes if n.rule == "ratio-to-percent")
    assert note.path == "spec.objectives[0].target" and "99.5 %" in note.message


def test_a_rolling_28_day_window_is_measured_per_month_and_says_so():
    reading = read_targets(
        SLO.replace(
            "duration: 1M\n    isRolling: false", "duration: 28d\n    isRolling: true"
        ).replace(CALENDAR, "")
    )
    assert reading.ok, reading.problems
    assert reading.targets[0].spec.period == "month"
    note = next(n for n in reading.notes if n.rule == "nearest-period")
    assert note.path == "spec.timeWindow[0]"
    assert "rolling time window 28d (28 days)" in note.message


def test_a_90_day_window_is_a_quarter_and_a_calendar_year_is_exact():
    reading = read_targets(
        SLO.replace(
            "duration: 1M\n    isRolling: false", "duration: 90d\n    isRolling: true"
        ).replace(CALENDAR, "")
    )
    assert reading.targets[0].spec.period == "quarter"
    reading = read_targets(SLO.replace("duration: 1M", "duration: 1Y"))
    assert reading.targets[0].spec.period == "year"
    assert not [n for n in reading.notes if n.rule in {"nearest-period", "calendar-start"}]


CALENDAR = """
    calendar:
      startTime: 2026-01-01 00:00:00
      timeZone: UTC"""
SLO = f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: web-availability
  displayName: Web availability
spec:
  service: web
  indicator:
    metadata:
      name: ok-ratio
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(ok)
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(all)
  timeWindow:
  - duration: 1M
    isRolling: false{CALENDAR}
  budgetingMethod: Occurrences
  objectives:
  - displayName: Good
    target: 0.999
"""


def test_a_valid_slo_becomes_an_availability_target():
    reading = read_targets(SLO)
    assert reading.ok, reading.problems
    (target,) = reading.targets
    assert target.spec.metric == "availability"
    assert target.spec.target_value == Decimal("99.9")
    assert (target.spec.unit, target.spec.direction, target.spec.data_source) == (
        "percent",
        "higher",
        "uptime",
    )
    assert target.service == "web"


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            ("target: 0.999", "target: 99.9"),
            "spec.objectives[0].target",
            "a ratio: 0.999 means 99.9 %",
        ),
        (("target: 0.999", "target: high"), "spec.objectives[0].target", "must be a number"),
        (
            ("target: 0.999", "targetPercent: 99.9\n    target: 0.999"),
            "spec.objectives[0]",
            "exactly one of target",
        ),
        (
            ("target: 0.999", "target: 0.9999999"),
            "spec.objectives[0].target",
            "more precise than the portal keeps",
        ),
        (
            ("duration: 1M", "duration: 1 month"),
            "spec.timeWindow[0].duration",
            "not a duration shorthand",
        ),
        (
            ("timeZone: UTC", "timeZone: Mars/Olympus"),
            "spec.timeWindow[0].calendar.timeZone",
            "not an IANA time zone",
        ),
        (
            ("budgetingMethod: Occurrences", "budgetingMethod: Sometimes"),
            "spec.budgetingMethod",
            "must be one of",
        ),
        (("  service: web\n", ""), "spec.service", "required field is missing"),
        (("name: web-availability", "name: Web Availability"), "metadata.name", NOT_RFC1123),
        (
            ("  budgetingMethod", "  budgetMethod: x\n  budgetingMethod"),
            "spec.budgetMethod",
            "unknown field",
        ),
        (
            ("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
            "spec.objectives[0].timeSliceTarget",
            "required with budgetingMethod Timeslices",
        ),
        (("kind: SLO", "kind: Objective"), "kind", "unsupported kind 'Objective'"),
    ],
)
def test_an_invalid_slo_names_the_path_and_the_reason(change, path, reason):
    old, new = change
    assert old in SLO
    reading = read_targets(SLO.replace(old, new, 1))
    assert not reading.ok and not reading.targets
    matching = [p for p in reading.problems if p.path == path]
    assert matching, reading.problems
    assert any(reason in p.reason for p in matching), matching
    assert matching[0].index == 0 and matching[0].name in {"web-availability", "Web Availability"}


def test_one_invalid_document_stops_the_whole_file():
    second = SLO.replace("name: web-availability", "name: api-availability").replace(
        "target: 0.999", "target: 2"
    )
    reading = read_targets(SLO + "---\n" + second)
    assert reading.targets == []
    assert [(p.index, p.path) for p in reading.problems] == [(1, "spec.objectives[0].target")]


def test_smart_rules_of_the_editor_apply_to_imported_targets():
    # A threshold better than the target breaks the editor's "realistic" rule.
    text = SLO.replace(
        "  displayName: Web availability\n",
        "  displayName: Web availability\n"
        '  annotations:\n    sla-portal/threshold-value: "99.95"\n',
    )
    reading = read_targets(text)
    assert not reading.ok
    (problem,) = reading.problems
    assert problem.path == 'metadata.annotations["sla-portal/threshold-value"]'
    assert "cannot be better than the target" in problem.reason


def test_malformed_yaml_answers_with_line_and_column():
    reading = read_targets("apiVersion: openslo/v1\nkind: [SLO\n")
    (problem,) = reading.problems
    assert problem.index is None and "Not valid YAML" in problem.reason and "line" in problem.reason


def test_an_alias_bomb_is_refused_without_expanding_it():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    reading = read_targets("\n".join(lines))
    (problem,) = reading.problems
    assert "aliases" in problem.reason


@pytest.mark.parametrize("style", ["flow", "block"])
def test_50000_levels_of_nesting_are_refused(style):
    if style == "flow":
        text = "[" * 50_000 + "]" * 50_000
    else:
        # Indentation makes deep block nesting big: 1,000 levels stay under the size limit.
        text = "".join(f"{' ' * i}k:\n" for i in range(1000)) + " " * 1000 + "k: 1\n"
    reading = read_targets(text)
    (problem,) = reading.problems
    # Refused by the depth check (or libyaml's own nesting limit, whichever comes first).
    assert "nest" in problem.reason.lower()
    assert problem.reason.startswith((f"Nested more than {MAX_DEPTH}", "Not valid YAML"))


def test_a_huge_file_is_refused_before_parsing():
    reading = read_targets(b"a: " + b"x" * 2_000_000)
    assert "at most 1,000,000 bytes" in reading.problems[0].reason


@pytest.mark.parametrize(
    "text", ["", "   \n", "---\n...\n", "just text", "- 1\n- 2\n", b"\xff\xfe"]
)
def test_empty_or_foreign_input_gets_a_reason(text):
    reading = read_targets(text)
    assert not reading.ok and reading.problems[0].reason


SPECS = [
    ExportedTarget(
        TargetSpec(
            "availability",
            Decimal("99.950"),
            Decimal("99.500"),
            "percent",
            "higher",
            "month",
            "uptime",
            warning_percent=Decimal("75.00"),
        ),
        service="Web shop",
        calendar="Office hours",
    ),
    ExportedTarget(
        TargetSpec(
            "availability",
            Decimal("100"),
            Decimal("99"),
            "percent",
            "higher",
            "year",
            "uptime",
            name="Core",
            warning_percent=Decimal("80"),
        )
    ),
    ExportedTarget(
        TargetSpec(
            "performance",
            Decimal("800"),
            Decimal("1200"),
            "ms",
            "lower",
            "quarter",
            "measurements",
            name="p95 page load",
            warning_percent=Decimal("75"),
        )
    ),
    ExportedTarget(
        TargetSpec(
            "performance",
            Decimal("0.5"),
            Decimal("0.25"),
            "other",
            "higher",
            "month",
            "measurements",
            name="Apdex",
            compliance_target=Decimal("95"),
            compliance_threshold=Decimal("90"),
            warning_percent=Decimal("75"),
        ),
        service="Web shop",
    ),
    ExportedTarget(
        TargetSpec(
            "response_time",
            Decimal("15"),
            Decimal("30"),
            "minutes",
            "lower",
            "month",
            "tickets",
            priority="P1",
            compliance_target=Decimal("95"),
            compliance_threshold=Decimal("90"),
            warning_percent=Decimal("75"),
        )
    ),
]


def test_export_reads_back_to_the_same_targets_with_nothing_reinterpreted():
    text = write_openslo(SPECS, reference="SLA-2026-0001", year=2026)
    reading = read_targets(text)
    assert reading.ok, reading.problems
    assert reading.notes == []
    exported = [t for t in SPECS if t.spec.metric in {"availability", "performance"}]
    assert [(t.spec, t.service, t.calendar) for t in reading.targets] == [
        (t.spec, t.service, t.calendar) for t in exported
    ]


def test_export_is_openslo_v1_with_ratios_and_a_calendar_window():
    import yaml

    documents = list(yaml.safe_load(write_openslo(SPECS[:1], reference="SLA-2026-0001", year=2026)))
    (slo,) = documents
    assert slo["apiVersion"] == "openslo/v1" and slo["kind"] == "SLO"
    assert slo["spec"]["objectives"][0]["target"] == 0.9995
    assert slo["spec"]["timeWindow"] == [
        {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": "UTC"},
        }
    ]
    assert slo["metadata"]["annotations"]["sla-portal/threshold-value"] == "99.5"


def test_a_file_with_too_many_targets_is_refused():
    objectives = "".join(f"  - displayName: o{i}\n    target: 0.99\n" for i in range(201))
    text = SLO.split("  objectives:\n")[0] + "  objectives:\n" + objectives
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    assert "at most 200 are imported at once" in reading.problems[-1].reason


JUNK = [None, 1, -1, 0.5, float("inf"), "x", "", [], {}, [1], {"a": 1}, True, "1M", 10**30]


def _places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _places(item, (*path, i))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_value_anywhere_in_a_corpus_file_is_an_answer_never_a_crash(data):
    import copy

    import yaml

    name = data.draw(st.sampled_from([n for n in corpus() if "_gen" not in n]))
    documents = copy.deepcopy(_CORPUS_OBJECTS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        places = [p for p in _places(documents) if p]
        place = data.draw(st.sampled_from(places))
        holder = documents
        for key in place[:-1]:
            holder = holder[key]
        holder[place[-1]] = copy.deepcopy(data.draw(st.sampled_from(JUNK)))
    reading = read_targets(yaml.safe_dump_all(documents))
    assert reading.ok or (reading.problems and not reading.targets)
    for problem in reading.problems:
        assert problem.reason


def _corpus_objects() -> dict:
    import yaml

    return {n: list(yaml.safe_load_all((DATA / n).read_text())) for n in corpus()}


_CORPUS_OBJECTS = _corpus_objects()


def test_portal_annotations_on_a_foreign_slo_do_not_hide_what_is_left_out():
    text = SLO.replace(
        "  displayName: Web availability\n",
        '  displayName: Web availability\n  annotations:\n    sla-portal/name: "Web"\n',
    )
    reading = read_targets(text)
    assert reading.targets[0].spec.name == "Web"
    assert "measured-by-portal" in {n.rule for n in reading.notes}


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (("displayName: Web availability", "displayName: 2022-02-30"), "2022-02-30"),
        (("startTime: 2026-01-01 00:00:00", "startTime: 2022-13-45"), "2022-13-45"),
        (("target: 0.999", "target: " + "9" * 5000), "9999"),
        (("target: 0.999", "target: !!float abc"), "abc"),
        (("target: 0.999", "target: !!int abc"), "abc"),
        (("target: 0.999", "target: !!timestamp abc"), "abc"),
    ],
)
def test_a_scalar_yaml_cannot_build_is_a_located_problem_not_a_crash(change, shown):
    reading = read_targets(SLO.replace(*change))
    assert not reading.ok and reading.targets == []
    (problem,) = reading.problems
    assert problem.reason.startswith("Not valid YAML:"), problem.reason
    assert shown in problem.reason and "line" in problem.reason


V1ALPHA_SLOS = (DATA / "openslo/go-sdk/pkg/openslo/v1alpha/examples/slos.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (SLO.replace("duration: 1M", "duration: 1" + "0" * 400 + "d"), "timeWindow[0].duration"),
        (SLO.replace("duration: 1M", "duration: 1000001d"), "timeWindow[0].duration"),
        (V1ALPHA_SLOS.replace("count: 1", "count: 1" + "0" * 400), "timeWindows[0].count"),
    ],
)
def test_a_window_too_long_to_measure_is_a_problem_not_a_crash(text, path):
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    assert any(
        p.path.endswith(path) and "at most 1,000,000" in p.reason for p in reading.problems
    ), reading.problems


@pytest.mark.parametrize("number", ["1e999999999999", "-1E999999999999", "1e-999999999999"])
@pytest.mark.parametrize("key", ["threshold-value", "warning-percent"])
def test_an_annotation_number_beyond_any_context_is_a_problem_not_a_crash(key, number):
    text = SLO.replace(
        "  displayName: Web availability\n",
        f'  displayName: Web availability\n  annotations:\n    sla-portal/{key}: "{number}"\n',
    )
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    (problem,) = reading.problems
    assert problem.path == f'metadata.annotations["sla-portal/{key}"]'
    assert "beyond what the portal stores" in problem.reason or "more precise" in problem.reason


def test_when_some_objectives_carry_an_indicator_every_one_must():
    text = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: mixed
spec:
  service: web
  budgetingMethod: Occurrences
  objectives:
  - displayName: first
    target: 0.99
    indicatorRef: x
  - displayName: second
    target: 0.98
  - displayName: third
    target: 0.97
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: x
spec:
  ratioMetric:
    good:
      metricSource:
        type: Prometheus
        spec: {query: ok}
    total:
      metricSource:
        type: Prometheus
        spec: {query: all}
"""
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    assert [(p.index, p.path) for p in reading.problems] == [
        (0, "spec.objectives[1].indicator"),
        (0, "spec.objectives[2].indicator"),
    ]
    assert "one of indicator or indicatorRef is required" in reading.problems[0].reason


def _many_objectives_file(n: int, slis: int) -> str:
    objectives = "".join(
        f"  - target: 0.9\n    op: lte\n    value: 1\n    indicatorRef: s{i % slis}\n"
        for i in range(n)
    )
    documents = "".join(
        f"---\napiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: s{i}\nspec:\n"
        "  thresholdMetric:\n    metricSource:\n      type: P\n      spec: {}\n"
        for i in range(slis)
    )
    return (
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: x\nspec:\n  service: w\n"
        f"  budgetingMethod: Occurrences\n  objectives:\n{objectives}{documents}"
    )


def test_a_megabyte_of_objectives_is_refused_by_their_count_before_converting(monkeypatch):
    # Converting 12,000 objectives, each looking for its SLI among a thousand objects, took
    # many seconds of CPU per request: the count is checked first and nothing is converted.
    from agreements.openslo import converting

    converted = []
    monkeypatch.setattr(
        converting.Converter, "v1_slo", lambda self: converted.append(self), raising=True
    )
    text = _many_objectives_file(12_000, slis=999)
    assert 800_000 < len(text) <= 1_000_000
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    assert "12000 objectives; at most 200 are imported at once" in reading.problems[-1].reason
    assert converted == []


def test_a_file_of_more_than_1000_objects_is_refused():
    reading = read_targets(_many_objectives_file(1, slis=1001))
    assert not reading.ok and reading.targets == []
    (problem,) = reading.problems
    assert "1,002 objects; at most 1,000" in problem.reason


def test_a_key_given_twice_is_an_error_not_the_last_one_winning():
    text = SLO.replace("    target: 0.999\n", "    target: 0.5\n    target: 0.999\n")
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    (problem,) = reading.problems
    assert problem.reason.startswith("Not valid YAML:")
    assert "'target' is given twice" in problem.reason and "line" in problem.reason


SLI_X = """apiVersion: openslo/v1
kind: SLI
metadata:
  name: x
spec:
  {metric}
"""
RATIO = (
    "ratioMetric: {good: {metricSource: {type: P, spec: {}}}, "
    "total: {metricSource: {type: P, spec: {}}}}"
)
THRESHOLD = "thresholdMetric: {metricSource: {type: P, spec: {}}}"


def test_two_objects_of_one_kind_with_one_name_are_an_error():
    slo = SLO.replace(
        SLO[SLO.index("  indicator:\n") : SLO.index("  timeWindow:\n")], "  indicatorRef: x\n"
    )
    text = "---\n".join([slo, SLI_X.format(metric=RATIO), SLI_X.format(metric=THRESHOLD)])
    reading = read_targets(text)
    assert not reading.ok and reading.targets == []
    (problem,) = reading.problems
    assert (problem.index, problem.kind, problem.path) == (2, "SLI", "metadata.name")
    assert "another SLI named 'x'" in problem.reason and "document #2" in problem.reason


def test_a_name_cut_to_160_characters_says_so():
    text = SLO.replace("displayName: Web availability", "displayName: " + "W" * 170)
    reading = read_targets(text)
    assert reading.targets[0].spec.name == "W" * 160
    (note,) = [n for n in reading.notes if n.rule == "name-shortened"]
    assert note.path == "metadata.displayName" and "170 characters" in note.message


def test_a_sloth_name_cut_to_160_characters_says_so():
    text = (DATA / "sloth/examples/getting-started.yml").read_text()
    text = text.replace('name: "requests-availability"', f'name: "{"r" * 170}"')
    reading = read_targets(text)
    assert reading.ok, reading.problems
    assert reading.targets[0].spec.name == "r" * 160
    (note,) = [n for n in reading.notes if n.rule == "name-shortened"]
    assert note.path == "slos[0].name"


def _annotated(text: str, **annotations: str) -> str:
    lines = "".join(
        f'    sla-portal/{k.replace("_", "-")}: "{v}"\n' for k, v in annotations.items()
    )
    return text.replace(
        "  displayName: Web availability\n",
        f"  displayName: Web availability\n  annotations:\n{lines}",
        1,
    )


def test_a_name_annotation_that_differs_from_the_display_name_says_which_wins():
    reading = read_targets(_annotated(SLO, name="Web"))
    assert reading.targets[0].spec.name == "Web"
    (note,) = [n for n in reading.notes if n.rule == "annotation-overrides"]
    assert note.path == 'metadata.annotations["sla-portal/name"]'
    assert "'Web availability'" in note.message


def test_a_compliance_annotation_that_differs_from_the_objective_target_says_which_wins():
    performance = SLO.replace(
        "      ratioMetric:\n        good:\n          metricSource:\n            type: "
        "Prometheus\n            spec:\n              query: sum(ok)\n        total:\n"
        "          metricSource:\n            type: Prometheus\n            spec:\n"
        "              query: sum(all)\n",
        "      thresholdMetric:\n        metricSource:\n          type: Prometheus\n"
        "          spec:\n            query: latency\n",
    ).replace("    target: 0.999\n", "    target: 0.95\n    op: lte\n    value: 300\n")
    reading = read_targets(_annotated(performance, unit="ms", compliance_target="90"))
    assert reading.ok, reading.problems
    assert reading.targets[0].spec.compliance_target == Decimal("90")
    (note,) = [n for n in reading.notes if n.rule == "annotation-overrides"]
    assert note.path == "spec.objectives[0].target"
    assert "0.95" in note.message and "90" in note.message


def test_a_portal_export_edited_to_keep_time_slices_says_they_are_dropped():
    text = write_openslo(SPECS[:1], reference="SLA-2026-0001", year=2026)
    edited = text.replace(
        "budgetingMethod: RatioTimeslices", "budgetingMethod: Timeslices"
    ).replace(
        "      timeSliceWindow: 1m\n", "      timeSliceWindow: 1m\n      timeSliceTarget: 0.95\n"
    )
    assert edited.count("timeSliceTarget") == 1
    reading = read_targets(edited)
    assert reading.ok, reading.problems
    assert "time-slices" in {n.rule for n in reading.notes}


def test_a_portal_export_with_a_description_added_says_it_is_dropped():
    text = write_openslo(SPECS[:1], reference="SLA-2026-0001", year=2026)
    edited = text.replace(
        "    budgetingMethod:", "    description: Our promise\n    budgetingMethod:"
    )
    reading = read_targets(edited)
    assert reading.ok, reading.problems
    assert "description" in {n.rule for n in reading.notes}


@pytest.mark.parametrize(
    "title", ["Web\n- apiVersion: x", "Web\r\n- apiVersion: x", "Web\u2028x\x85y"]
)
def test_a_title_with_line_breaks_stays_in_the_header_comment(title):
    import yaml

    text = write_openslo(SPECS[:1], reference="SLA-2026-0001", year=2026, title=title)
    header, body = text.split("\n", 1)
    assert header.startswith("# ") and "apiVersion: x" not in body
    assert len(yaml.safe_load(text)) == 1
    reading = read_targets(text)
    assert reading.ok, reading.problems
    assert [t.spec for t in reading.targets] == [SPECS[0].spec]


@pytest.mark.parametrize(
    ("value", "ok"), [("999999999.5", True), ("999999999.999", True), ("1000000000", False)]
)
def test_every_performance_value_the_portal_stores_round_trips(value, ok):
    spec = TargetSpec(
        "performance",
        Decimal(value),
        Decimal(value),
        "count",
        "higher",
        "month",
        "measurements",
        name="Orders per month",
        warning_percent=Decimal("75"),
    )
    reading = read_targets(write_openslo([ExportedTarget(spec)], reference="SLA-2026-0001"))
    if ok:
        assert reading.ok, reading.problems
        assert reading.targets[0].spec.target_value == Decimal(value)
    else:
        assert not reading.ok
        assert "beyond what the portal stores (at most 999999999.999)" in reading.problems[0].reason


def test_a_sloth_latency_slo_says_it_becomes_an_availability_target():
    reading = read_targets((DATA / "sloth/examples/kubernetes-apiserver.yml").read_text())
    assert reading.ok, reading.problems
    latency = [t for t in reading.targets if t.spec.name == "requests-latency"]
    assert latency[0].spec.metric == "availability"
    (note,) = [n for n in reading.notes if n.rule == "latency-as-availability"]
    assert note.path == "slos[1]"
    assert "not a response time" in note.message and "performance target" in note.message


JUNK_TEXT = [
    "2022-02-30",
    "2022-13-45 00:00:00",
    "!!timestamp abc",
    "!!float abc",
    "!!int abc",
    "!!int 0x",
    "1" + "0" * 400,
    "1" + "0" * 400 + "d",
    "9" * 5000,
    '"1e999999999999"',
    '"-1e999999999999"',
    "1e999999",
    ".nan",
    "-.inf",
    "!!binary AAAA",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "{}",
    "[]",
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_yaml_text_in_place_of_a_value_or_a_key_given_twice_is_an_answer(data):
    """The value-level fuzz above builds YAML from Python values, so it never writes a bad
    timestamp, a tag, a huge digit string or a key twice: this one edits the file's text."""
    name = data.draw(st.sampled_from([n for n in corpus() if "_gen" not in n]))
    lines = (DATA / name).read_text().splitlines()
    places = [
        i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")
    ]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.sampled_from(places))
        key = lines[i].split(": ", 1)[0]
        if data.draw(st.booleans()):
            lines[i] = f"{key}: {data.draw(st.sampled_from(JUNK_TEXT))}"
        else:
            lines.insert(i + 1, lines[i])  # the same key twice
            places = [p + (p > i) for p in places]
    reading = read_targets("\n".join(lines) + "\n")
    assert reading.ok or (reading.problems and not reading.targets)
    for problem in reading.problems:
        assert problem.reason
