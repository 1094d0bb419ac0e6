"""A customer user only ever sees its own organisation's data."""

import pytest
from rest_framework.test import APIClient

from sla_portal.core.models import Organisation, User

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_queryset_scoping_rule(alice_manager, carol_customer, other_org_viewer, acme, globex):
    assert set(Organisation.objects.visible_to(alice_manager)) == {
        alice_manager.organisation,
        acme,
        globex,
    }
    assert list(Organisation.objects.visible_to(carol_customer)) == [acme]
    assert set(User.objects.visible_to(other_org_viewer)) == {other_org_viewer}
    assert Organisation.objects.for_organisation(None).count() == 0


def test_anonymous_and_inactive_users_see_nothing(carol_customer):
    from django.contrib.auth.models import AnonymousUser

    assert Organisation.objects.visible_to(AnonymousUser()).count() == 0
    carol_customer.is_active = False
    assert Organisation.objects.visible_to(carol_customer).count() == 0


def test_customer_cannot_see_other_orgs_page(client, carol_customer, globex):
    client.force_login(carol_customer)
    assert client.get("/organisations/acme/").status_code == 200
    assert client.get(f"/organisations/{globex.slug}/").status_code == 404


def test_customer_organisation_list_shows_only_its_own(client, carol_customer, globex):
    client.force_login(carol_customer)
    body = client.get("/organisations/").content.decode()
    assert "Acme Logistics" in body
    assert "Globex Health" not in body


def test_provider_sees_every_organisation(client, alice_manager, acme, globex):
    client.force_login(alice_manager)
    body = client.get("/organisations/").content.decode()
    assert "Acme Logistics" in body and "Globex Health" in body
    assert client.get("/organisations/globex/").status_code == 200


def test_customer_api_lists_only_its_organisation(carol_customer, globex):
    response = api(carol_customer).get("/api/organisations/")
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()["results"]] == ["acme"]
    assert api(carol_customer).get("/api/organisations/globex/").status_code == 404


def test_customer_api_lists_only_colleagues(carol_customer, victor_viewer, other_org_viewer):
    usernames = {u["username"] for u in api(carol_customer).get("/api/users/").json()["results"]}
    assert usernames == {"carol_customer", "victor_viewer"}
    assert api(carol_customer).get(f"/api/users/{other_org_viewer.pk}/").status_code == 404


def test_api_requires_authentication(client, acme):
    assert client.get("/api/organisations/").status_code in (401, 403)


def test_token_authentication(carol_customer):
    from sla_portal.core.tokens import create_token_for_tests

    token = create_token_for_tests(carol_customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/me/")
    assert response.status_code == 200
    assert response.json()["organisation"] == "acme"
