"""Incidents and status page links: in the portal and the API, who may do what, and scoping."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from reporting.models import Incident, IncidentUpdate, StatusPage
from reporting.services.status import incident_create, status_page_create
from sla_portal.core.models import Notification
from tests.support.status import confirmed_subscriber

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def acme_incident(active_acme_agreement, services, alice_manager):
    return incident_create(
        active_acme_agreement.customer,
        "Portal slow",
        "degraded",
        [services["portal"]],
        "Pages take 10 s.",
        alice_manager,
        internal_note="INTERNAL-ONLY: cache node 3",
    )


# --- Portal pages ----------------------------------------------------------------------------


def test_manager_posts_an_incident_and_an_update_from_the_portal(
    acme_status_page, services, alice_manager, acme
):
    page, _ = acme_status_page
    confirmed_subscriber(page, "dana@example.com")
    client = _portal(alice_manager)
    response = client.post(
        "/incidents/new/",
        {
            "customer": acme.pk,
            "title": "Portal down",
            "impact": "outage",
            "services": [services["portal"].pk],
            "status": "investigating",
            "message": "Looking into it.",
            "internal_note": "",
        },
    )
    incident = Incident.objects.get(title="Portal down")
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    response = client.post(
        f"/incidents/{incident.pk}/", {"status": "resolved", "message": "Fixed."}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at is not None
    assert Notification.objects.filter(kind="status.notice").count() == 2
    # Resolved: no more updates.
    page_html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Post an update" not in page_html


def test_a_service_of_another_customer_is_refused_with_the_field(
    active_acme_agreement, services, alice_manager, acme
):
    response = _portal(alice_manager).post(
        "/incidents/new/",
        {
            "customer": acme.pk,
            "title": "Wrong",
            "impact": "outage",
            "services": [services["erp"].pk],
            "status": "investigating",
            "message": "x",
        },
    )
    assert response.status_code == 200
    assert not Incident.objects.exists()


def test_customer_reads_own_incidents_without_internal_note(acme_incident, carol_customer):
    client = _portal(carol_customer)
    listing = client.get("/incidents/").content.decode()
    assert "Portal slow" in listing and "Post an incident" not in listing
    detail = client.get(f"/incidents/{acme_incident.pk}/").content.decode()
    assert "Pages take 10 s." in detail and "INTERNAL-ONLY" not in detail
    assert "Post an update" not in detail


def test_provider_staff_see_the_internal_note(acme_incident, tom_team):
    detail = _portal(tom_team).get(f"/incidents/{acme_incident.pk}/").content.decode()
    assert "INTERNAL-ONLY" in detail and "Post an update" not in detail


def test_other_customer_cannot_see_acme_incident(acme_incident, other_org_viewer):
    client = _portal(other_org_viewer)
    assert client.get(f"/incidents/{acme_incident.pk}/").status_code == 404
    assert "Portal slow" not in client.get("/incidents/").content.decode()


@pytest.mark.parametrize("who", ["carol_customer", "tom_team"])
def test_only_managers_post_incidents_and_updates(who, acme_incident, request):
    client = _portal(request.getfixturevalue(who))
    assert client.get("/incidents/new/").status_code == 403
    response = client.post(
        f"/incidents/{acme_incident.pk}/", {"status": "resolved", "message": "x"}
    )
    assert response.status_code == 403
    assert IncidentUpdate.objects.filter(incident=acme_incident).count() == 1


def test_manager_creates_rotates_and_disables_a_status_page(
    active_acme_agreement, alice_manager, acme
):
    client = _portal(alice_manager)
    response = client.post("/status-pages/", {"customer": acme.pk, "name": "Acme Logistics"})
    assert response.status_code == 200
    page = StatusPage.objects.get(customer=acme)
    link = response.context["new_link"][1]
    assert "/status/" in link and page.token_hash not in link
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert Client().get(f"/status/{token}/").status_code == 200
    rotated = client.post(f"/status-pages/{page.pk}/rotate/")
    new_token = rotated.context["new_link"][1].rstrip("/").rsplit("/", 1)[1]
    assert Client().get(f"/status/{token}/").status_code == 404
    assert Client().get(f"/status/{new_token}/").status_code == 200
    assert client.post(f"/status-pages/{page.pk}/disable/").status_code == 302
    assert Client().get(f"/status/{new_token}/").status_code == 404
    assert client.post(f"/status-pages/{page.pk}/explode/").status_code == 404


def test_customers_do_not_manage_status_pages(acme_status_page, carol_customer, tom_team):
    page, _ = acme_status_page
    assert _portal(carol_customer).get("/status-pages/").status_code == 404
    assert _portal(tom_team).get("/status-pages/").status_code == 200
    assert _portal(tom_team).post(f"/status-pages/{page.pk}/rotate/").status_code == 403


# --- API -------------------------------------------------------------------------------------


def test_api_manager_posts_incident_and_update(acme_status_page, alice_manager):
    page, _ = acme_status_page
    confirmed_subscriber(page, "dana@example.com")
    api = _api(alice_manager)
    response = api.post(
        "/api/incidents/",
        {
            "customer": "acme",
            "title": "Portal down",
            "impact": "outage",
            "services": ["Customer Portal"],
            "message": "Looking.",
            "internal_note": "node 3",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "investigating" and body["internal_note"] == "node 3"
    assert [u["message"] for u in body["updates"]] == ["Looking."]
    update = api.post(
        f"/api/incidents/{body['id']}/updates/",
        {"status": "monitoring", "message": "Fix deployed."},
        format="json",
    )
    assert update.status_code == 201
    assert [u["status"] for u in update.json()["updates"]] == ["monitoring", "investigating"]
    assert Notification.objects.filter(kind="status.notice").count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "customer"),
        (
            {
                "customer": "acme",
                "title": "x",
                "impact": "meteor",
                "services": ["Customer Portal"],
                "message": "x",
            },
            "impact",
        ),
        (
            {
                "customer": "acme",
                "title": "x",
                "impact": "outage",
                "services": ["ERP Hosting"],
                "message": "x",
            },
            "services",
        ),
        (
            {
                "customer": "acme",
                "title": "x",
                "impact": "outage",
                "services": ["Nope"],
                "message": "x",
            },
            "services",
        ),
        (
            {
                "customer": "northwind",
                "title": "x",
                "impact": "outage",
                "services": [],
                "message": "x",
            },
            "customer",
        ),
        (
            {
                "customer": "acme",
                "title": "x",
                "impact": "outage",
                "services": "Customer Portal",
                "message": "x",
                "extra": 1,
            },
            "extra",
        ),
        ([1, 2, 3], "non_field_errors"),
    ],
)
def test_api_bad_incident_input_is_a_400_naming_the_field(
    payload, field, active_acme_agreement, alice_manager, provider_org
):
    response = _api(alice_manager).post("/api/incidents/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_api_update_of_a_resolved_incident_or_bad_status_is_refused(acme_incident, alice_manager):
    api = _api(alice_manager)
    url = f"/api/incidents/{acme_incident.pk}/updates/"
    assert "status" in api.post(url, {"status": "fixed", "message": "x"}, format="json").json()
    assert (
        api.post(url, {"status": "resolved", "message": "Done."}, format="json").status_code == 201
    )
    refused = api.post(url, {"status": "monitoring", "message": "Again"}, format="json")
    assert refused.status_code == 400 and "status" in refused.json()
    assert api.post(url, "garbage", content_type="application/json").status_code == 400


def test_api_customer_reads_own_incident_without_internal_note(acme_incident, carol_customer):
    api = _api(carol_customer)
    body = api.get(f"/api/incidents/{acme_incident.pk}/").json()
    assert body["title"] == "Portal slow" and "internal_note" not in body
    assert [row["id"] for row in api.get("/api/incidents/").json()["results"]] == [acme_incident.pk]
    denied = api.post(
        f"/api/incidents/{acme_incident.pk}/updates/",
        {"status": "resolved", "message": "x"},
        format="json",
    )
    assert denied.status_code == 403


def test_api_other_customer_gets_404_for_acme_incident(acme_incident, other_org_viewer):
    api = _api(other_org_viewer)
    assert api.get(f"/api/incidents/{acme_incident.pk}/").status_code == 404
    assert api.get("/api/incidents/").json()["results"] == []
    assert (
        api.post(
            f"/api/incidents/{acme_incident.pk}/updates/",
            {"status": "resolved", "message": "x"},
            format="json",
        ).status_code
        == 404
    )


def test_api_status_pages_link_only_on_create_and_rotate(active_acme_agreement, alice_manager):
    api = _api(alice_manager)
    created = api.post("/api/status-pages/", {"customer": "acme", "name": "Acme"}, format="json")
    assert created.status_code == 201, created.json()
    link = created.json()["link"]
    page_id = created.json()["id"]
    assert Client().get(link.replace("http://testserver", "")).status_code == 200
    assert api.get(f"/api/status-pages/{page_id}/").json()["link"] is None
    rotated = api.post(f"/api/status-pages/{page_id}/rotate/").json()["link"]
    assert rotated != link
    assert Client().get(link.replace("http://testserver", "")).status_code == 404
    off = api.patch(f"/api/status-pages/{page_id}/", {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert Client().get(rotated.replace("http://testserver", "")).status_code == 404
    bad = api.patch(f"/api/status-pages/{page_id}/", {"enabled": "maybe"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()
    again = api.post("/api/status-pages/", {"customer": "acme", "name": "Acme"}, format="json")
    assert again.status_code == 400 and "name" in again.json()


def test_api_status_pages_are_the_providers(acme_status_page, carol_customer, tom_team):
    page, _ = acme_status_page
    assert _api(carol_customer).get("/api/status-pages/").status_code == 404
    assert _api(carol_customer).get(f"/api/status-pages/{page.pk}/").status_code == 404
    assert _api(tom_team).get(f"/api/status-pages/{page.pk}/").status_code == 200
    assert _api(tom_team).post(f"/api/status-pages/{page.pk}/rotate/").status_code == 403
    assert _api(tom_team).post("/api/status-pages/", {}, format="json").status_code == 403


def test_status_page_for_the_provider_itself_is_refused(
    active_acme_agreement, alice_manager, provider_org
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        status_page_create(provider_org, "Ours", [], alice_manager)


def test_incident_lists_cost_the_same_few_queries_for_many_incidents(
    active_acme_agreement, services, alice_manager, django_assert_max_num_queries
):
    for number in range(12):
        incident_create(
            active_acme_agreement.customer,
            f"Incident {number}",
            "degraded",
            [services["portal"]],
            "Looking.",
            alice_manager,
        )
    portal, api = _portal(alice_manager), _api(alice_manager)
    portal.get("/incidents/")  # session and first-use reads out of the way
    with django_assert_max_num_queries(12):
        assert portal.get("/incidents/").status_code == 200
    with django_assert_max_num_queries(10):
        assert len(api.get("/api/incidents/").json()["results"]) == 12


def test_status_page_lists_count_confirmed_subscribers_only(
    acme_status_page, alice_manager, django_assert_max_num_queries
):
    from reporting.services.status import subscribe

    page, _ = acme_status_page
    confirmed_subscriber(page, "dana@example.com")
    subscribe(page, "pending@example.com", "10.0.0.3")
    [row] = _api(alice_manager).get("/api/status-pages/").json()["results"]
    assert row["subscribers"] == 1 and row["link"] is None
    client = _portal(alice_manager)
    client.get("/status-pages/")
    with django_assert_max_num_queries(12):
        response = client.get("/status-pages/")
    assert [p.active_subscribers for p in response.context["pages"]] == [1]
