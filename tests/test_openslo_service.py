"""OpenSLO import into a draft agreement and export from it, with the real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from agreements.models import AuditEvent, Target
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.services.drafting import agreement_create_from_tier
from agreements.services.openslo import (
    AgreementNotEditable,
    OpenSLOImportRefused,
    openslo_export,
    openslo_import,
    openslo_plan,
)
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA
SLOTH_GETTING_STARTED = (DATA / "sloth/examples/getting-started.yml").read_text()
COMPARED = (*TARGET_SPEC_FIELDS, "service")


def exported_fields(target: Target) -> tuple:
    return tuple(getattr(target, f) for f in COMPARED)


@pytest.fixture
def blank_draft(acme, services, alice_manager):
    """A new draft for Acme with no tier: no targets to start from."""
    return agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Portal – from OpenSLO",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )


def test_export_then_import_into_a_new_draft_gives_the_same_targets(
    acme_agreement, blank_draft, alice_manager, calendars, services
):
    availability = acme_agreement.targets.get(metric="availability")
    availability.service = services["portal"]
    availability.calendar = next(iter(calendars.values()))
    availability.threshold_value = Decimal("99.25")
    availability.save()
    Target.objects.create(
        agreement=acme_agreement,
        metric="performance",
        name="p95 booking time",
        target_value=Decimal("800"),
        threshold_value=Decimal("1500"),
        unit="ms",
        direction="lower",
        period="quarter",
        data_source="measurements",
        warning_percent=Decimal("60"),
    )
    exported = [
        t
        for t in acme_agreement.targets.order_by("position", "metric", "id")
        if t.metric in {"availability", "performance"}
    ]
    assert len(exported) >= 3
    text = openslo_export(user=alice_manager, agreement=acme_agreement)

    plan = openslo_import(user=alice_manager, agreement=blank_draft, text=text)

    assert plan.notes == []  # the portal's own export needs no reinterpretation
    imported = list(blank_draft.targets.order_by("position"))
    assert [exported_fields(t) for t in imported] == [exported_fields(t) for t in exported]
    assert [t.calendar_id for t in imported] == [t.calendar_id for t in exported]
    # Ticket targets are not OpenSLO's: they stay behind.
    assert not blank_draft.targets.exclude(metric__in=["availability", "performance"]).exists()


def test_reimporting_the_agreements_own_export_changes_nothing(acme_agreement, alice_manager):
    text = openslo_export(user=alice_manager, agreement=acme_agreement)
    before = AuditEvent.objects.filter(action="changed").count()
    plan = openslo_import(user=alice_manager, agreement=acme_agreement, text=text)
    assert plan.counts()["create"] == 0 and plan.counts()["update"] == 0
    assert AuditEvent.objects.filter(action="changed").count() == before


def test_import_updates_a_target_of_the_same_name_and_lists_the_change(
    acme_agreement, alice_manager
):
    availability = acme_agreement.targets.get(metric="availability")
    text = openslo_export(user=alice_manager, agreement=acme_agreement).replace(
        "target: 0.999\n", "target: 0.9995\n"
    )
    plan = openslo_plan(user=alice_manager, agreement=acme_agreement, text=text)
    (changed,) = [t for t in plan.targets if t.action == "update"]
    assert changed.existing == availability
    assert changed.changes == {"target_value": (Decimal("99.900"), Decimal("99.950"))}
    openslo_import(user=alice_manager, agreement=acme_agreement, text=text)
    availability.refresh_from_db()
    assert availability.target_value == Decimal("99.950")


def test_sloth_import_adds_targets_with_rules_and_an_audit_entry(blank_draft, alice_manager):
    plan = openslo_import(
        user=alice_manager, agreement=blank_draft, text=SLOTH_GETTING_STARTED, filename="gs.yml"
    )
    (target,) = blank_draft.targets.all()
    assert (target.metric, target.name, target.target_value, target.threshold_value) == (
        "availability",
        "requests-availability",
        Decimal("99.900"),
        Decimal("99.900"),
    )
    assert target.service is None  # 'myservice' is not one of the agreement's services
    rules = {n.rule for n in plan.notes}
    assert {"sloth-percent", "threshold-equals-target", "service-not-matched"} <= rules
    event = AuditEvent.objects.get(agreement=blank_draft, action="openslo_import")
    assert "1 target(s) added" in event.message and "gs.yml" in event.message
    assert event.actor == alice_manager
    # Each target row is in the trail too, like any other change.
    assert AuditEvent.objects.filter(
        agreement=blank_draft, action="created", object_type="target"
    ).exists()


def test_a_file_naming_the_agreements_service_scopes_the_target_to_it(
    blank_draft, alice_manager, services
):
    text = SLOTH_GETTING_STARTED.replace('service: "myservice"', 'service: "customer-portal"')
    openslo_import(user=alice_manager, agreement=blank_draft, text=text)
    assert blank_draft.targets.get().service == services["portal"]


def test_an_invalid_file_writes_nothing(blank_draft, alice_manager):
    text = SLOTH_GETTING_STARTED + "\n---\n" + SLOTH_GETTING_STARTED.replace("99.9", "0")
    with pytest.raises(OpenSLOImportRefused) as refused:
        openslo_import(user=alice_manager, agreement=blank_draft, text=text)
    (problem,) = refused.value.plan.problems
    assert (problem.index, problem.path) == (1, "slos[0].objective")
    assert not blank_draft.targets.exists()
    assert not AuditEvent.objects.filter(agreement=blank_draft, action="openslo_import").exists()


def test_a_signed_agreement_is_not_changed(active_acme_agreement, alice_manager):
    count = active_acme_agreement.targets.count()
    with pytest.raises(AgreementNotEditable, match="can only be changed while"):
        openslo_import(
            user=alice_manager, agreement=active_acme_agreement, text=SLOTH_GETTING_STARTED
        )
    assert active_acme_agreement.targets.count() == count


def test_a_rule_hitting_two_objectives_of_one_object_is_said_once(blank_draft, alice_manager):
    text = (DATA / "openslo/spec-repo/examples/budgeting-method/timeslices-slo.yaml").read_text()
    plan = openslo_plan(user=alice_manager, agreement=blank_draft, text=text)
    assert len(plan.targets) == 2
    unmatched = [n for n in plan.notes if n.rule == "service-not-matched"]
    assert len(unmatched) == 1
    assert unmatched[0].path == "spec.service" and "'web-availability'" in unmatched[0].message


SLO_WITH_ANNOTATIONS = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: web-availability
  displayName: Web availability
  annotations:
    {annotation}
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
  budgetingMethod: Occurrences
  objectives:
  - displayName: Good
    target: 0.999
"""


@pytest.mark.parametrize(
    ("annotation", "key", "reason"),
    [
        ('sla-portal/warning-percent: "80.125"', "warning-percent", "2 decimal places"),
        (f'sla-portal/name: "{"n" * 161}"', "name", "at most 160 characters"),
    ],
)
def test_what_the_database_would_refuse_is_refused_by_the_preview_too(
    blank_draft, alice_manager, annotation, key, reason
):
    text = SLO_WITH_ANNOTATIONS.format(annotation=annotation)
    plan = openslo_plan(user=alice_manager, agreement=blank_draft, text=text)
    assert not plan.ok
    (problem,) = plan.problems
    assert problem.path == f'metadata.annotations["sla-portal/{key}"]'
    assert reason in problem.reason
    with pytest.raises(OpenSLOImportRefused):
        openslo_import(user=alice_manager, agreement=blank_draft, text=text)
    assert not blank_draft.targets.exists()


def test_the_preview_runs_the_models_validation_on_each_target(
    blank_draft, alice_manager, monkeypatch
):
    # Whatever the reader lets through, the preview offers nothing the database would refuse.
    from agreements.openslo import read_targets
    from agreements.services import openslo as service

    def reading_with_a_long_name(text):
        reading = read_targets(text)
        (target,) = reading.targets
        long_spec = replace(target.spec, name="n" * 161)
        reading.targets = [replace(target, spec=long_spec)]
        return reading

    monkeypatch.setattr(service, "read_targets", reading_with_a_long_name)
    text = SLO_WITH_ANNOTATIONS.format(annotation='sla-portal/name: "Web"')
    plan = openslo_plan(user=alice_manager, agreement=blank_draft, text=text)
    assert not plan.ok
    (problem,) = plan.problems
    assert (problem.index, problem.path) == (0, "spec.objectives[0]")
    assert problem.reason.startswith("name: ") and "160 characters" in problem.reason


def test_a_new_target_without_a_warning_level_shows_and_says_the_default(
    blank_draft, alice_manager
):
    text = SLO_WITH_ANNOTATIONS.format(annotation='sla-portal/name: "Web"')
    plan = openslo_plan(user=alice_manager, agreement=blank_draft, text=text)
    (planned,) = plan.targets
    assert planned.values["warning_percent"] == Decimal("75")
    (note,) = [n for n in plan.notes if n.rule == "warning-default"]
    assert note.path == 'metadata.annotations["sla-portal/warning-percent"]'
    assert "75 %" in note.message
    openslo_import(user=alice_manager, agreement=blank_draft, text=text)
    assert blank_draft.targets.get().warning_percent == Decimal("75")


def test_one_unnamed_availability_target_per_service_round_trips(acme, services, alice_manager):
    def availability(agreement, service, value):
        return Target.objects.create(
            agreement=agreement,
            metric="availability",
            service=service,
            target_value=Decimal(value),
            threshold_value=Decimal("99"),
            unit="percent",
            direction="higher",
            period="month",
            data_source="uptime",
        )

    web, api = services["portal"], services["erp"]
    source = agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Web and API",
        services=[web, api],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    availability(source, web, "99.9")
    availability(source, api, "99.5")
    text = openslo_export(user=alice_manager, agreement=source)

    # Into its own agreement: each matches its own target, nothing changes.
    plan = openslo_plan(user=alice_manager, agreement=source, text=text)
    assert plan.ok, plan.problems
    assert [(t.action, t.existing.service) for t in plan.targets] == [
        ("unchanged", web),
        ("unchanged", api),
    ]
    # Into a new draft: the same two targets.
    target = agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Web and API, again",
        services=[web, api],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    plan = openslo_import(user=alice_manager, agreement=target, text=text)
    assert plan.notes == []
    assert [exported_fields(t) for t in target.targets.order_by("position")] == [
        exported_fields(t) for t in source.targets.order_by("position")
    ]


def test_two_targets_whose_services_the_agreement_lacks_are_not_merged(blank_draft, alice_manager):
    def slo(name: str, service: str) -> str:
        annotation = f'sla-portal/name: ""\n    sla-portal/service: "{service}"'
        return SLO_WITH_ANNOTATIONS.format(annotation=annotation).replace(
            "name: web-availability", f"name: {name}"
        )

    text = slo("web", "Web") + "---\n" + slo("api", "API")
    plan = openslo_plan(user=alice_manager, agreement=blank_draft, text=text)
    assert not plan.ok
    (problem,) = plan.problems
    assert (problem.index, problem.path) == (1, "spec.objectives[0]")
    assert "a second availability target named '' for all services" in problem.reason
