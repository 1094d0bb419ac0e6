"""Personal API tokens: stored hashed, scoped, revocable, listed on their user's page."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from sla_portal.core.models import AccountEvent, ApiToken
from sla_portal.core.tokens import token_create, token_revoke

pytestmark = pytest.mark.django_db


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_a_hash_and_a_prefix_of_the_key_are_stored(carol_customer):
    token, key = token_create(carol_customer, name="Reports", scopes=["read"])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table} WHERE id = %s", [token.pk])
        row = cursor.fetchone()
    assert not any(key in str(value) for value in row)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) == 8
    assert with_key(key).get("/api/me/").json()["username"] == carol_customer.username


def test_a_read_token_cannot_write(alice_manager, acme):
    _, key = token_create(alice_manager, name="Dashboards", scopes=["read"])
    client = with_key(key)
    assert client.get("/api/sources/").status_code == 200
    response = client.post("/api/sources/", {"customer": "acme", "name": "X"}, format="json")
    assert response.status_code == 403
    assert "write" in response.json()["detail"]


def test_an_ingest_token_only_ingests(alice_manager, acme_desk):
    _, key = token_create(alice_manager, name="Desk export", scopes=["ingest"])
    client = with_key(key)
    bulk = client.post(f"/api/sources/{acme_desk.pk}/tickets/bulk/", [], format="json")
    assert bulk.status_code == 200
    assert client.get("/api/sources/").status_code == 403
    assert (
        client.patch(f"/api/sources/{acme_desk.pk}/", {"name": "Y"}, format="json").status_code
        == 403
    )


def test_a_token_never_does_more_than_its_user(carol_customer, acme_desk):
    # Customers cannot be given the ingest scope, and write still meets their role's limits.
    with pytest.raises(ValueError, match="ingest"):
        token_create(carol_customer, name="x", scopes=["ingest"])
    _, key = token_create(carol_customer, name="x", scopes=["read", "write"])
    response = with_key(key).post("/api/sources/", {"customer": "acme", "name": "X"}, format="json")
    assert response.status_code == 403


def test_a_revoked_token_stops_working(carol_customer, ada_admin):
    token, key = token_create(carol_customer, name="Old", scopes=["read"])
    token_revoke(token, by=ada_admin)
    refused = with_key(key).get("/api/me/")
    # 403 rather than 401: the session scheme comes first and sends no WWW-Authenticate.
    assert refused.status_code in (401, 403)
    assert "revoked" in refused.json()["detail"]
    events = AccountEvent.objects.filter(subject=carol_customer).values_list("action", flat=True)
    assert set(events) == {"token_created", "token_revoked"}


def test_a_token_of_a_deactivated_user_stops_working(carol_customer):
    _, key = token_create(carol_customer, name="x", scopes=["read"])
    carol_customer.is_active = False
    carol_customer.save()
    refused = with_key(key).get("/api/me/")
    assert refused.status_code in (401, 403) and "inactive" in refused.json()["detail"]


def test_last_use_is_written_at_most_once_a_minute(carol_customer):
    from django.test.utils import CaptureQueriesContext

    token, key = token_create(carol_customer, name="x", scopes=["read"])
    client = with_key(key)
    client.get("/api/me/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/me/")
    # One read of the token with its user; no write within the minute.
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(queries.captured_queries) == 1
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/me/")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)


def test_legacy_authtoken_keys_are_migrated_by_hashing(transactional_db, carol_customer):
    from django.db.migrations.executor import MigrationExecutor

    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE authtoken_token ("key" varchar(40) primary key, user_id bigint, '
            "created timestamptz)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [key, carol_customer.pk, timezone.now()],
        )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([("core", "0004_notification_attachments")])
        executor = MigrationExecutor(connection)
        executor.migrate([("core", "0005_api_tokens")])
        assert with_key(key).get("/api/me/").json()["username"] == carol_customer.username
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authtoken_token")
            assert cursor.fetchone()[0] == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS authtoken_token")
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )


# --- The page ---------------------------------------------------------------------------------


def test_a_user_creates_a_token_sees_its_key_once_and_revokes_it(client, carol_customer):
    client.force_login(carol_customer)
    page = reverse("core:tokens")
    response = client.post(page, {"name": "Reporting script", "scopes": ["read"]})
    assert response.status_code == 302
    shown = client.get(page).content.decode()
    token = ApiToken.objects.get(user=carol_customer)
    key = shown.split('id="token-key" value="')[1].split('"')[0]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    again = client.get(page).content.decode()
    assert key not in again and f"{token.prefix}…" in again and "Reporting script" in again
    client.post(reverse("core:token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_customer_cannot_pick_the_ingest_scope_on_the_page(client, carol_customer):
    client.force_login(carol_customer)
    assert 'value="ingest"' not in client.get(reverse("core:tokens")).content.decode()
    response = client.post(reverse("core:tokens"), {"name": "x", "scopes": ["ingest"]})
    assert response.status_code == 200 and not ApiToken.objects.exists()


def test_others_cannot_see_or_revoke_a_users_tokens_but_admins_can(
    client, carol_customer, victor_viewer, ada_admin
):
    token, key = token_create(carol_customer, name="Carol's", scopes=["read"])
    client.force_login(victor_viewer)
    assert client.get(reverse("core:person-tokens", args=[carol_customer.pk])).status_code == 403
    assert client.post(reverse("core:token-revoke", args=[token.pk])).status_code == 403
    client.force_login(ada_admin)
    listed = client.get(reverse("core:person-tokens", args=[carol_customer.pk])).content.decode()
    assert "Carol&#x27;s" in listed and key not in listed
    client.post(reverse("core:token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_by == ada_admin
