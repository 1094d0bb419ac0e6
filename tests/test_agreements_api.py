"""The agreements API: scoped like the portal, drafts written by service managers only,
SMART errors per field, and a schema that documents every endpoint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient, APIRequestFactory

from agreements.models import Agreement, Calendar, Target, Tier
from agreements.sections import SECTIONS
from agreements.serializers.targets import TargetSerializer
from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from tests.support.agreements import propose_to_customer

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def set_status(agreement: Agreement, status: str) -> None:
    Agreement.objects.filter(pk=agreement.pk).update(status=status)


AVAILABILITY = {"metric": "availability", "target_value": "99.9", "threshold_value": "99.5"}


# --- Creating from a tier ------------------------------------------------------------------


def test_manager_creates_agreement_from_tier_and_tier_targets_are_copied(
    alice_manager, acme, tiers, services
):
    gold = tiers["gold"]
    response = api(alice_manager).post(
        "/api/agreements/",
        {
            "tier": "gold",
            "customer": "acme",
            "title": "Customer Portal and ERP - Gold",
            "services": [services["portal"].pk, services["erp"].pk],
            "effective_from": "2026-01-01",
            "effective_to": "2027-12-31",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    agreement = Agreement.objects.get(pk=body["id"])
    assert body["status"] == "draft" and body["is_editable"] is True
    assert body["customer"] == "acme" and body["tier"] == "gold"
    assert body["reference"].startswith("SLA-")
    assert agreement.created_by == alice_manager
    tier_targets = sorted((t.metric, t.priority, t.target_value) for t in gold.targets.all())
    copied = sorted((t.metric, t.priority, t.target_value) for t in agreement.targets.all())
    assert copied == tier_targets
    listed = [t for section in body["sections"].values() for t in section["targets"]]
    assert len(listed) == len(tier_targets)
    charges = body["sections"]["charges"]
    assert charges["fee_amount"] == "12000.00"
    assert len(charges["credit_bands"]) == gold.credit_bands.count()
    assert body["sections"]["hours"]["service_calendars"] == [gold.service_calendar_id]
    assert body["sections"]["support"]["support_calendar"] == gold.support_calendar_id
    assert len(body["sections"]["support"]["priority_definitions"]) == 4


def test_sections_carry_each_sections_fields_lists_and_targets(alice_manager, acme_agreement):
    sections = api(alice_manager).get(f"/api/agreements/{acme_agreement.pk}/").json()["sections"]

    assert list(sections) == [section.key for section in SECTIONS]
    for section in SECTIONS:
        body = sections[section.key]
        assert body["number"] == section.number and body["title"] == section.title
        assert set(section.fields) | set(section.related) <= set(body)
        assert {t["metric"] for t in body["targets"]} <= set(section.target_metrics)
    assert {t["priority"] for t in sections["support"]["targets"]} == {"P1", "P2", "P3", "P4"}
    assert [t["metric"] for t in sections["availability"]["targets"]] == ["availability"]


def test_create_without_tier_starts_empty(alice_manager, acme, services):
    response = api(alice_manager).post(
        "/api/agreements/",
        {
            "customer": "acme",
            "title": "Managed Email",
            "services": [services["email"].pk],
            "effective_from": "2026-03-01",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["tier"] is None
    assert Target.objects.filter(agreement_id=response.json()["id"]).count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": "northwind"}, "customer"),  # the provider is not a customer
        ({"customer": "nobody"}, "customer"),
        ({"tier": "platinum"}, "tier"),
        ({"effective_to": "2025-12-31"}, "effective_to"),
        ({"services": []}, "services"),
        ({"colour": "gold"}, "colour"),
    ],
)
def test_create_answers_with_the_field_and_reason(
    alice_manager, acme, provider_org, tiers, services, change, field
):
    payload = {
        "tier": "gold",
        "customer": "acme",
        "title": "Portal",
        "effective_from": "2026-01-01",
        "services": [services["portal"].pk],
        **change,
    }

    response = api(alice_manager).post("/api/agreements/", payload, format="json")

    assert response.status_code == 400
    assert response.json()[field][0]
    assert Agreement.objects.count() == 0


# --- Scoping: a customer sees its own organisation's rows only -----------------------------


def test_customer_lists_only_its_organisations_agreements(
    carol_customer, other_org_viewer, alice_manager, acme_agreement, globex_agreement
):
    # Drafts never proposed are the provider's: no customer lists them.
    assert results(api(carol_customer).get("/api/agreements/")) == []
    propose_to_customer(acme_agreement, alice_manager)
    propose_to_customer(globex_agreement, alice_manager)
    assert [a["id"] for a in results(api(carol_customer).get("/api/agreements/"))] == [
        acme_agreement.pk
    ]
    assert [a["id"] for a in results(api(other_org_viewer).get("/api/agreements/"))] == [
        globex_agreement.pk
    ]


def test_customer_gets_404_for_another_orgs_agreement(
    carol_customer, other_org_viewer, alice_manager, acme_agreement, globex_agreement
):
    propose_to_customer(acme_agreement, alice_manager)
    propose_to_customer(globex_agreement, alice_manager)
    client = api(carol_customer)
    assert client.get(f"/api/agreements/{acme_agreement.pk}/").status_code == 200
    assert client.get(f"/api/agreements/{globex_agreement.pk}/").status_code == 404


def test_customer_sees_only_targets_of_its_own_agreements(
    carol_customer, alice_manager, acme_agreement, globex_agreement
):
    client = api(carol_customer)
    assert results(client.get("/api/targets/")) == []  # a draft's targets are the provider's
    version = propose_to_customer(acme_agreement, alice_manager)
    # Under negotiation they are a proposal, read in the agreement or its versions.
    assert results(client.get("/api/targets/")) == []
    lifecycle.accept(acme_agreement, carol_customer, version.number)
    listed = {t["agreement"] for t in results(client.get("/api/targets/"))}
    assert listed == {acme_agreement.pk}
    assert results(client.get(f"/api/targets/?agreement={globex_agreement.pk}")) == []
    theirs = globex_agreement.targets.first()
    assert client.get(f"/api/targets/{theirs.pk}/").status_code == 404
    ours = acme_agreement.targets.first()
    assert client.get(f"/api/targets/{ours.pk}/").status_code == 200


def test_customer_sees_only_services_of_its_own_agreements(
    carol_customer, active_acme_agreement, globex_agreement, services
):
    client = api(carol_customer)
    assert [s["name"] for s in results(client.get("/api/services/"))] == ["Customer Portal"]
    assert client.get(f"/api/services/{services['records'].pk}/").status_code == 404
    assert client.get(f"/api/services/{services['portal'].pk}/").status_code == 200


def test_customer_sees_only_calendars_its_agreements_use(
    carol_customer, active_acme_agreement, globex_agreement, calendars
):
    client = api(carol_customer)
    # The Gold agreement runs on the 24x7 calendar only; Globex's Silver on extended hours.
    assert [c["name"] for c in results(client.get("/api/calendars/"))] == ["24x7"]
    assert client.get(f"/api/calendars/{calendars['extended'].pk}/").status_code == 404
    assert client.get(f"/api/calendars/{calendars['office'].pk}/").status_code == 404


def test_tiers_are_for_provider_users_only(carol_customer, alice_manager, tom_team, tiers):
    assert results(api(carol_customer).get("/api/tiers/")) == []
    assert api(carol_customer).get("/api/tiers/gold/").status_code == 404
    assert [t["slug"] for t in results(api(tom_team).get("/api/tiers/"))] == [
        "gold",
        "silver",
        "bronze",
    ]
    gold = api(alice_manager).get("/api/tiers/gold/").json()
    assert len(gold["targets"]) == tiers["gold"].targets.count()
    assert gold["credit_bands"][0]["metric"] == "availability"


def test_customer_cannot_compare_with_the_tier(carol_customer, acme_agreement):
    response = api(carol_customer).get(f"/api/agreements/{acme_agreement.pk}/tier-differences/")
    assert response.status_code == 403


def test_selector_scoping_also_guards_the_target_agreement_field(other_org_viewer, acme_agreement):
    # The permission stops customers before any write; the field itself chooses through the
    # selector too, so another organisation's agreement is simply not there.
    request = APIRequestFactory().post("/api/targets/")
    request.user = other_org_viewer
    serializer = TargetSerializer(
        data={**AVAILABILITY, "agreement": acme_agreement.pk}, context={"request": request}
    )
    assert not serializer.is_valid()
    assert "does not exist" in serializer.errors["agreement"][0]


# --- Only service managers write -----------------------------------------------------------


@pytest.mark.parametrize("actor", ["carol_customer", "victor_viewer", "tom_team"])
def test_readers_cannot_write(request, actor, acme_agreement, services, calendars, tiers):
    client = api(request.getfixturevalue(actor))
    target = acme_agreement.targets.first()
    attempts = [
        client.post("/api/agreements/", {"customer": "acme", "title": "x"}, format="json"),
        client.patch(f"/api/agreements/{acme_agreement.pk}/", {"title": "x"}, format="json"),
        client.post("/api/targets/", {**AVAILABILITY, "agreement": acme_agreement.pk}),
        client.patch(f"/api/targets/{target.pk}/", {"threshold_value": "99"}, format="json"),
        client.delete(f"/api/targets/{target.pk}/"),
        client.post("/api/services/", {"name": "New"}, format="json"),
        client.delete(f"/api/services/{services['portal'].pk}/"),
        client.post("/api/calendars/", {"name": "New"}, format="json"),
        client.post("/api/tiers/", {"name": "Platinum", "slug": "platinum"}, format="json"),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert Target.objects.filter(pk=target.pk).exists()
    assert Agreement.objects.get(pk=acme_agreement.pk).title == acme_agreement.title


def test_api_needs_authentication(client, acme_agreement):
    assert client.get("/api/agreements/").status_code in (401, 403)


def test_token_authentication_reads_agreements(carol_customer, alice_manager, acme_agreement):
    from sla_portal.core.tokens import create_token_for_tests

    propose_to_customer(acme_agreement, alice_manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_token_for_tests(carol_customer)}")
    assert [a["reference"] for a in results(client.get("/api/agreements/"))] == [
        acme_agreement.reference
    ]


# --- Targets and SMART ---------------------------------------------------------------------


def test_smart_errors_come_back_per_field_and_nothing_is_saved(alice_manager, acme_agreement):
    before = acme_agreement.targets.count()

    response = api(alice_manager).post(
        "/api/targets/",
        {
            "agreement": acme_agreement.pk,
            "metric": "availability",
            "target_value": "99.9",
            "threshold_value": "99.95",
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["threshold_value"]
    assert errors["threshold_value"][0].startswith("Realistic: the threshold (99.950)")
    assert acme_agreement.targets.count() == before


def test_every_broken_smart_rule_is_reported(alice_manager, acme_agreement):
    response = api(alice_manager).post(
        "/api/targets/",
        {
            "agreement": acme_agreement.pk,
            "metric": "response_time",
            "target_value": "30",
            "threshold_value": "15",
            "unit": "percent",
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert {"priority", "unit", "threshold_value", "compliance_target"} <= set(errors)
    assert errors["priority"][0].startswith("Specific:")
    assert errors["unit"][0].startswith("Measurable:")


def test_unit_direction_and_source_default_from_the_metric(
    alice_manager, acme_agreement, calendars
):
    response = api(alice_manager).post(
        "/api/targets/",
        {**AVAILABILITY, "agreement": acme_agreement.pk, "calendar": calendars["office"].pk},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["unit"], body["direction"], body["data_source"]) == ("percent", "higher", "uptime")
    assert body["section"] == "availability"
    assert body["position"] == max(t.position for t in acme_agreement.targets.all())


def test_a_performance_target_must_say_which_way_is_better(alice_manager, acme_agreement):
    payload = {
        "agreement": acme_agreement.pk,
        "metric": "performance",
        "name": "Throughput",
        "target_value": "500",
        "threshold_value": "300",
        "unit": "count",
    }

    response = api(alice_manager).post("/api/targets/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["direction"]

    payload["direction"] = "higher"
    assert api(alice_manager).post("/api/targets/", payload, format="json").status_code == 201


def test_patching_a_target_runs_the_smart_rules_on_the_merged_values(alice_manager, acme_agreement):
    target = acme_agreement.targets.get(metric="availability")
    client = api(alice_manager)

    refused = client.patch(
        f"/api/targets/{target.pk}/", {"threshold_value": "99.99"}, format="json"
    )
    accepted = client.patch(
        f"/api/targets/{target.pk}/", {"threshold_value": "99.0"}, format="json"
    )

    assert refused.status_code == 400 and list(refused.json()) == ["threshold_value"]
    assert accepted.status_code == 200
    target.refresh_from_db()
    assert target.threshold_value == Decimal("99.0")


def test_target_service_must_be_one_of_the_agreements(alice_manager, acme_agreement, services):
    response = api(alice_manager).post(
        "/api/targets/",
        {**AVAILABILITY, "agreement": acme_agreement.pk, "service": services["records"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert "not one of the services" in response.json()["service"][0]


def test_targets_change_only_while_the_agreement_is_a_draft(alice_manager, acme_agreement):
    set_status(acme_agreement, Agreement.Status.ACTIVE)
    target = acme_agreement.targets.first()
    client = api(alice_manager)

    create = client.post(
        "/api/targets/", {**AVAILABILITY, "agreement": acme_agreement.pk}, format="json"
    )
    patch = client.patch(f"/api/targets/{target.pk}/", {"threshold_value": "99"}, format="json")
    delete = client.delete(f"/api/targets/{target.pk}/")

    assert create.status_code == 400
    assert "can only be changed while it is drafted or negotiated" in create.json()["agreement"][0]
    assert (patch.status_code, delete.status_code) == (409, 409)
    assert "is active" in delete.json()["agreement"][0]
    assert Target.objects.filter(pk=target.pk).exists()


def test_manager_deletes_a_draft_target(alice_manager, acme_agreement):
    target = acme_agreement.targets.first()
    assert api(alice_manager).delete(f"/api/targets/{target.pk}/").status_code == 204
    assert not Target.objects.filter(pk=target.pk).exists()


def test_target_filters(alice_manager, acme_agreement, globex_agreement):
    client = api(alice_manager)
    mine = results(client.get(f"/api/targets/?agreement={acme_agreement.pk}"))
    assert {t["agreement"] for t in mine} == {acme_agreement.pk}
    p1 = results(
        client.get(f"/api/targets/?agreement={acme_agreement.pk}&metric=response_time&priority=P1")
    )
    assert [(t["metric"], t["priority"]) for t in p1] == [("response_time", "P1")]
    support = results(client.get(f"/api/targets/?agreement={acme_agreement.pk}&section=support"))
    assert {t["metric"] for t in support} == {"response_time", "resolution_time"}
    assert client.get("/api/targets/?metric=speed").status_code == 400


# --- Patching sections ---------------------------------------------------------------------


def test_patch_sections_changes_scalar_and_calendar_fields(
    alice_manager, acme_agreement, calendars
):
    office, london = calendars["office"], calendars["london"]
    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/",
        {
            "title": "Customer Portal - Gold (revised)",
            "sections": {
                "charges": {"fee_amount": "5000.00", "currency": "GBP"},
                "hours": {"service_calendars": [office.pk, london.pk]},
                "support": {"support_calendar": london.pk},
                "continuity": {"rto_minutes": 120},
            },
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    sections = response.json()["sections"]
    assert sections["charges"]["fee_amount"] == "5000.00"
    assert sorted(sections["hours"]["service_calendars"]) == sorted([office.pk, london.pk])
    agreement = Agreement.objects.get(pk=acme_agreement.pk)
    assert agreement.title == "Customer Portal - Gold (revised)"
    assert (agreement.fee_amount, agreement.currency) == (Decimal("5000.00"), "GBP")
    assert agreement.support_calendar == london and agreement.rto_minutes == 120
    assert set(agreement.service_calendars.all()) == {office, london}
    # Fields not sent stay as they were.
    assert agreement.credit_cap_percent == acme_agreement.credit_cap_percent


def test_patch_works_on_an_agreement_without_a_drafter(alice_manager, acme_agreement):
    Agreement.objects.filter(pk=acme_agreement.pk).update(created_by=None)

    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/",
        {"sections": {"changes": {"change_notice_days": 15}}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["sections"]["changes"]["change_notice_days"] == 15


@pytest.mark.parametrize(
    "status",
    [s for s in Agreement.Status.values if s not in {"draft", "in_negotiation", "renegotiating"}],
)
def test_patch_is_refused_unless_the_agreement_is_drafted_or_negotiated(
    alice_manager, acme_agreement, status
):
    set_status(acme_agreement, status)

    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/",
        {"sections": {"charges": {"fee_amount": "1.00"}}},
        format="json",
    )

    assert response.status_code == 409
    assert "can only be changed while it is drafted or negotiated" in response.json()["status"][0]
    assert Agreement.objects.get(pk=acme_agreement.pk).fee_amount == Decimal("12000.00")


@pytest.mark.parametrize(
    ("payload", "error_path"),
    [
        (
            {"sections": {"charges": {"credit_cap_percent": "150"}}},
            ("sections", "charges", "credit_cap_percent"),
        ),
        ({"sections": {"pricing": {"fee_amount": "1"}}}, ("sections", "pricing")),
        ({"sections": {"charges": {"fee": "1"}}}, ("sections", "charges", "fee")),
        ({"sections": {"availability": {"targets": []}}}, ("sections", "availability", "targets")),
        (
            {"sections": {"hours": {"service_calendars": [999999]}}},
            ("sections", "hours", "service_calendars"),
        ),
        ({"status": "active"}, ("status",)),
        ({"effective_to": "2025-06-30"}, ("effective_to",)),
    ],
)
def test_patch_errors_name_the_field_and_nothing_is_saved(
    alice_manager, acme_agreement, payload, error_path
):
    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/", payload, format="json"
    )

    assert response.status_code == 400
    error = response.json()
    for key in error_path:
        error = error[key]
    assert isinstance(error[0], str) and error[0]
    agreement = Agreement.objects.get(pk=acme_agreement.pk)
    assert agreement.status == "draft" and agreement.credit_cap_percent == Decimal("30.00")


def test_tier_differences_show_what_the_agreement_changed(alice_manager, acme_agreement):
    client = api(alice_manager)
    url = f"/api/agreements/{acme_agreement.pk}/tier-differences/"
    assert client.get(url).json() == {"tier": "gold", "differences": []}

    client.patch(
        f"/api/agreements/{acme_agreement.pk}/",
        {"sections": {"charges": {"fee_amount": "5000.00"}}},
        format="json",
    )
    body = client.get(url).json()

    assert body["differences"] == [
        {
            "section": "Charges",
            "what": "fee amount",
            "tier_value": "12000.00",
            "agreement_value": "5000.00",
        }
    ]


def test_agreement_filters(alice_manager, acme_agreement, globex_agreement, services):
    client = api(alice_manager)

    def ids(query: str) -> list[int]:
        return [a["id"] for a in results(client.get(f"/api/agreements/?{query}"))]

    assert ids("customer=acme") == [acme_agreement.pk]
    assert ids("tier=silver") == [globex_agreement.pk]
    assert ids(f"service={services['records'].pk}") == [globex_agreement.pk]
    set_status(globex_agreement, Agreement.Status.ACTIVE)
    assert ids("status=active") == [globex_agreement.pk]
    assert ids("status=draft&customer=globex") == []
    assert client.get("/api/agreements/?status=signed").status_code == 400


# --- The catalogue: services, calendars, tiers ---------------------------------------------


def test_manager_creates_and_filters_services(alice_manager, services):
    client = api(alice_manager)
    response = client.post(
        "/api/services/",
        {"name": "Data Warehouse", "criticality": "high", "owner": "alice_manager"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["agreement_count"] == 0
    assert response.json()["owner"] == "alice_manager"
    high = {s["name"] for s in results(client.get("/api/services/?criticality=high"))}
    assert high == {"Data Warehouse", "ERP Hosting"}


def test_a_service_an_agreement_covers_cannot_be_deleted(alice_manager, acme_agreement, services):
    client = api(alice_manager)
    response = client.delete(f"/api/services/{services['portal'].pk}/")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Customer Portal is still used by 1 agreement; change those first."
    )
    assert client.delete(f"/api/services/{services['email'].pk}/").status_code == 204


def test_calendar_is_written_with_its_hours_and_closures(alice_manager):
    client = api(alice_manager)
    created = client.post(
        "/api/calendars/",
        {
            "name": "Munich desk",
            "timezone": "Europe/Berlin",
            "holiday_country": "de",
            "holiday_subdivision": "by",
            "hours": [{"weekday": d, "start": "08:00", "end": "17:00"} for d in range(5)],
            "closures": [{"date": "2026-12-24", "reason": "Christmas Eve"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    calendar = Calendar.objects.get(pk=created.json()["id"])
    assert calendar.holiday_country == "DE" and calendar.hours.count() == 5

    replaced = client.patch(
        f"/api/calendars/{calendar.pk}/",
        {"hours": [{"weekday": 5, "start": "22:00", "end": "06:00"}]},
        format="json",
    )

    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["hours"] == [{"weekday": 5, "start": "22:00:00", "end": "06:00:00"}]
    assert replaced.json()["closures"] == [{"date": "2026-12-24", "reason": "Christmas Eve"}]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"closures": [{"date": "2026-05-01"}, {"date": "2026-05-01"}]}, "closures"),
        ({"hours": [{"weekday": 0, "start": "08:00", "end": "08:00"}]}, "hours"),
        ({"hours": [{"weekday": 7, "start": "08:00", "end": "09:00"}]}, "hours"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_invalid_calendar_writes_change_nothing(alice_manager, calendars, payload, field):
    office = calendars["office"]
    response = api(alice_manager).patch(f"/api/calendars/{office.pk}/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    office.refresh_from_db()
    assert office.hours.count() == 5 and office.closures.count() == 2
    assert (office.holiday_country, office.timezone) == ("DE", "Europe/Berlin")


def test_a_calendar_in_use_cannot_be_deleted(alice_manager, acme_agreement, calendars):
    client = api(alice_manager)
    response = client.delete(f"/api/calendars/{calendars['always'].pk}/")
    assert response.status_code == 409
    assert "still used" in response.json()["detail"]
    spare = Calendar.objects.create(name="Spare")
    assert client.delete(f"/api/calendars/{spare.pk}/").status_code == 204


def test_manager_writes_tiers_by_slug(alice_manager, acme_agreement, tiers, calendars):
    client = api(alice_manager)
    created = client.post(
        "/api/tiers/",
        {
            "name": "Platinum",
            "slug": "platinum",
            "fee_amount": "20000.00",
            "support_calendar": calendars["always"].pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    patched = client.patch("/api/tiers/platinum/", {"credit_cap_percent": "40"}, format="json")
    assert patched.json()["credit_cap_percent"] == "40.00"
    assert (
        client.patch(
            "/api/tiers/platinum/", {"credit_cap_percent": "140"}, format="json"
        ).status_code
        == 400
    )
    assert client.delete("/api/tiers/gold/").status_code == 409  # Acme's agreement uses it
    assert client.delete("/api/tiers/platinum/").status_code == 204
    assert not Tier.objects.filter(slug="platinum").exists()


# --- Query counts --------------------------------------------------------------------------


def _more_agreements(count: int, tiers: dict, services: dict, customer, manager) -> None:
    for number in range(count):
        agreement = agreement_create_from_tier(
            tier=tiers["bronze"],
            customer=customer,
            title=f"Extra {number}",
            services=[services["email"], services["erp"]],
            effective_from=date(2026, 1, 1),
            created_by=manager,
        )
        propose_to_customer(agreement, manager)


# A customer reads agreements under negotiation as proposed: their latest versions, and the
# calendars and services those name, are three more queries for any number of agreements.
@pytest.mark.parametrize(("actor", "most"), [("alice_manager", 9), ("carol_customer", 12)])
def test_agreement_list_queries_do_not_grow_with_agreements(
    request,
    actor,
    most,
    acme,
    alice_manager,
    acme_agreement,
    tiers,
    services,
    django_assert_max_num_queries,
):
    client = api(request.getfixturevalue(actor))
    propose_to_customer(acme_agreement, alice_manager)
    _more_agreements(2, tiers, services, acme, alice_manager)
    with django_assert_max_num_queries(most):
        assert len(results(client.get("/api/agreements/"))) == 3

    _more_agreements(6, tiers, services, acme, alice_manager)
    with django_assert_max_num_queries(most):
        assert len(results(client.get("/api/agreements/"))) == 9


def test_catalogue_and_target_lists_are_prefetched(
    alice_manager, acme, acme_agreement, tiers, services, django_assert_max_num_queries
):
    _more_agreements(4, tiers, services, acme, alice_manager)
    client = api(alice_manager)
    for url, most in (
        ("/api/targets/", 3),
        ("/api/calendars/", 4),
        ("/api/tiers/", 4),
        ("/api/services/", 3),
    ):
        with django_assert_max_num_queries(most):
            assert results(client.get(url))


# --- The schema ----------------------------------------------------------------------------

ENDPOINTS = [
    "/api/services/",
    "/api/services/{id}/",
    "/api/calendars/",
    "/api/calendars/{id}/",
    "/api/tiers/",
    "/api/tiers/{slug}/",
    "/api/agreements/",
    "/api/agreements/{id}/",
    "/api/agreements/{id}/tier-differences/",
    "/api/targets/",
    "/api/targets/{id}/",
]


def test_schema_documents_every_endpoint_with_examples(client):
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert set(ENDPOINTS) <= set(schema["paths"])
    for path in ENDPOINTS:
        for method, operation in schema["paths"][path].items():
            bodies = [
                media
                for part in (operation.get("requestBody", {}), *operation["responses"].values())
                for media in part.get("content", {}).values()
            ]
            assert any("examples" in media for media in bodies), f"{method} {path}"
    sections = schema["components"]["schemas"]["Sections"]["properties"]
    assert list(sections) == [section.key for section in SECTIONS]


def test_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "api.yaml")
    )
    assert "/api/agreements/{id}/tier-differences/" in (tmp_path / "api.yaml").read_text()
