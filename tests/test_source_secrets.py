"""Source signing secrets: encrypted at rest, shown once to those who manage the source,
rotated with an overlap, and signed deliveries that cannot be replayed or applied out of
order."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.models import SignedDelivery, Source, Ticket
from monitoring.signing import sign
from monitoring.sources import source_rotate_secret
from sla_portal.core import crypto
from sla_portal.core.models import AccountEvent

pytestmark = pytest.mark.django_db

ROLES = ["tom_team", "carol_customer", "victor_viewer"]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def acme_hook(acme, acme_agreement) -> Source:
    return Source.objects.create(customer=acme, name="Acme hook", kind=Source.Kind.WEBHOOK)


def post_signed(client, source: Source, payload, secret: str | None = None, at: int | None = None):
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()) if at is None else at)
    return client.post(
        f"/hooks/{source.pk}/generic/",
        data=body,
        content_type="application/json",
        HTTP_X_SLA_TIMESTAMP=timestamp,
        HTTP_X_SLA_SIGNATURE=sign(secret or source.signing_secret, timestamp, body),
    )


# --- At rest ---------------------------------------------------------------------------------


def test_the_raw_column_does_not_contain_the_secret(acme_desk):
    secret = acme_desk.signing_secret
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Source._meta.db_table} WHERE id = %s", [acme_desk.pk])
        row = cursor.fetchone()
    assert not any(secret in str(value) for value in row)
    assert Source.objects.get(pk=acme_desk.pk).signing_secret == secret


def test_secrets_are_encrypted_under_the_configured_key(settings, acme):
    key = "kQz6C7dN0mYvJ9c3H1aW4tR8sX2bE5fU7gL0pO3iK6M="
    settings.SLA_SECRET_KEYS = [key]
    source = Source.objects.create(customer=acme, name="Keyed")
    settings.SLA_SECRET_KEYS = []
    with pytest.raises(crypto.InvalidToken):
        Source.objects.get(pk=source.pk).signing_secret  # noqa: B018
    settings.SLA_SECRET_KEYS = ["ZmFrZS1uZXctZmVybmV0LWtleS0wMTIzNDU2Nzg5MDE=", key]
    assert len(Source.objects.get(pk=source.pk).signing_secret) == 43


# --- Shown once, to managers only -------------------------------------------------------------


@pytest.mark.parametrize("role", ["alice_manager", *ROLES])
def test_no_role_reads_the_secret_from_the_api(request, role, acme_desk):
    client = api(request.getfixturevalue(role))
    secret = acme_desk.signing_secret
    for url in ("/api/sources/", f"/api/sources/{acme_desk.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        assert secret not in response.content.decode()
        assert 'signing_secret"' not in response.content.decode()


def test_manager_sees_the_secret_once_when_creating_through_the_api(alice_manager, acme):
    client = api(alice_manager)
    created = client.post(
        "/api/sources/", {"customer": "acme", "name": "New feed", "kind": "webhook"}
    ).json()
    source = Source.objects.get(pk=created["id"])
    assert created["signing_secret"] == source.signing_secret
    again = client.get(f"/api/sources/{source.pk}/").json()
    assert "signing_secret" not in again
    assert again["signing_secret_hint"] == "…" + source.signing_secret[-4:]


def test_patching_the_secret_is_refused_and_points_to_rotation(alice_manager, acme_desk):
    before = acme_desk.signing_secret
    response = api(alice_manager).patch(
        f"/api/sources/{acme_desk.pk}/", {"signing_secret": "mine"}, format="json"
    )
    assert response.status_code == 400
    assert "rotate-secret" in response.json()["signing_secret"][0]
    assert Source.objects.get(pk=acme_desk.pk).signing_secret == before


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_rotate(request, role, acme_desk):
    before = acme_desk.signing_secret
    response = api(request.getfixturevalue(role)).post(
        f"/api/sources/{acme_desk.pk}/rotate-secret/"
    )
    assert response.status_code in (403, 404)
    assert Source.objects.get(pk=acme_desk.pk).signing_secret == before


def test_rotation_answers_the_new_secret_once_and_is_audited(alice_manager, acme_desk):
    old = acme_desk.signing_secret
    response = api(alice_manager).post(f"/api/sources/{acme_desk.pk}/rotate-secret/")
    assert response.status_code == 200
    new = response.json()["signing_secret"]
    source = Source.objects.get(pk=acme_desk.pk)
    assert new == source.signing_secret != old
    assert response.json()["previous_secret_until"]
    event = AccountEvent.objects.get(action=AccountEvent.Action.SECRET_ROTATED)
    assert (event.actor, event.organisation_id) == (alice_manager, acme_desk.customer_id)
    assert "Acme desk" in event.message
    assert old not in event.message and new not in event.message
    assert new not in api(alice_manager).get(f"/api/sources/{acme_desk.pk}/").content.decode()


def test_pages_show_the_secret_once_to_the_manager_and_never_to_others(
    client, alice_manager, tom_team, carol_customer, victor_viewer, acme_hook
):
    detail = reverse("monitoring:source-detail", args=[acme_hook.pk])
    rotate = reverse("monitoring:source-rotate-secret", args=[acme_hook.pk])
    for user in (tom_team, carol_customer, victor_viewer):
        client.force_login(user)
        assert client.post(rotate).status_code == 403
        page = client.get(detail).content.decode()
        assert acme_hook.signing_secret not in page and rotate not in page
    client.force_login(alice_manager)
    page = client.get(detail).content.decode()
    assert acme_hook.signing_secret not in page
    assert "…" + acme_hook.signing_secret[-4:] in page and rotate in page
    client.post(rotate)
    new = Source.objects.get(pk=acme_hook.pk).signing_secret
    shown = client.get(detail).content.decode()
    assert new in shown and "New signing secret" in shown
    assert new not in client.get(detail).content.decode()


# --- Overlap -----------------------------------------------------------------------------------


def test_old_and_new_secrets_verify_during_the_overlap_and_the_old_fails_after(
    client, alice_manager, acme_hook
):
    old = acme_hook.signing_secret
    new = source_rotate_secret(acme_hook, by=alice_manager)
    payload = {"tickets": [{"external_id": "INC1", "opened_at": "2026-03-02T10:00:00Z"}]}
    assert post_signed(client, acme_hook, payload, secret=old).status_code == 200
    assert post_signed(client, acme_hook, payload, secret=new).status_code == 200
    Source.objects.filter(pk=acme_hook.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    refused = post_signed(client, acme_hook, payload, secret=old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "signature does not match"
    assert (
        post_signed(client, acme_hook, payload, secret=new, at=int(time.time()) - 1).status_code
        == 200
    )


def test_bearer_senders_also_keep_working_during_the_overlap(
    client, alice_manager, acme, acme_agreement
):
    kuma = Source.objects.create(customer=acme, name="Kuma", kind=Source.Kind.UPTIME_KUMA)
    old = kuma.signing_secret
    source_rotate_secret(kuma, by=alice_manager)
    body = {"msg": "test"}
    response = client.post(
        f"/hooks/{kuma.pk}/uptime-kuma/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {old}",
    )
    assert response.status_code == 200


# --- Replays and order ---------------------------------------------------------------------------


def test_a_replayed_signed_delivery_is_refused(client, acme_hook):
    at = int(time.time())
    opened = {"external_id": "INC1", "opened_at": "2026-03-02T10:00:00Z"}
    resolved = {**opened, "resolved_at": "2026-03-02T11:00:00Z"}
    assert post_signed(client, acme_hook, {"tickets": [opened]}, at=at - 10).status_code == 200
    assert post_signed(client, acme_hook, {"tickets": [resolved]}, at=at).status_code == 200
    replay = post_signed(client, acme_hook, {"tickets": [opened]}, at=at - 10)
    assert replay.status_code == 409
    assert "replay" in replay.json()["error"]
    assert Ticket.objects.get(external_id="INC1").state == Ticket.State.RESOLVED


def test_a_refused_delivery_is_not_remembered(client, acme_hook):
    at = int(time.time())
    bad = {"tickets": [{"external_id": "INC1"}]}
    assert post_signed(client, acme_hook, bad, at=at).status_code == 400
    assert not SignedDelivery.objects.exists()


def test_remembered_signatures_are_dropped_after_the_window(client, acme_hook):
    payload = {"tickets": [{"external_id": "INC1", "opened_at": "2026-03-02T10:00:00Z"}]}
    post_signed(client, acme_hook, payload)
    SignedDelivery.objects.update(signed_at=timezone.now() - timedelta(minutes=10))
    post_signed(client, acme_hook, payload, at=int(time.time()) - 2)
    assert SignedDelivery.objects.count() == 1


def test_an_older_event_does_not_roll_a_ticket_back(client, acme_hook):
    at = int(time.time())
    opened = {"external_id": "INC1", "opened_at": "2026-03-02T10:00:00Z"}
    resolved = {**opened, "resolved_at": "2026-03-02T11:00:00Z"}
    other = {"external_id": "INC2", "opened_at": "2026-03-02T10:30:00Z"}
    assert post_signed(client, acme_hook, {"tickets": [resolved]}, at=at).status_code == 200
    # Signed earlier, delivered later (a delayed retry): INC1 is stale, INC2 is new.
    late = post_signed(client, acme_hook, {"tickets": [opened, other]}, at=at - 30)
    assert late.status_code == 200
    answer = late.json()
    assert answer["tickets"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert [(s["index"], s["external_id"]) for s in answer["stale"]] == [(0, "INC1")]
    assert Ticket.objects.get(external_id="INC1").state == Ticket.State.RESOLVED
    # An event signed at the same second or later applies.
    reopened = post_signed(client, acme_hook, {"tickets": [opened]}, at=at)
    assert reopened.status_code == 200 and "stale" not in reopened.json()
    assert Ticket.objects.get(external_id="INC1").state == Ticket.State.OPEN


def test_row_errors_name_positions_in_the_request_when_rows_are_stale(client, acme_hook):
    at = int(time.time())
    opened = {"external_id": "INC1", "opened_at": "2026-03-02T10:00:00Z"}
    assert post_signed(client, acme_hook, {"tickets": [opened]}, at=at).status_code == 200
    bad = {"external_id": "INC2", "opened_at": "not a time"}
    response = post_signed(client, acme_hook, {"tickets": [opened, bad]}, at=at - 5)
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 1


def test_a_new_key_takes_over_after_reencrypting(settings, acme):
    import io

    from django.core.management import call_command

    old_key, new_key = (
        "kQz6C7dN0mYvJ9c3H1aW4tR8sX2bE5fU7gL0pO3iK6M=",
        "ZmFrZS1uZXctZmVybmV0LWtleS0wMTIzNDU2Nzg5MDE=",
    )
    settings.SLA_SECRET_KEYS = [old_key]
    source = Source.objects.create(customer=acme, name="Keyed")
    secret = source.signing_secret
    settings.SLA_SECRET_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("reencrypt_source_secrets", stdout=out)
    assert "1 source" in out.getvalue()
    settings.SLA_SECRET_KEYS = [new_key]
    assert Source.objects.get(pk=source.pk).signing_secret == secret


def test_the_migration_encrypts_the_secrets_already_stored(transactional_db, acme):
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("monitoring", "0014_evaluation_request"),
        (
            "monitoring",
            "0015_source_secret_encryption_and_replays",
        ),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old_apps = executor.loader.project_state([before]).apps
        OldSource = old_apps.get_model("monitoring", "Source")
        OldSource.objects.create(customer_id=acme.pk, name="Legacy", signing_secret="legacy-secret")
        executor = MigrationExecutor(connection)
        executor.migrate([after])
        # Read through the current model, so every later migration runs first (the model has
        # columns 0015 did not know).
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        source = Source.objects.get(name="Legacy")
        assert source.signing_secret == "legacy-secret"
        assert "legacy-secret" not in source.signing_secret_encrypted
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
