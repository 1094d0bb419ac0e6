"""Webhooks: signed pushes of checks and tickets, Uptime Kuma and Alertmanager notifications.

The endpoint tests talk HTTP to a real server (pytest-django's ``live_server``) with the
standard library's client, as a monitor would; the signing and adapter functions are pure and
tested directly, signing also with hypothesis."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreements.models import Service
from monitoring.adapters import (
    AdapterError,
    alertmanager_rows,
    match_services,
    service_map_errors,
    uptime_kuma_rows,
)
from monitoring.models import Outage, Source, Ticket, UptimeCheck
from monitoring.signing import bearer_matches, sign, verify
from sla_portal.core.models import Notification
from tests.support.browser import DOCS_SCREENSHOTS

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


# --- Issue 14: a monitoring stack as an operator connects it ---------------------------------


def bearer(source: Source) -> dict[str, str]:
    return {"Authorization": f"Bearer {source.signing_secret}"}


def test_service_names_match_ignoring_case_and_spacing():
    match = match_services({"customer  portal", " CUSTOMER PORTAL"}, {PORTAL, "ERP Hosting"})
    assert match.found == {"customer  portal": PORTAL, " CUSTOMER PORTAL": PORTAL}
    assert match.refused == {}


def test_source_mapping_turns_label_values_into_services():
    match = match_services(
        {"portal-https", "erp"}, {PORTAL}, {"Portal-HTTPS": PORTAL, "erp": "ERP"}
    )
    assert match.found == {"portal-https": PORTAL}
    assert match.refused == {
        "erp": "mapped to “ERP”, but no agreement of the source's customer covers this service"
    }


def test_names_equal_after_normalisation_are_refused_as_ambiguous():
    match = match_services({"toy api"}, {"Toy API", "toy  API"})
    assert match.found == {}
    assert "ambiguous" in match.refused["toy api"]
    assert "“Toy API”" in match.refused["toy api"] and "“toy  API”" in match.refused["toy api"]
    # An exact mapping to one of them settles it... only when the target itself is unique:
    # the map says which spelling, the comparison still ignores case, so it stays refused.
    assert match_services({"toy api"}, {"Toy API"}).found == {"toy api": "Toy API"}


@given(
    st.sets(st.text(max_size=12), max_size=6),
    st.sets(st.text(min_size=1, max_size=12), max_size=6),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
def test_every_name_is_either_matched_to_a_covered_service_or_refused(names, covered, mapping):
    match = match_services(names, covered, mapping)
    assert set(match.found) | set(match.refused) == names
    assert not set(match.found) & set(match.refused)
    assert set(match.found.values()) <= covered
    assert all(match.refused.values())


def test_service_map_errors_name_the_entry():
    assert service_map_errors({"portal-https": PORTAL}, {PORTAL}) == []
    errors = service_map_errors({"x": "Nope", "": PORTAL, "A": PORTAL, "a ": PORTAL}, {PORTAL})
    assert errors[0].startswith("x → Nope: no agreement")
    assert any("label value is 1 to 200" in error for error in errors)
    assert any("the same label value as “A”" in error for error in errors)
    assert service_map_errors(["not", "a", "map"], {PORTAL}) != []


def test_for_seconds_moves_the_alert_start_back_to_when_the_service_went_down():
    resolved = alert("resolved", startsAt="2026-03-02T10:05:00Z", endsAt="2026-03-02T10:30:00Z")
    rows = alertmanager_rows(notification(resolved), for_seconds=300).rows
    assert [(row["checked_at"], row["status"]) for _, row in rows] == [
        (utc(2026, 3, 2, 10, 0), "down"),
        (utc(2026, 3, 2, 10, 30), "up"),
    ]


@pytest.fixture
def acme_alerts(acme, acme_agreement) -> Source:
    return Source.objects.create(
        customer=acme, name="Acme Prometheus", kind=Source.Kind.ALERTMANAGER
    )


@live
def test_alertmanager_group_with_an_unknown_service_records_the_known_one(
    live_server, acme_alerts, client, alice_manager
):
    url = hook(live_server, acme_alerts, "alertmanager")
    group = notification(
        alert(startsAt="2026-03-02T10:00:00Z"),
        alert(service="Toy API", startsAt="2026-03-02T10:00:00Z"),
    )
    status, answer = send(url, json.dumps(group).encode(), bearer(acme_alerts))
    assert status == 200, answer
    assert answer["checks"]["created"] == 1
    assert answer["refused"] == [
        {
            "index": 1,
            "service": "Toy API",
            "alertname": "PortalDown",
            "reason": "no agreement of the source's customer covers this service",
        }
    ]
    assert Outage.objects.get().started_at == utc(2026, 3, 2, 10)
    acme_alerts.refresh_from_db()
    assert acme_alerts.refused_alerts == answer["refused"]
    assert acme_alerts.refused_count == 0  # the delivery itself was accepted

    # The next group (group_by: [service] sends each service alone) does not hide them.
    healthy = notification(alert("resolved", endsAt="2026-03-02T10:05:00Z"))
    assert send(url, json.dumps(healthy).encode(), bearer(acme_alerts))[0] == 200
    acme_alerts.refresh_from_db()
    assert [item["service"] for item in acme_alerts.refused_alerts] == ["Toy API"]

    client.force_login(alice_manager)
    page = client.get(f"/sources/{acme_alerts.pk}/").content.decode()
    assert 'id="refused-alerts"' in page
    assert "Toy API" in page and "#1 PortalDown" in page


@live
def test_alertmanager_group_of_only_unknown_services_is_answered_200(live_server, acme_alerts):
    url = hook(live_server, acme_alerts, "alertmanager")
    group = notification(alert(service="Toy API"), alert(service="Other"))
    status, answer = send(url, json.dumps(group).encode(), bearer(acme_alerts))
    assert status == 200, answer
    assert [item["service"] for item in answer["refused"]] == ["Toy API", "Other"]
    assert not UptimeCheck.objects.exists()


@live
def test_service_label_in_another_case_is_recorded(live_server, acme_alerts):
    url = hook(live_server, acme_alerts, "alertmanager")
    group = notification(alert(service="customer  PORTAL", startsAt="2026-03-02T10:00:00Z"))
    status, answer = send(url, json.dumps(group).encode(), bearer(acme_alerts))
    assert status == 200, answer
    assert "refused" not in answer
    assert UptimeCheck.objects.get().service.name == PORTAL


@live
def test_two_spellings_of_one_service_in_a_group_are_one_service(live_server, acme_alerts):
    url = hook(live_server, acme_alerts, "alertmanager")
    group = notification(
        alert(service="customer portal", startsAt="2026-03-02T10:00:00Z"),
        alert(
            "resolved",
            service="Customer Portal",
            startsAt="2026-03-02T10:00:00Z",
            endsAt="2026-03-02T10:20:00Z",
        ),
    )
    status, answer = send(url, json.dumps(group).encode(), bearer(acme_alerts))
    assert status == 200, answer
    assert answer["checks"]["created"] == 2
    assert list(UptimeCheck.objects.order_by("checked_at").values_list("status", flat=True)) == [
        "down",
        "up",
    ]


@live
def test_source_mapping_and_for_correction_apply_to_alertmanager(live_server, acme_alerts):
    acme_alerts.service_map = {"portal-https": PORTAL}
    acme_alerts.for_seconds = 120
    acme_alerts.save()
    url = hook(live_server, acme_alerts, "alertmanager")
    resolved = alert(
        "resolved",
        service="portal-https",
        startsAt="2026-03-02T10:02:00Z",
        endsAt="2026-03-02T10:10:00Z",
    )
    status, answer = send(url, json.dumps(notification(resolved)).encode(), bearer(acme_alerts))
    assert status == 200, answer
    outage = Outage.objects.get()
    assert (outage.started_at, outage.ended_at) == (utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 10))


@live
def test_two_services_equal_after_normalisation_are_refused_with_the_reason(
    live_server, acme_alerts, acme_agreement
):
    twin = Service.objects.create(name="customer portal")
    acme_agreement.services.add(twin)
    url = hook(live_server, acme_alerts, "alertmanager")
    group = notification(alert(service="Customer Portal"))
    status, answer = send(url, json.dumps(group).encode(), bearer(acme_alerts))
    assert status == 200, answer
    assert "ambiguous" in answer["refused"][0]["reason"]
    assert not UptimeCheck.objects.exists()


@live
def test_request_without_credentials_names_every_accepted_scheme(live_server, acme_alerts):
    for kind in ("alertmanager", "uptime-kuma"):
        status, answer = send(hook(live_server, acme_alerts, kind), b"{}")
        assert status == 401
        assert "Authorization: Bearer" in answer["error"]
        assert "X-SLA-Timestamp" in answer["error"] and "X-SLA-Signature" in answer["error"]
    status, answer = send(hook(live_server, acme_alerts, "generic"), b"{}")
    assert (status, answer) == (401, {"error": "missing X-SLA-Timestamp or X-SLA-Signature header"})
    status, answer = send(
        hook(live_server, acme_alerts, "alertmanager"), b"{}", {"Authorization": "Basic eDp5"}
    )
    assert (status, answer) == (
        401,
        {"error": "the Authorization header must be: Bearer <signing secret>"},
    )


@live
def test_refused_deliveries_are_counted_and_the_provider_told_once_per_episode(
    live_server, acme_alerts, ada_admin, alice_manager, tom_team, client
):
    url = hook(live_server, acme_alerts, "alertmanager")
    body = json.dumps(notification(alert())).encode()
    wrong = {"Authorization": "Bearer not-the-secret-4711"}
    for _ in range(5):
        assert send(url, body, wrong)[0] == 401
    acme_alerts.refresh_from_db()
    assert acme_alerts.refused_count == 5
    assert acme_alerts.refusing_since is not None
    assert acme_alerts.refused_last_reason == (
        "401: bearer token does not match the source's signing secret"
    )
    told = Notification.objects.filter(kind="source.refused")
    # Admins and service managers hear once; the team does not.
    assert sorted(told.values_list("recipient", flat=True)) == sorted(
        [ada_admin.email.lower(), alice_manager.email.lower()]
    )
    for email in told:
        assert "Acme Prometheus" in email.subject
        assert "not-the-secret-4711" not in email.body_text
        assert acme_alerts.signing_secret not in email.body_text

    # The page and the API show it, without the token sent or the secret.
    client.force_login(alice_manager)
    page = client.get(f"/sources/{acme_alerts.pk}/").content.decode()
    assert 'id="refused-deliveries"' in page and "Refused since" in page
    assert "not-the-secret-4711" not in page
    api = client.get(f"/api/sources/{acme_alerts.pk}/").json()
    assert api["refused_deliveries"]["count"] == 5
    assert api["refused_deliveries"]["refusing_since"] is not None

    # An accepted delivery ends the episode; the next refusal starts a new one, told again.
    assert send(url, body, bearer(acme_alerts))[0] == 200
    acme_alerts.refresh_from_db()
    assert acme_alerts.refusing_since is None
    assert send(url, body, wrong)[0] == 401
    assert Notification.objects.filter(kind="source.refused").count() == 4
    assert client.get(f"/api/sources/{acme_alerts.pk}/").json()["refused_deliveries"]["count"] == 6


@live
def test_data_sent_to_a_disabled_source_is_counted_but_not_announced(
    live_server, acme_alerts, ada_admin
):
    acme_alerts.disabled_at = datetime.now(UTC)
    acme_alerts.save()
    url = hook(live_server, acme_alerts, "alertmanager")
    status, _ = send(url, json.dumps(notification(alert())).encode(), bearer(acme_alerts))
    assert status == 403
    acme_alerts.refresh_from_db()
    assert (acme_alerts.refused_count, acme_alerts.refusing_since) == (1, None)
    assert acme_alerts.refused_last_reason.startswith("403: this source is disabled")
    assert not Notification.objects.filter(kind="source.refused").exists()


@live
def test_an_unauthenticated_flood_adds_no_rows(live_server, acme_alerts, ada_admin):
    url = hook(live_server, acme_alerts, "alertmanager")
    for number in range(30):
        send(url, b"{}", {"Authorization": f"Bearer guess-{number}"})
    # One email per provider admin or manager (Ada and Alice), however many requests.
    assert Notification.objects.count() == 2
    assert Source.objects.count() == 1
    acme_alerts.refresh_from_db()
    assert acme_alerts.refused_count == 30


def test_customer_api_view_of_a_source_has_no_refusal_details_or_secret(
    client, carol_customer, acme, acme_agreement
):
    source = Source.objects.create(customer=acme, name="Acme Prometheus", kind="alertmanager")
    client.force_login(carol_customer)
    answer = client.get(f"/api/sources/{source.pk}/").json()
    assert "signing_secret" not in answer and "refused_deliveries" not in answer


@pytest.mark.django_db
def test_service_map_is_set_through_the_api_and_checked(client, alice_manager, acme_alerts):
    client.force_login(alice_manager)
    url = f"/api/sources/{acme_alerts.pk}/"
    answer = client.patch(
        url,
        {"service_map": {"portal-https": "customer portal"}, "for_seconds": 60},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["service_map"] == {"portal-https": "customer portal"}
    acme_alerts.refresh_from_db()
    assert acme_alerts.for_seconds == 60
    answer = client.patch(
        url, {"service_map": {"x": "Patient Records Platform"}}, content_type="application/json"
    )
    assert answer.status_code == 400
    assert "no agreement" in answer.json()["service_map"][0]
    answer = client.patch(url, {"for_seconds": -5}, content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.django_db
def test_edit_page_saves_the_mapping_and_the_for_delay(client, alice_manager, acme_alerts):
    client.force_login(alice_manager)
    url = f"/sources/{acme_alerts.pk}/edit/"
    page = client.get(url).content.decode()
    assert 'name="alerts-service_map"' in page and 'name="alerts-for_seconds"' in page
    data = {"name": "Acme Prometheus", "description": "", "timezone": ""}
    refused = client.post(
        url, data | {"alerts-service_map": "portal = Nope", "alerts-for_seconds": 0}
    )
    assert refused.status_code == 200
    assert "portal → Nope" in refused.content.decode()
    saved = client.post(
        url,
        data | {"alerts-service_map": "portal-https = Customer Portal\n", "alerts-for_seconds": 30},
    )
    assert saved.status_code == 302
    acme_alerts.refresh_from_db()
    assert (acme_alerts.service_map, acme_alerts.for_seconds) == ({"portal-https": PORTAL}, 30)
    assert "portal-https" in client.get(f"/sources/{acme_alerts.pk}/").content.decode()


# --- In Chromium: what a manager sees of a source being refused ---------------------------------

SCREENSHOTS = DOCS_SCREENSHOTS


def keep(page, name: str) -> None:
    from tests.support.browser import screenshot

    path = screenshot(page, name)
    if SCREENSHOTS.is_dir():
        shutil.copy(path, SCREENSHOTS / f"{name}.png")


@pytest.mark.browser
@live
def test_manager_sees_refusals_and_maps_a_label_in_the_browser(
    new_page, live_server, acme_alerts, alice_manager
):
    from playwright.sync_api import expect

    from tests.support.actors import PASSWORD
    from tests.support.axe import assert_no_axe_violations
    from tests.support.browser import login

    url = hook(live_server, acme_alerts, "alertmanager")
    for _ in range(3):
        send(url, b"{}", {"Authorization": "Bearer an-old-token"})
    group = notification(
        alert(startsAt="2026-03-02T10:00:00Z"),
        alert(service="portal-https", startsAt="2026-03-02T10:00:00Z"),
        alert(service="Toy API", startsAt="2026-03-02T10:00:00Z"),
    )
    assert send(url, json.dumps(group).encode(), bearer(acme_alerts))[0] == 200
    for _ in range(2):
        send(url, b"{}", {"Authorization": "Bearer an-old-token"})

    for size, suffix in (
        ({"width": 1440, "height": 1100}, ""),
        ({"width": 390, "height": 844}, "-phone"),
    ):
        page = new_page(size)
        login(page, "alice_manager", PASSWORD)
        page.goto(f"{live_server.url}/sources/{acme_alerts.pk}/")
        expect(page.locator("#refused-deliveries")).to_contain_text("5 refused in all")
        expect(page.locator("#refused-deliveries")).to_contain_text("Refused since")
        expect(page.locator("#refused-alerts")).to_contain_text("Toy API")
        expect(page.locator("#refused-alerts")).to_contain_text("portal-https")
        assert "an-old-token" not in page.content()
        assert_no_axe_violations(page, f"source with refusals{suffix}")
        keep(page, f"source-refused-deliveries-and-alerts{suffix}")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Service label mapping").fill("portal-https = Toy API")
    page.get_by_label("Alert rule for: (seconds)").fill("60")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#alert-settings")).to_contain_text("portal-https → Toy API")
    assert_no_axe_violations(page, "edit source: mapping refused")
    keep(page, "source-edit-mapping-error-phone")
    page.get_by_label("Service label mapping").fill("portal-https = Customer Portal")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("portal-https → Customer Portal")
    acme_alerts.refresh_from_db()
    assert (acme_alerts.service_map, acme_alerts.for_seconds) == ({"portal-https": PORTAL}, 60)
