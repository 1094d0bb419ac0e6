"""Isolation of shared services: a service covered by two customers' agreements.

"Customer Portal" is in Acme's Gold agreement and in Globex's. Data belongs to the source that
sent it (``monitoring.models.ownership``): Globex's monitor reporting the portal down changes
Globex's figures and none of Acme's, each customer sees only its own sources' rows, a
provider-shared source counts (and is seen) through every proposed agreement covering the
service, and a draft grants nothing.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from agreements.services import lifecycle
from agreements.services import reviews as review_services
from agreements.services.drafting import agreement_create_from_tier
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest import IngestError
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import (
    Breach,
    MaintenanceWindow,
    Outage,
    PeriodResult,
    Source,
    Ticket,
    UptimeCheck,
)
from monitoring.probe import probe_source_for
from reporting.selectors.dashboards import customer_dashboard
from sla_portal.core.models import AccountEvent, Role
from tests.support.actors import make_user
from tests.support.agreements import complete_for_proposal, propose_to_customer

pytestmark = pytest.mark.django_db

HOURS = 72  # long enough to cross service hours of any calendar, whenever the test runs


# --- The world ---------------------------------------------------------------------------------


def _globex_portal_agreement(tiers, services, globex, alice_manager, *, active: bool):
    """Globex's Silver agreement covering the shared "Customer Portal" (in force, or a draft
    never proposed)."""
    # The customer's signatory must exist before the agreement names its signatories.
    gina = make_user("gina_globex", globex, Role.CUSTOMER_APPROVER) if active else None
    agreement = agreement_create_from_tier(
        tier=tiers["silver"],
        customer=globex,
        title="Globex Portal – Silver",
        services=[services["portal"]],
        effective_from=timezone.localdate().replace(day=1) - timedelta(days=10),
        created_by=alice_manager,
    )
    if not active:
        return agreement
    agreement.service_description = "Operation of the customer portal for Globex."
    agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, gina, version.number)
    lifecycle.sign(agreement, alice_manager)
    lifecycle.sign(agreement, gina)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


@pytest.fixture
def now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def acme_monitor(acme) -> Source:
    return Source.objects.create(customer=acme, name="Acme monitor", kind=Source.Kind.API)


@pytest.fixture
def globex_monitor(globex) -> Source:
    return Source.objects.create(customer=globex, name="Globex monitor", kind=Source.Kind.API)


@pytest.fixture
def shared_portal(active_acme_agreement, tiers, services, globex, alice_manager):
    """Acme's and Globex's agreements in force, both covering Customer Portal."""
    globex_agreement = _globex_portal_agreement(tiers, services, globex, alice_manager, active=True)
    return active_acme_agreement, globex_agreement, services["portal"]


def _checks(now, status_at) -> list[dict]:
    """Hourly checks over the last ``HOURS`` hours, at the same instants for every feed."""
    return [
        {"checked_at": (now - timedelta(hours=h)).isoformat(), "status": status_at(h)}
        for h in range(HOURS, -1, -1)
    ]


def _all_up(now) -> list[dict]:
    return _checks(now, lambda h: "up")


def _down_lately(now) -> list[dict]:
    # Up until two days ago, then down ever since (an outage still open).
    return _checks(now, lambda h: "up" if h > 48 else "down")


def _availability(agreement) -> PeriodResult:
    return (
        PeriodResult.objects.filter(agreement=agreement, metric="availability")
        .order_by("-period_start")
        .first()
    )


def _down_seconds(row: PeriodResult) -> float:
    return (row.details or {}).get("down_seconds", 0)


# --- Figures ------------------------------------------------------------------------------------


def test_globex_feed_reporting_shared_service_down_leaves_acme_availability_unchanged(
    shared_portal, acme_monitor, globex_monitor, now
):
    acme_agreement, globex_agreement, portal = shared_portal
    checks_ingest(acme_monitor, portal, _all_up(now))
    checks_ingest(globex_monitor, portal, _all_up(now)[: HOURS - 48])
    evaluate_periods(now)
    acme_before = _availability(acme_agreement)
    globex_before = _availability(globex_agreement)
    assert acme_before.value == 100 and _down_seconds(acme_before) == 0

    # Globex's monitor reports the portal down for two days, at the very instants Acme's
    # monitor reported it up.
    checks_ingest(globex_monitor, portal, _down_lately(now))
    evaluate_periods(now)

    acme_after = _availability(acme_agreement)
    assert (acme_after.value, acme_after.status) == (acme_before.value, acme_before.status)
    assert _down_seconds(acme_after) == 0
    assert not Breach.objects.filter(agreement=acme_agreement).exists()
    globex_after = _availability(globex_agreement)
    assert _down_seconds(globex_after) > 0
    assert globex_after.value < globex_before.value

    # Acme's checks are still Acme's and still up: a check is unique per source and instant.
    acme_checks = UptimeCheck.objects.filter(source=acme_monitor)
    assert acme_checks.count() == HOURS + 1
    assert set(acme_checks.values_list("status", flat=True)) == {"up"}
    assert not Outage.objects.filter(source=acme_monitor).exists()
    [globex_outage] = Outage.objects.filter(service=portal)
    assert globex_outage.source_id == globex_monitor.pk and globex_outage.ended_at is None


def test_shared_provider_source_counts_for_every_covering_agreement(shared_portal, now):
    acme_agreement, globex_agreement, portal = shared_portal
    probe = probe_source_for(portal)
    assert probe.shared  # the provider's own measurement, shared on creation
    checks_ingest(probe, portal, _down_lately(now))
    evaluate_periods(now)
    assert _down_seconds(_availability(acme_agreement)) > 0
    assert _down_seconds(_availability(globex_agreement)) > 0


def test_unsharing_a_source_makes_it_count_for_its_own_customer_only(
    client, shared_portal, alice_manager, now
):
    acme_agreement, globex_agreement, portal = shared_portal
    probe = probe_source_for(portal)
    checks_ingest(probe, portal, _down_lately(now))
    client.force_login(alice_manager)
    url = reverse("source-sharing", args=[probe.pk])
    response = client.post(url, {"shared": False}, content_type="application/json")
    assert response.status_code == 200 and response.json()["shared"] is False
    evaluate_periods(now)
    assert probe.customer_id == acme_agreement.customer_id
    assert _down_seconds(_availability(acme_agreement)) > 0
    assert _down_seconds(_availability(globex_agreement)) == 0
    event = AccountEvent.objects.get(action=AccountEvent.Action.SOURCE_SHARING)
    assert event.organisation_id == probe.customer_id and event.actor == alice_manager
    assert (event.before, event.after) == ("shared", "own customer only")


@pytest.fixture
def acme_probe(acme) -> Source:
    """A built-in probe source not (yet) shared: the only kind that may be."""
    return Source.objects.create(customer=acme, name="Acme probe", kind=Source.Kind.PROBE)


def test_only_service_managers_share_sources(
    client, acme_probe, tom_team, carol_customer, alice_manager
):
    url = reverse("source-sharing", args=[acme_probe.pk])
    for user, expected in ((tom_team, 403), (carol_customer, 403)):
        client.force_login(user)
        assert client.post(url, {"shared": True}, content_type="application/json").status_code in (
            expected,
            404,
        )
        page = client.post(reverse("monitoring:source-sharing", args=[acme_probe.pk]))
        assert page.status_code == 403
    acme_probe.refresh_from_db()
    assert not acme_probe.shared
    assert not AccountEvent.objects.filter(action=AccountEvent.Action.SOURCE_SHARING).exists()
    # Sharing is its own action: a write of the source cannot set it on the way.
    client.force_login(alice_manager)
    patch = client.patch(
        reverse("source-detail", args=[acme_probe.pk]),
        {"shared": True},
        content_type="application/json",
    )
    assert patch.status_code == 400 and "shared" in patch.json()
    page = client.post(reverse("monitoring:source-sharing", args=[acme_probe.pk]), {"shared": "on"})
    assert page.status_code == 302
    acme_probe.refresh_from_db()
    assert acme_probe.shared


def test_a_source_whose_credentials_others_hold_cannot_be_shared(
    client, acme_monitor, acme, alice_manager
):
    """Acme's own monitor signs its data: shared, Acme could change Globex's figures."""
    webhook = Source.objects.create(customer=acme, name="Acme kuma", kind=Source.Kind.UPTIME_KUMA)
    client.force_login(alice_manager)
    for source in (acme_monitor, webhook):
        response = client.post(
            reverse("source-sharing", args=[source.pk]),
            {"shared": True},
            content_type="application/json",
        )
        assert response.status_code == 400
        assert "Only a built-in probe's source can be shared" in response.json()["shared"][0]

        detail = reverse("monitoring:source-detail", args=[source.pk])
        assert 'name="shared"' not in client.get(detail).content.decode()  # no button offered
        page = client.post(
            reverse("monitoring:source-sharing", args=[source.pk]), {"shared": "on"}, follow=True
        )
        assert page.redirect_chain[-1][0] == detail
        assert "Only a built-in probe&#x27;s source can be shared" in page.content.decode()
        source.refresh_from_db()
        assert not source.shared
    assert not AccountEvent.objects.filter(action=AccountEvent.Action.SOURCE_SHARING).exists()

    # A source shared before the rule can still be put right.
    Source.objects.filter(pk=acme_monitor.pk).update(shared=True)
    response = client.post(
        reverse("source-sharing", args=[acme_monitor.pk]),
        {"shared": False},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["shared"] is False


# --- What each customer sees -------------------------------------------------------------------


@pytest.fixture
def both_fed(shared_portal, acme_monitor, globex_monitor, acme_desk, now):
    portal = shared_portal[2]
    checks_ingest(acme_monitor, portal, _checks(now, lambda h: "down" if h == 5 else "up"))
    checks_ingest(globex_monitor, portal, _down_lately(now)[-10:])
    # Globex's own maintenance announcement of the shared portal: Globex's, not Acme's.
    maintenance_ingest(
        globex_monitor,
        [
            {
                "external_id": "GMW-1",
                "service": portal.name,
                "title": "Globex patch night",
                "starts_at": (now - timedelta(hours=2)).isoformat(),
                "ends_at": (now - timedelta(hours=1)).isoformat(),
            }
        ],
    )
    tickets_ingest(
        acme_desk,
        [
            {
                "external_id": "ACME-PORTAL-1",
                "service": portal.name,
                "priority": "P2",
                "opened_at": (now - timedelta(hours=3)).isoformat(),
            }
        ],
    )
    evaluate_periods(now)
    return shared_portal


def test_globex_viewer_sees_none_of_acmes_checks_outages_or_tickets(
    client, both_fed, other_org_viewer, carol_customer, acme_monitor, globex_monitor
):
    _, _, portal = both_fed
    page_url = reverse("monitoring:service-checks", args=[portal.pk])

    client.force_login(other_org_viewer)
    response = client.get(page_url)
    assert response.status_code == 200
    assert response.context["summary"]["total"] == 10
    assert {row["check"].source_id for row in response.context["rows"]} == {globex_monitor.pk}
    outages = [entry["outage"] for entry in response.context["outages"]]
    assert outages and {o.source_id for o in outages} == {globex_monitor.pk}
    assert [entry["window"].title for entry in response.context["maintenance"]] == [
        "Globex patch night"
    ]
    acme_ticket = Ticket.objects.get(external_id="ACME-PORTAL-1")
    assert "ACME-PORTAL-1" not in client.get(reverse("monitoring:ticket-list")).content.decode()
    assert "ACME-PORTAL-1" not in client.get(reverse("ticket-list")).content.decode()
    assert client.get(reverse("ticket-detail", args=[acme_ticket.pk])).status_code == 404
    detail = reverse("monitoring:ticket-detail", args=[acme_ticket.pk])
    assert client.get(detail).status_code == 404
    assert set(
        UptimeCheck.objects.visible_to(other_org_viewer).values_list("source", flat=True)
    ) == {globex_monitor.pk}

    client.force_login(carol_customer)
    response = client.get(page_url)
    assert response.context["summary"]["total"] == HOURS + 1
    assert {row["check"].source_id for row in response.context["rows"]} == {acme_monitor.pk}
    assert {entry["outage"].source_id for entry in response.context["outages"]} <= {acme_monitor.pk}
    assert response.context["maintenance"] == []
    assert "Globex patch night" not in response.content.decode()


def test_dashboard_timeline_draws_only_outages_counted_for_the_agreement(
    both_fed, other_org_viewer, carol_customer, alice_manager, now
):
    acme_agreement, globex_agreement, _ = both_fed

    def outages_drawn(user, agreement) -> list:
        [panel] = [p for p in customer_dashboard(user, now) if p.agreement.pk == agreement.pk]
        return [s for s in panel.timeline.spans if s.kind == "outage"]

    assert all(s.end is not None for s in outages_drawn(carol_customer, acme_agreement))
    assert any(s.end is None for s in outages_drawn(other_org_viewer, globex_agreement))


# --- Drafts ------------------------------------------------------------------------------------


def test_linking_a_draft_grants_no_sight_of_the_shared_service(
    client,
    active_acme_agreement,
    tiers,
    services,
    globex,
    alice_manager,
    other_org_viewer,
    acme_monitor,
    now,
):
    portal = services["portal"]
    draft = _globex_portal_agreement(tiers, services, globex, alice_manager, active=False)
    checks_ingest(acme_monitor, portal, _down_lately(now))
    probe = probe_source_for(portal)
    checks_ingest(probe, portal, _all_up(now))

    client.force_login(other_org_viewer)
    assert client.get(reverse("monitoring:service-checks", args=[portal.pk])).status_code == 404
    assert not UptimeCheck.objects.visible_to(other_org_viewer).exists()
    assert not Outage.objects.visible_to(other_org_viewer).exists()

    # Once proposed, Globex sees the provider's shared measurement of the portal, never Acme's.
    propose_to_customer(draft, alice_manager)
    seen = set(UptimeCheck.objects.visible_to(other_org_viewer).values_list("source", flat=True))
    assert seen == {probe.pk}
    assert not Outage.objects.visible_to(other_org_viewer).exists()


# --- Ingest -------------------------------------------------------------------------------------


def test_data_for_a_service_no_agreement_of_the_customer_covers_is_refused(
    client, shared_portal, globex_monitor, services, alice_manager, now
):
    erp = services["erp"]
    with pytest.raises(IngestError) as refused:
        checks_ingest(globex_monitor, erp, _all_up(now)[:2])
    assert refused.value.errors[0].field == "service"
    client.force_login(alice_manager)
    url = reverse("source-checks-bulk", args=[globex_monitor.pk]) + f"?service={erp.pk}"
    response = client.post(url, _all_up(now)[:2], content_type="application/json")
    assert response.status_code == 400
    assert not UptimeCheck.objects.filter(service=erp).exists()


# --- Rows recorded before sources --------------------------------------------------------------


def test_migration_gives_sourceless_rows_to_the_only_customer_covering_the_service(
    shared_portal, services, acme, now, capsys
):
    acme_agreement, globex_agreement, portal = shared_portal
    records = services["records"]
    records_for_acme = agreement_create_from_tier(
        tier=acme_agreement.tier,
        customer=acme,
        title="Records for Acme",
        services=[records],
        effective_from=acme_agreement.effective_from,
        created_by=acme_agreement.created_by,
    )
    # Proposed: a draft would cover nothing (the next test).
    propose_to_customer(records_for_acme, acme_agreement.created_by)
    UptimeCheck.objects.create(service=records, checked_at=now, status="down")
    Outage.objects.create(service=records, started_at=now)
    UptimeCheck.objects.create(service=portal, checked_at=now, status="down")
    Outage.objects.create(service=portal, started_at=now)

    migration = importlib.import_module("monitoring.migrations.0021_data_belongs_to_its_source")
    migration.attribute_data(apps, None)

    legacy = Source.objects.get(customer=acme, name=migration.LEGACY_SOURCE)
    assert legacy.disabled_at is not None
    assert UptimeCheck.objects.get(service=records).source == legacy
    assert Outage.objects.get(service=records).source == legacy
    # Two customers cover the portal: its rows stay without a source and count nowhere.
    assert UptimeCheck.objects.get(service=portal).source is None
    said = capsys.readouterr().out
    assert "given to source" in said and "left without a source" in said
    evaluate_periods(now + timedelta(minutes=30))
    assert _down_seconds(_availability(acme_agreement)) == 0
    assert _down_seconds(_availability(globex_agreement)) == 0


def test_another_customers_outage_of_a_shared_service_leaves_the_dashboard_unchanged(
    client, shared_portal, acme_monitor, globex_monitor, carol_customer, now
):
    _, _, portal = shared_portal
    checks_ingest(acme_monitor, portal, _all_up(now))
    evaluate_periods(now)
    client.force_login(carol_customer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    start = page.index('data-version="') + len('data-version="')
    version = page[start : page.index('"', start)]

    checks_ingest(globex_monitor, portal, _down_lately(now))
    assert Outage.objects.filter(source=globex_monitor).exists()
    # The live poll answers "nothing changed" (204): Globex's outage is not Acme's data.
    poll = client.get(reverse("reporting:dashboard-live"), {"v": version})
    assert poll.status_code == 204


def test_service_added_while_renegotiating_is_not_seen_until_proposed(
    shared_portal, services, alice_manager, other_org_viewer, now
):
    _, globex_agreement, portal = shared_portal
    records = services["records"]
    probe = probe_source_for(portal)  # the provider's shared measurement
    checks_ingest(probe, portal, _all_up(now))

    review_services.review_start(globex_agreement, alice_manager)
    review_services.review_decide(
        globex_agreement, alice_manager, "renegotiate", findings="Records too",
        root_causes="Scope grew", lessons="Cover records",
        actions=[{"description": "Add records", "owner": alice_manager,
                  "due_date": timezone.localdate()}],
    )  # fmt: skip
    globex_agreement.refresh_from_db()
    assert globex_agreement.status == "renegotiating"
    globex_agreement.services.add(records)
    checks_ingest(probe, records, _down_lately(now))

    # In the provider's working copy only: Globex sees nothing of the records service yet,
    # and still the portal its signed version covers.
    visible = UptimeCheck.objects.visible_to(other_org_viewer)
    assert not visible.filter(service=records).exists()
    assert not Outage.objects.visible_to(other_org_viewer).filter(service=records).exists()
    assert visible.filter(service=portal).exists()

    lifecycle.propose(globex_agreement, alice_manager, note="Records added")
    assert UptimeCheck.objects.visible_to(other_org_viewer).filter(service=records).exists()
    assert Outage.objects.visible_to(other_org_viewer).filter(service=records).exists()


def test_migration_ignores_drafts_and_rekeys_maintenance_ids_that_would_clash(
    shared_portal, tiers, services, acme, globex, alice_manager, now, capsys
):
    acme_agreement = shared_portal[0]
    records = services["records"]
    records_for_acme = agreement_create_from_tier(
        tier=acme_agreement.tier,
        customer=acme,
        title="Records for Acme",
        services=[records],
        effective_from=acme_agreement.effective_from,
        created_by=alice_manager,
    )
    propose_to_customer(records_for_acme, alice_manager)
    # Globex's draft also links the records service: the provider's working copy only.
    agreement_create_from_tier(
        tier=tiers["silver"],
        customer=globex,
        title="Records for Globex",
        services=[records],
        effective_from=acme_agreement.effective_from,
        created_by=alice_manager,
    )
    check = UptimeCheck.objects.create(service=records, checked_at=now, status="down")
    # Two windows recorded without a source under one external id (a NULL source never
    # clashed), and one with its own.
    windows = [
        MaintenanceWindow.objects.create(
            service=records,
            external_id=external_id,
            starts_at=now + timedelta(hours=hour),
            ends_at=now + timedelta(hours=hour + 1),
        )
        for hour, external_id in ((1, "MW-1"), (3, "MW-1"), (5, "MW-2"))
    ]

    migration = importlib.import_module("monitoring.migrations.0021_data_belongs_to_its_source")
    migration.attribute_data(apps, None)

    legacy = Source.objects.get(customer=acme, name=migration.LEGACY_SOURCE)
    check.refresh_from_db()
    assert check.source == legacy
    for window in windows:
        window.refresh_from_db()
        assert window.source == legacy
    first, second, third = windows
    assert (first.external_id, third.external_id) == ("MW-1", "MW-2")
    assert second.external_id == f"MW-1 (before sources #{second.pk})"
    said = capsys.readouterr().out
    assert f"re-keyed 'MW-1 (before sources #{second.pk})'" in said
    assert not Source.objects.filter(customer=globex, name=migration.LEGACY_SOURCE).exists()
