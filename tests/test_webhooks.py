"""Webhooks: signed pushes of checks and tickets, Uptime Kuma and Alertmanager notifications.

The endpoint tests talk HTTP to a real server (pytest-django's ``live_server``) with the
standard library's client, as a monitor would; the signing and adapter functions are pure and
tested directly, signing also with hypothesis."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.adapters import AdapterError, alertmanager_rows, uptime_kuma_rows
from monitoring.models import Outage, Source, Ticket, UptimeCheck
from monitoring.signing import bearer_matches, sign, verify

PORTAL = "Customer Portal"  # the service of the acme_agreement fixture

live = pytest.mark.django_db(transaction=True)


# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def acme_feed(acme, acme_agreement) -> Source:
    return Source.objects.create(customer=acme, name="Acme feed", kind=Source.Kind.WEBHOOK)


def send(
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    """Status and JSON answer of one real HTTP request."""
    request = urllib.request.Request(
        url,
        data=body if method == "POST" else None,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def signed(
    url: str, source: Source, payload: Any, at: int | None = None
) -> tuple[int, dict[str, Any]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(time.time()) if at is None else at)
    headers = {
        "X-SLA-Timestamp": timestamp,
        "X-SLA-Signature": sign(source.signing_secret, timestamp, body),
    }
    return send(url, body, headers)


def hook(live_server, source: Source, kind: str, query: str = "") -> str:
    return f"{live_server.url}/hooks/{source.pk}/{kind}/{query}"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- Signing (pure) ------------------------------------------------------------------------


@given(secret=st.text(min_size=1), body=st.binary(), timestamp=st.integers(0, 2**40))
def test_signature_round_trips(secret, body, timestamp):
    header = sign(secret, timestamp, body)
    assert header.startswith("sha256=")
    assert verify(secret, str(timestamp), header, body, now=timestamp) is None


@given(secret=st.text(min_size=1), body=st.binary(), other=st.binary())
def test_signature_of_another_body_is_refused(secret, body, other):
    header = sign(secret, 1000, body)
    if other != body:
        assert verify(secret, "1000", header, other, now=1000) == "signature does not match"


def test_signature_with_another_secret_is_refused():
    header = sign("right", 1000, b"{}")
    assert verify("wrong", "1000", header, b"{}", now=1000) == "signature does not match"


@pytest.mark.parametrize("drift", [-301, 301])
def test_timestamps_more_than_five_minutes_off_are_refused(drift):
    header = sign("s", 1000, b"{}")
    assert "5 minutes" in verify("s", "1000", header, b"{}", now=1000 + drift)
    assert verify("s", "1000", header, b"{}", now=1000 + drift // 301 * 300) is None


@pytest.mark.parametrize(
    ("timestamp", "signature", "reason"),
    [
        (None, "sha256=00", "missing"),
        ("1000", None, "missing"),
        ("+1000", "sha256=00", "unix seconds"),
        ("1000", "md5=00", "must be sha256="),
    ],
)
def test_malformed_signature_headers_say_what_is_wrong(timestamp, signature, reason):
    assert reason in verify("s", timestamp, signature, b"", now=1000)


def test_bearer_token_must_be_the_secret():
    assert bearer_matches("s3cret", "Bearer s3cret")
    assert bearer_matches("s3cret", "bearer  s3cret ")
    assert not bearer_matches("s3cret", "Bearer other")
    assert not bearer_matches("s3cret", "Basic s3cret")
    assert not bearer_matches("s3cret", None)


# --- Adapters (pure) -----------------------------------------------------------------------


def kuma(status: int = 0, time: str = "2026-03-02 10:00:00.123", name: str = PORTAL) -> dict:
    return {
        "heartbeat": {"status": status, "time": time, "msg": "timeout", "ping": 181.6},
        "monitor": {"name": name, "url": "https://portal.example"},
        "msg": f"[{name}] [Down] timeout",
    }


def test_uptime_kuma_heartbeat_is_one_check_in_the_server_zone():
    [(name, row)] = uptime_kuma_rows(kuma(status=1), ZoneInfo("Europe/Berlin"))
    assert name == PORTAL
    assert row == {
        "checked_at": datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC),
        "status": "up",
        "response_ms": 182,
    }


@pytest.mark.parametrize(("status", "expected"), [(0, "down"), (2, "down"), (3, "maintenance")])
def test_uptime_kuma_pending_counts_as_down(status, expected):
    [(_, row)] = uptime_kuma_rows(kuma(status=status))
    assert row["status"] == expected


def test_uptime_kuma_test_message_has_no_check():
    assert uptime_kuma_rows({"heartbeat": None, "monitor": None, "msg": "Testing"}) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (kuma(status=7), "heartbeat.status"),
        (kuma(time="yesterday"), "heartbeat.time"),
        (kuma(name=""), "monitor.name"),
        ([], ""),
    ],
)
def test_uptime_kuma_malformed_payload_names_the_field(payload, field):
    with pytest.raises(AdapterError) as caught:
        uptime_kuma_rows(payload)
    assert caught.value.field == field


def alert(status: str = "firing", service: str | None = PORTAL, **times: str) -> dict:
    labels = {"alertname": "PortalDown"} | ({"service": service} if service else {})
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Portal is down"},
        "startsAt": times.get("startsAt", "2026-03-02T10:00:00.123456789Z"),
        "endsAt": times.get("endsAt", "0001-01-01T00:00:00Z"),
        "fingerprint": "c0ffee",
    }


def notification(*alerts: dict) -> dict:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "status": status, "alerts": list(alerts)}


def test_firing_alert_is_a_down_check_at_its_start():
    result = alertmanager_rows(notification(alert()))
    assert result.rows == [
        (
            PORTAL,
            {
                "checked_at": utc(2026, 3, 2, 10, 0, 0, 123456),
                "status": "down",
                "response_ms": None,
            },
        )
    ]
    assert result.ignored == []


def test_resolved_alert_is_down_at_start_and_up_at_end():
    resolved = alert("resolved", endsAt="2026-03-02T11:30:00+01:00")
    rows = alertmanager_rows(notification(resolved)).rows
    assert [(name, row["checked_at"], row["status"]) for name, row in rows] == [
        (PORTAL, utc(2026, 3, 2, 10, 0, 0, 123456), "down"),
        (PORTAL, utc(2026, 3, 2, 10, 30), "up"),
    ]


def test_alert_without_service_is_ignored_unless_the_url_names_one():
    payload = notification(alert(service=None))
    result = alertmanager_rows(payload)
    assert result.rows == []
    assert result.ignored[0]["alertname"] == "PortalDown"
    assert alertmanager_rows(payload, service="ERP Hosting").rows[0][0] == "ERP Hosting"


def test_alerts_starting_together_give_one_check():
    result = alertmanager_rows(notification(alert(), alert()))
    assert len(result.rows) == 1


def test_resolved_alert_ending_before_it_started_is_refused():
    with pytest.raises(AdapterError) as caught:
        alertmanager_rows(notification(alert("resolved", endsAt="2026-03-02T09:00:00Z")))
    assert caught.value.field == "alerts[0].endsAt"


# --- Endpoints over real HTTP --------------------------------------------------------------


def checks(*pairs: tuple[str, str]) -> dict:
    return {
        "service": PORTAL,
        "checks": [{"checked_at": at, "status": status, "response_ms": 90} for at, status in pairs],
    }


@live
def test_signed_checks_are_stored_and_down_then_up_makes_an_outage(live_server, acme_feed):
    payload = checks(
        ("2026-03-02T10:00:00Z", "up"),
        ("2026-03-02T10:01:00Z", "down"),
        ("2026-03-02T10:02:00Z", "down"),
        ("2026-03-02T10:03:00Z", "up"),
    )
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, payload)
    assert status == 200, answer
    assert answer == {"checks": {"created": 4, "updated": 0, "unchanged": 0}}
    assert UptimeCheck.objects.filter(source=acme_feed).count() == 4
    outage = Outage.objects.get()
    assert (outage.started_at, outage.ended_at) == (utc(2026, 3, 2, 10, 1), utc(2026, 3, 2, 10, 3))


@live
def test_signed_tickets_are_ingested(live_server, acme_feed):
    payload = {"tickets": [{"external_id": "INC1", "opened_at": "2026-03-02T09:00:00Z"}]}
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, payload)
    assert (status, answer["tickets"]["created"]) == (200, 1)
    assert Ticket.objects.filter(source=acme_feed, external_id="INC1").exists()


@live
def test_bad_signature_is_401(live_server, acme_feed):
    body = json.dumps(checks(("2026-03-02T10:00:00Z", "up"))).encode()
    now = str(int(time.time()))
    headers = {"X-SLA-Timestamp": now, "X-SLA-Signature": sign("not the secret", now, body)}
    status, answer = send(hook(live_server, acme_feed, "generic"), body, headers)
    assert (status, answer) == (401, {"error": "signature does not match"})
    assert not UptimeCheck.objects.exists()


@live
def test_stale_timestamp_is_401_even_when_correctly_signed(live_server, acme_feed):
    url = hook(live_server, acme_feed, "generic")
    payload = checks(("2026-03-02T10:00:00Z", "up"))
    status, answer = signed(url, acme_feed, payload, at=int(time.time()) - 600)
    assert status == 401
    assert "5 minutes" in answer["error"]
    assert not UptimeCheck.objects.exists()


@live
def test_unsigned_request_and_bearer_on_generic_are_401(live_server, acme_feed):
    url = hook(live_server, acme_feed, "generic")
    bearer = {"Authorization": f"Bearer {acme_feed.signing_secret}"}
    status, answer = send(url, b"{}", bearer)
    assert status == 401
    assert "missing" in answer["error"]


@live
def test_unknown_source_is_404(live_server, acme_feed):
    url = f"{live_server.url}/hooks/{acme_feed.pk + 1000}/generic/"
    status, answer = signed(url, acme_feed, checks())
    assert (status, answer) == (404, {"error": "not found"})


@live
def test_get_is_405(live_server, acme_feed):
    status, answer = send(hook(live_server, acme_feed, "generic"), method="GET")
    assert status == 405
    assert answer == {"error": "only POST is allowed"}


@live
def test_body_over_one_megabyte_is_413(live_server, acme_feed):
    body = b'{"padding": "' + b"x" * (1024 * 1024) + b'"}'
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, body)
    assert status == 413
    assert "larger than" in answer["error"]


@live
def test_malformed_json_is_400_with_the_reason(live_server, acme_feed):
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, b'{"checks": [')
    assert status == 400
    assert answer["error"].startswith("the body is not valid JSON")


@live
def test_invalid_rows_are_400_and_nothing_is_written(live_server, acme_feed):
    payload = checks(("2026-03-02T10:00:00Z", "up"), ("2026-03-02T10:01:00Z", "sideways"))
    payload["tickets"] = [{"external_id": "INC1", "opened_at": "2026-03-02T09:00:00Z"}]
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, payload)
    assert status == 400
    assert answer["errors"] == [
        {
            "index": 1,
            "field": "status",
            "reason": "expected up, down or maintenance",
            "batch": "checks",
        }
    ]
    assert not UptimeCheck.objects.exists()
    assert not Ticket.objects.exists()


@live
def test_invalid_tickets_roll_back_the_checks_of_the_same_request(live_server, acme_feed):
    payload = checks(("2026-03-02T10:00:00Z", "up"))
    payload["tickets"] = [{"external_id": "INC1"}]
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, payload)
    assert status == 400
    assert answer["errors"][0] | {"reason": ""} == {
        "index": 0,
        "field": "opened_at",
        "reason": "",
        "batch": "tickets",
    }
    assert not UptimeCheck.objects.exists()


@live
def test_service_of_another_customer_is_refused(live_server, acme_feed, globex_agreement):
    payload = checks(("2026-03-02T10:00:00Z", "up")) | {"service": "Patient Records Platform"}
    status, answer = signed(hook(live_server, acme_feed, "generic"), acme_feed, payload)
    assert status == 400
    assert "no agreement of the source's customer" in answer["errors"][0]["reason"]


@live
def test_uptime_kuma_heartbeat_with_bearer_token(live_server, acme_feed):
    acme_feed.timezone = "Europe/Berlin"
    acme_feed.save()
    bearer = {"Authorization": f"Bearer {acme_feed.signing_secret}"}
    url = hook(live_server, acme_feed, "uptime-kuma")
    status, answer = send(url, json.dumps(kuma(status=0)).encode(), bearer)
    assert status == 200, answer
    assert answer == {"checks": {"created": 1, "updated": 0, "unchanged": 0}}
    check = UptimeCheck.objects.get()
    assert (check.checked_at, check.status) == (utc(2026, 3, 2, 9, 0, 0, 123000), "down")
    assert Outage.objects.get().ended_at is None


@live
def test_uptime_kuma_service_parameter_overrides_the_monitor_name(live_server, acme_feed):
    url = hook(live_server, acme_feed, "uptime-kuma", f"?service={PORTAL.replace(' ', '%20')}")
    status, answer = signed(url, acme_feed, kuma(status=1, name="portal-https"))
    assert status == 200, answer
    # No zone on the source: Uptime Kuma's time is read as UTC.
    assert UptimeCheck.objects.get().checked_at == utc(2026, 3, 2, 10, 0, 0, 123000)


@live
def test_wrong_bearer_token_is_401(live_server, acme_feed):
    url = hook(live_server, acme_feed, "uptime-kuma")
    status, answer = send(url, json.dumps(kuma()).encode(), {"Authorization": "Bearer guess"})
    assert (status, answer) == (
        401,
        {"error": "bearer token does not match the source's signing secret"},
    )
    assert not UptimeCheck.objects.exists()


@live
def test_alertmanager_firing_then_resolved_makes_one_outage(live_server, acme_feed):
    url = hook(live_server, acme_feed, "alertmanager")
    bearer = {"Authorization": f"Bearer {acme_feed.signing_secret}"}
    firing = notification(alert(startsAt="2026-03-02T10:00:00Z"), alert(service=None))
    status, answer = send(url, json.dumps(firing).encode(), bearer)
    assert status == 200, answer
    assert answer["checks"]["created"] == 1
    assert [note["reason"] for note in answer["ignored"]] == [
        "no service label and no ?service= parameter"
    ]
    assert Outage.objects.get().ended_at is None

    resolved = alert("resolved", startsAt="2026-03-02T10:00:00Z", endsAt="2026-03-02T10:45:00Z")
    status, answer = signed(url, acme_feed, notification(resolved))
    assert status == 200, answer
    assert answer["checks"] == {"created": 1, "updated": 0, "unchanged": 1}
    outage = Outage.objects.get()
    assert (outage.started_at, outage.ended_at) == (utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 45))


@live
def test_alertmanager_malformed_alert_is_400(live_server, acme_feed):
    url = hook(live_server, acme_feed, "alertmanager")
    payload = notification(alert(startsAt="not a time"))
    status, answer = signed(url, acme_feed, payload)
    assert status == 400
    assert answer["errors"][0]["field"] == "alerts[0].startsAt"


@live
def test_uptime_kuma_test_message_is_answered_without_a_check(live_server, acme_feed):
    url = hook(live_server, acme_feed, "uptime-kuma")
    payload = {"heartbeat": None, "monitor": None, "msg": "Uptime Kuma Testing"}
    status, answer = signed(url, acme_feed, payload)
    assert status == 200, answer
    assert answer["ignored"] == [{"reason": "no heartbeat: a test message"}]
    assert not UptimeCheck.objects.exists()
