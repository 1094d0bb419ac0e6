"""Deeply nested JSON (50,000 levels) is a 400 with a clear message on every kind of endpoint
that reads JSON: the REST API, bulk ingest (JSON and NDJSON) and the webhooks. Before, the
decoder's recursion ran out of stack and the answer was a 500."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework.test import APIClient

from monitoring.models import Source
from monitoring.signing import sign
from sla_portal.core.safejson import JSONTooDeep, loads, max_depth

pytestmark = pytest.mark.django_db

DEEP = ("[" * 50_000 + "]" * 50_000).encode()
DEEP_OBJECT = ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def desk(acme, acme_agreement) -> Source:
    return Source.objects.create(customer=acme, name="Acme desk", timezone="UTC")


def test_depth_ignores_brackets_inside_strings():
    assert max_depth('[1, "[[[[", {"a": [2, "]]"]}]') == 3
    assert loads('{"note": "' + "[" * 500 + '"}') == {"note": "[" * 500}


def test_nesting_up_to_the_limit_parses_and_one_more_is_refused():
    assert loads("[" * 64 + "]" * 64, limit=64) is not None
    with pytest.raises(JSONTooDeep, match="nesting deeper than 64 levels") as error:
        loads("[" * 65 + "]" * 65, limit=64)
    assert error.value.pos == 64


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_the_rest_api_answers_400(alice_manager, body):
    response = api(alice_manager).post("/api/services/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nesting deeper than 64 levels" in response.json()["detail"]


def test_the_rest_api_refuses_a_body_over_the_size_limit(alice_manager, settings):
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE bounds what the API reads: a JSON 400."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000}).encode()
    response = api(alice_manager).post("/api/services/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


@pytest.mark.parametrize("kind", ["tickets", "maintenance", "errors", "measurements", "incidents"])
def test_bulk_ingest_answers_400_in_the_row_error_format(alice_manager, desk, kind):
    response = api(alice_manager).post(
        f"/api/sources/{desk.pk}/{kind}/bulk/", DEEP, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nesting deeper than 64 levels" in response.json()["errors"][0]["reason"]


def test_bulk_checks_answer_400(alice_manager, desk, services):
    response = api(alice_manager).post(
        f"/api/sources/{desk.pk}/checks/bulk/?service={services['portal'].pk}",
        DEEP,
        content_type="application/json",
    )
    assert response.status_code == 400


def test_bulk_ndjson_answers_400(alice_manager, desk):
    response = api(alice_manager).post(
        f"/api/sources/{desk.pk}/tickets/bulk/",
        b'{"external_id": "A"}\n' + DEEP + b"\n",
        content_type="application/x-ndjson",
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert str(error["index"]) == "1" and "nesting deeper" in error["reason"]


@pytest.mark.parametrize("kind", ["generic", "uptime-kuma", "alertmanager"])
def test_webhooks_answer_400(client, desk, kind):
    stamp = str(int(time.time()))
    response = client.post(
        f"/hooks/{desk.pk}/{kind}/",
        DEEP_OBJECT,
        content_type="application/json",
        HTTP_X_SLA_TIMESTAMP=stamp,
        HTTP_X_SLA_SIGNATURE=sign(desk.signing_secret, stamp, DEEP_OBJECT),
    )
    assert response.status_code == 400
    assert "nesting deeper than 64 levels" in json.dumps(response.json())
