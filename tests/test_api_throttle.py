"""API rate limits: per user, per anonymous address, and a separate ingest budget (bulk and
webhooks), answered 429 with Retry-After and a JSON body. The test settings lift every rate;
these tests set low ones and start from an empty cache (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from monitoring.models import Source
from monitoring.signing import sign

pytestmark = pytest.mark.django_db


def rates(**scopes: str | None):
    base = {"anon": None, "user": None, "ingest": None}
    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**base, **scopes}}
    )


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = json.loads(response.content)
    assert body["detail"].startswith("Request was throttled.")


@rates(user="5/minute")
def test_a_user_past_the_rate_gets_429_with_retry_after(alice_manager):
    client = api(alice_manager)
    codes = [client.get("/api/agreements/").status_code for _ in range(5)]
    assert codes == [200] * 5
    assert_throttled(client.get("/api/agreements/"))


@rates(user="5/minute")
def test_each_user_has_a_budget_of_their_own(alice_manager, carol_customer):
    for _ in range(6):
        api(alice_manager).get("/api/agreements/")
    assert api(carol_customer).get("/api/agreements/").status_code == 200


@rates(anon="2/minute")
def test_anonymous_clients_are_limited_by_address(client):
    """The schema is the API's one page open to anonymous clients."""

    def schema(ip: str = "198.51.100.30"):
        return client.get("/api/schema/", HTTP_ACCEPT="application/json", REMOTE_ADDR=ip)

    assert schema().status_code == 200
    assert schema().status_code == 200
    assert_throttled(schema())
    assert schema("203.0.113.5").status_code == 200


@pytest.fixture
def desk(acme, acme_agreement) -> Source:
    return Source.objects.create(customer=acme, name="Acme desk", timezone="UTC")


@rates(user="5/minute", ingest="2/minute")
def test_bulk_ingest_has_its_own_budget(alice_manager, desk):
    client = api(alice_manager)
    url = f"/api/sources/{desk.pk}/tickets/bulk/"
    assert client.post(url, [], format="json").status_code == 200
    assert client.post(url, [], format="json").status_code == 200
    assert_throttled(client.post(url, [], format="json"))
    # Reads count against the user budget, untouched by the ingest calls.
    assert [client.get("/api/agreements/").status_code for _ in range(5)] == [200] * 5
    assert_throttled(client.get("/api/agreements/"))


@rates(ingest="2/minute")
def test_webhooks_share_the_ingest_rate_per_source_and_address(client, desk):
    url = f"/hooks/{desk.pk}/generic/"
    body = json.dumps({"checks": []}).encode()

    def post(ip: str = "198.51.100.1"):
        stamp = str(int(time.time()))
        return client.post(
            url,
            body,
            content_type="application/json",
            HTTP_X_SLA_TIMESTAMP=stamp,
            HTTP_X_SLA_SIGNATURE=sign(desk.signing_secret, stamp, body),
            REMOTE_ADDR=ip,
        )

    assert post().status_code != 429
    assert post().status_code != 429
    assert_throttled(post())
    assert post("198.51.100.2").status_code != 429


def test_the_test_settings_lift_every_rate(alice_manager):
    """The suite and the benchmarks send thousands of requests: nothing throttles them."""
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "anon": None,
        "user": None,
        "ingest": None,
    }
    client = api(alice_manager)
    assert {client.get("/api/agreements/").status_code for _ in range(50)} == {200}


def _production_setting(expression: str, **env: str) -> str:
    """A value of the production settings module, as a fresh process computes it."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CACHE_REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DEBUG="0",
        SECRET_KEY="k" * 10 + "production-like-key-for-a-settings-test-0123456789",
        DJANGO_SETTINGS_MODULE="sla_portal.settings",
        **env,
    )
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout.strip()


def test_production_counts_in_redis_shared_by_every_worker():
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/11"
    backend = _production_setting('settings.CACHES["default"]["BACKEND"]', REDIS_URL=redis_url)
    assert backend == "django.core.cache.backends.redis.RedisCache"
    without = _production_setting('settings.CACHES["default"]["BACKEND"]')
    assert without == "django.core.cache.backends.locmem.LocMemCache"


def test_production_rates_come_from_the_environment():
    rates_text = _production_setting(
        'settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]',
        API_THROTTLE_USER="10/second",
        API_THROTTLE_INGEST="off",
    )
    assert rates_text == "{'anon': '60/minute', 'user': '10/second', 'ingest': None}"
