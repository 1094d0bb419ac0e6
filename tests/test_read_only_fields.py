"""Read-only fields sent with a write are refused, naming the field, on every strict
serializer; the same value sent back unchanged (a GET's body) is let through."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agreements.models import Agreement
from monitoring.models import Source

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": 999}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"last_received_at": "2020-01-01T00:00:00Z"}, "last_received_at"),
        ({"customer": "globex"}, "customer"),
    ],
)
def test_source_refuses_read_only_fields(alice_manager, acme_desk, globex, body, field):
    response = api(alice_manager).patch(f"/api/sources/{acme_desk.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    source = Source.objects.get(pk=acme_desk.pk)
    assert (source.pk, source.customer_id) == (acme_desk.pk, acme_desk.customer_id)


def test_source_body_sent_back_unchanged_is_accepted(alice_manager, acme_desk):
    client = api(alice_manager)
    body = client.get(f"/api/sources/{acme_desk.pk}/").json()
    body["name"] = "Renamed desk"
    response = client.put(f"/api/sources/{acme_desk.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert Source.objects.get(pk=acme_desk.pk).name == "Renamed desk"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"customer": "globex"}, "customer"), ({"tier": "silver"}, "tier"), ({"id": 5}, "id")],
)
def test_agreement_refuses_read_only_fields(alice_manager, acme_agreement, globex, body, field):
    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    agreement = Agreement.objects.get(pk=acme_agreement.pk)
    assert (agreement.customer_id, agreement.tier_id) == (
        acme_agreement.customer_id,
        acme_agreement.tier_id,
    )


def test_agreement_title_change_with_its_own_customer_is_accepted(alice_manager, acme_agreement):
    response = api(alice_manager).patch(
        f"/api/agreements/{acme_agreement.pk}/",
        {"customer": "acme", "title": "Renamed"},
        format="json",
    )
    assert response.status_code == 200, response.content


def test_service_refuses_its_read_only_id(alice_manager, services):
    service = services["portal"]
    response = api(alice_manager).patch(
        f"/api/services/{service.pk}/", {"id": 12345}, format="json"
    )
    assert response.status_code == 400
    assert "id" in response.json()
