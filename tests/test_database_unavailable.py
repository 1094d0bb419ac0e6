"""A database that cannot answer is a 503 with Retry-After, never a 500, and nothing is written.

The database error is real: a second connection holds an ``ACCESS EXCLUSIVE`` lock on the
ticket table (as a long migration or a ``VACUUM FULL`` would), and the portal's connection has
a PostgreSQL ``lock_timeout``, so the request's statement on that table fails in PostgreSQL
with ``lock_not_available``. The requests go through the whole Django stack (middleware,
views, the error handlers) on a committed database, as in production.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.db import connection
from django.test import Client

from monitoring.models import SignedDelivery, Source, Ticket, TicketEventStamp
from monitoring.signing import sign
from sla_portal.core.tokens import create_token_for_tests
from tests.support.actors import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AFTER = "15"  # settings.DATABASE_RETRY_AFTER_SECONDS
ROW = {"external_id": "INC-503", "opened_at": "2026-03-02T09:00:00Z"}


@contextmanager
def ticket_table_locked() -> Iterator[None]:
    """Another session holds the ticket table; this one gives up waiting after 200 ms."""
    params = connection.get_connection_params()
    holder = psycopg2.connect(**params)
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Ticket._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        yield
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def _client(**headers: str) -> Client:
    # An error must answer, not re-raise into the test.
    return Client(raise_request_exception=False, **headers)


def assert_retry_later(response, detail_key: str = "detail") -> dict:
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert "nothing was changed" in body[detail_key]
    return body


def test_bulk_ingest_answers_json_503_with_retry_after_and_writes_nothing(
    alice_manager, acme_desk, acme_agreement
):
    key = create_token_for_tests(alice_manager)
    client = _client(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/sources/{acme_desk.pk}/tickets/bulk/"

    with ticket_table_locked():
        started = time.monotonic()
        response = client.post(url, [ROW], content_type="application/json")
        assert time.monotonic() - started < 5, "the lock timeout ended the wait"

    assert_retry_later(response)
    assert not Ticket.objects.exists()
    # Once the database answers again, the same batch is accepted: the client's retry works.
    retried = client.post(url, [ROW], content_type="application/json")
    assert retried.status_code == 200, retried.content
    assert Ticket.objects.filter(external_id="INC-503").count() == 1


def test_signed_webhook_answers_json_503_and_its_retry_is_not_taken_for_a_replay(
    acme, acme_agreement
):
    source = Source.objects.create(customer=acme, name="Acme feed", kind=Source.Kind.WEBHOOK)
    body = json.dumps({"tickets": [ROW]}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "HTTP_X_SLA_TIMESTAMP": timestamp,
        "HTTP_X_SLA_SIGNATURE": sign(source.signing_secret, timestamp, body),
    }
    url = f"/hooks/{source.pk}/generic/"

    with ticket_table_locked():
        response = _client().post(url, body, content_type="application/json", **headers)

    assert_retry_later(response, detail_key="error")
    assert not Ticket.objects.exists()
    assert not SignedDelivery.objects.exists(), "the failed delivery is not remembered"
    assert not TicketEventStamp.objects.exists()
    # The sender retries the very same signed request: applied, not refused as a replay.
    retried = _client().post(url, body, content_type="application/json", **headers)
    assert retried.status_code == 200, retried.content
    assert Ticket.objects.count() == 1


def test_api_read_answers_json_503(victor_viewer):
    key = create_token_for_tests(victor_viewer)
    with ticket_table_locked():
        response = _client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/tickets/")
    assert_retry_later(response)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_page_answers_a_styled_503_page(alice_manager, settings, debug):
    # With DEBUG on, DebugErrorPagesMiddleware answers instead of Django's handler: the same.
    settings.DEBUG = debug
    settings.DEBUG_ERROR_PAGES = False
    client = _client(HTTP_ACCEPT="text/html")
    assert client.login(username="alice_manager", password=PASSWORD)
    with ticket_table_locked():
        response = client.get("/tickets/")
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Error 503" in html
    assert "briefly unavailable" in html
    assert "Nothing was changed" in html
    assert "Traceback" not in html
