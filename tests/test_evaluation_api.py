"""The evaluation API: ticket timers, period compliance, breaches and alerts, scoped like the
portal, with the two provider-only writes (root-cause notes, acknowledgements) and a schema
that documents every endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.evaluation.alert_emails import deliver_new_alerts
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.format import state_word
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Alert, Breach, PeriodResult, TicketTimer
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ticket(external_id: str, reference: str, priority: str, opened: datetime, **times) -> dict:
    row = {
        "external_id": external_id,
        "agreement": reference,
        "priority": priority,
        "opened_at": opened.isoformat(),
    }
    row.update({name: moment.isoformat() for name, moment in times.items()})
    return row


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def evaluated(active_acme_agreement, acme_desk, tom_team, now):
    """Acme's Gold agreement with three tickets evaluated, its periods evaluated and its
    alerts' emails recorded:

    * INC-LATE (P1, opened 40 min ago, no response): response threshold (30 min) breached;
    * INC-OK (P2, answered after 5 min): response met, resolution running;
    * INC-NEW (P3, opened 10 min ago): both clocks running.
    """
    reference = active_acme_agreement.reference
    tickets_ingest(
        acme_desk,
        [
            ticket("INC-LATE", reference, "P1", now - timedelta(minutes=40)),
            ticket(
                "INC-OK",
                reference,
                "P2",
                now - timedelta(minutes=20),
                first_response_at=now - timedelta(minutes=15),
            ),
            ticket("INC-NEW", reference, "P3", now - timedelta(minutes=10)),
        ],
    )
    assert evaluate_pending_tickets(now) == 3
    assert evaluate_periods(now) > 0
    deliver_new_alerts(now)
    return active_acme_agreement


def timer(external_id: str, metric: str) -> TicketTimer:
    return TicketTimer.objects.get(ticket__external_id=external_id, metric=metric)


# --- Ticket timers -------------------------------------------------------------------------


def test_timer_shows_ticket_target_deadlines_and_business_seconds(evaluated, alice_manager, now):
    late = timer("INC-LATE", "response_time")

    body = api(alice_manager).get(f"/api/timers/{late.pk}/").json()

    assert body["ticket"] == late.ticket_id and body["ticket_external_id"] == "INC-LATE"
    assert body["ticket_priority"] == "P1"
    assert body["agreement"] == evaluated.pk
    assert body["agreement_reference"] == evaluated.reference
    assert body["target_key"] == late.target_key and body["metric"] == "response_time"
    assert body["state"] == "breached"
    assert body["stopped_at"] is None
    started = datetime.fromisoformat(body["started_at"])
    assert started == now - timedelta(minutes=40)
    # Gold P1 response: 15 min target, 30 min threshold, on a 24x7 calendar.
    assert datetime.fromisoformat(body["due_at"]) == started + timedelta(minutes=15)
    assert datetime.fromisoformat(body["threshold_due_at"]) == started + timedelta(minutes=30)
    assert datetime.fromisoformat(body["warning_at"]) < datetime.fromisoformat(body["due_at"])
    assert body["target_seconds"] == 900 and body["threshold_seconds"] == 1800
    assert body["used_seconds"] == pytest.approx(2400)
    assert body["remaining_seconds"] == pytest.approx(900 - 2400)
    assert body["threshold_remaining_seconds"] == pytest.approx(1800 - 2400)


def test_timers_filter_by_ticket_agreement_state_metric_and_open(evaluated, alice_manager):
    client = api(alice_manager)
    late = timer("INC-LATE", "response_time")

    def keys(query: str) -> set[tuple[str, str]]:
        return {
            (row["ticket_external_id"], row["metric"])
            for row in results(client.get(f"/api/timers/?{query}"))
        }

    everything = keys("")
    assert len(everything) == 6
    assert keys(f"agreement={evaluated.pk}") == everything
    assert keys(f"agreement={evaluated.pk + 1000}") == set()
    assert keys(f"ticket={late.ticket_id}") == {
        ("INC-LATE", "response_time"),
        ("INC-LATE", "resolution_time"),
    }
    assert keys("ticket_external_id=INC-OK") == {
        ("INC-OK", "response_time"),
        ("INC-OK", "resolution_time"),
    }
    assert keys("state=breached") == {("INC-LATE", "response_time")}
    assert keys("metric=response_time") == {
        ("INC-LATE", "response_time"),
        ("INC-OK", "response_time"),
        ("INC-NEW", "response_time"),
    }
    assert ("INC-OK", "response_time") not in keys("open=true")
    assert keys("open=false") == {("INC-OK", "response_time")}
    assert client.get("/api/timers/?state=late").status_code == 400


def test_open_timers_ordered_by_time_to_breach(evaluated, alice_manager):
    rows = results(api(alice_manager).get("/api/timers/?open=true&ordering=threshold_due_at"))

    deadlines = [row["threshold_due_at"] for row in rows]
    assert len(rows) == 5
    assert deadlines == sorted(deadlines)
    assert rows[0]["ticket_external_id"] == "INC-LATE" and rows[0]["metric"] == "response_time"
    backwards = results(api(alice_manager).get("/api/timers/?open=true&ordering=-threshold_due_at"))
    assert [row["id"] for row in backwards] == [row["id"] for row in reversed(rows)]


# --- Period compliance ---------------------------------------------------------------------


def test_compliance_lists_period_results_with_value_goal_and_status(evaluated, alice_manager):
    result = (
        PeriodResult.objects.filter(agreement=evaluated, metric="response_time")
        .order_by("-period_start")
        .first()
    )

    body = api(alice_manager).get(f"/api/compliance/{result.pk}/").json()

    assert body["agreement"] == evaluated.pk and body["target_key"] == result.target_key
    assert body["value"] == result.value and body["value_unit"] == result.value_unit
    assert body["goal_target"] == result.goal_target
    assert body["goal_threshold"] == result.goal_threshold
    assert body["status"] == result.status and body["final"] == result.final
    assert body["details"] == result.details
    assert body["closed_at"] is None
    assert body["target_value"] == f"{result.target_value:.3f}"


def test_compliance_filters(evaluated, alice_manager):
    client = api(alice_manager)
    rows = PeriodResult.objects.filter(agreement=evaluated)
    key = rows.filter(metric="availability").values_list("target_key", flat=True).first()
    starts = sorted(set(rows.values_list("period_start", flat=True)))
    boundary = starts[len(starts) // 2]

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/compliance/?{query}")
        assert response.status_code == 200, response.content
        found = {row["id"] for row in response.json()["results"]}
        page = response.json()
        while page["next"]:
            page = client.get(page["next"]).json()
            found |= {row["id"] for row in page["results"]}
        return found

    assert ids(f"agreement={evaluated.pk}") == set(rows.values_list("pk", flat=True))
    assert ids(f"agreement={evaluated.pk + 1000}") == set()
    assert ids(f"target_key={key}") == set(rows.filter(target_key=key).values_list("pk", flat=True))
    assert ids("closed=true") == set(
        rows.filter(closed_at__isnull=False).values_list("pk", flat=True)
    )
    assert ids("closed=false") == set(
        rows.filter(closed_at__isnull=True).values_list("pk", flat=True)
    )
    assert ids("closed=true") and ids("closed=false")
    status = rows.filter(closed_at__isnull=True).values_list("status", flat=True).first()
    assert ids(f"status={status}") == set(rows.filter(status=status).values_list("pk", flat=True))
    at = boundary.isoformat().replace("+00:00", "Z")
    later = set(rows.filter(period_start__gte=boundary).values_list("pk", flat=True))
    earlier = set(rows.filter(period_start__lt=boundary).values_list("pk", flat=True))
    assert later and earlier
    assert ids(f"period_start_after={at}") == later
    assert ids(f"period_start_before={at}") == earlier


# --- Breaches ------------------------------------------------------------------------------


def test_breaches_list_and_filter(evaluated, alice_manager):
    client = api(alice_manager)
    breach = Breach.objects.get(ticket__external_id="INC-LATE")

    rows = results(client.get(f"/api/breaches/?agreement={evaluated.pk}&level=breached&open=true"))

    assert breach.pk in [row["id"] for row in rows]
    row = next(row for row in rows if row["id"] == breach.pk)
    assert row["ticket_external_id"] == "INC-LATE" and row["level"] == "breached"
    assert row["closed_at"] is None and row["root_cause"] == "" and row["root_cause_by"] is None
    assert breach.pk not in [row["id"] for row in results(client.get("/api/breaches/?open=false"))]
    assert results(client.get("/api/breaches/?level=missed_target")) == [
        row for row in results(client.get("/api/breaches/")) if row["level"] == "missed_target"
    ]


def test_provider_writes_root_cause_of_a_breach(evaluated, tom_team):
    breach = Breach.objects.get(ticket__external_id="INC-LATE")

    response = api(tom_team).patch(
        f"/api/breaches/{breach.pk}/",
        {"root_cause": "  Night desk understaffed.  "},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["root_cause"] == "Night desk understaffed."
    assert response.json()["root_cause_by"] == "tom_team"
    breach.refresh_from_db()
    assert breach.root_cause == "Night desk understaffed." and breach.root_cause_by == tom_team
    assert breach.root_cause_at is not None


def test_blank_root_cause_is_refused_with_field_and_reason(evaluated, alice_manager):
    breach = Breach.objects.get(ticket__external_id="INC-LATE")
    client = api(alice_manager)

    blank = client.patch(f"/api/breaches/{breach.pk}/", {"root_cause": "   "}, format="json")
    missing = client.patch(f"/api/breaches/{breach.pk}/", {}, format="json")
    unknown = client.patch(
        f"/api/breaches/{breach.pk}/", {"root_cause": "x", "rootcause": "y"}, format="json"
    )

    assert blank.status_code == 400 and blank.json() == {
        "root_cause": ["Say what caused the breach."]
    }
    assert missing.status_code == 400 and list(missing.json()) == ["root_cause"]
    assert unknown.status_code == 400 and list(unknown.json()) == ["rootcause"]
    breach.refresh_from_db()
    assert breach.root_cause == ""


def test_customer_cannot_write_root_cause(evaluated, carol_customer):
    breach = Breach.objects.get(ticket__external_id="INC-LATE")

    response = api(carol_customer).patch(
        f"/api/breaches/{breach.pk}/", {"root_cause": "Not us."}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the provider writes root-cause notes."}
    breach.refresh_from_db()
    assert breach.root_cause == ""


def test_breaches_cannot_be_replaced_or_deleted(evaluated, alice_manager):
    breach = Breach.objects.get(ticket__external_id="INC-LATE")
    client = api(alice_manager)

    assert client.put(f"/api/breaches/{breach.pk}/", {"root_cause": "x"}).status_code == 405
    assert client.delete(f"/api/breaches/{breach.pk}/").status_code == 405
    assert client.post("/api/breaches/", {}).status_code == 405


# --- Alerts --------------------------------------------------------------------------------


def test_alerts_carry_the_delivery_status_of_their_emails(evaluated, alice_manager):
    alert = Alert.objects.get(ticket__external_id="INC-LATE", level="breached")
    emails = list(Notification.objects.filter(key=f"alert:{alert.pk}").order_by("id"))
    assert len(emails) == 2  # alice (owner, manager, signatory) and carol (signatory)
    Notification.objects.filter(pk=emails[0].pk).update(status="sent", sent_at=timezone.now())
    Notification.objects.filter(pk=emails[1].pk).update(status="failed")
    for recipient, status in (("desk@acme.example", "pending"), ("ops@acme.example", "sending")):
        Notification.objects.create(
            kind="alert.breached",
            key=f"alert:{alert.pk}",
            recipient=recipient,
            status=status,
            subject="s",
            body_text="b",
            body_html="b",
        )
    # Another alert's emails and another event's key are not counted.
    other = Alert.objects.exclude(pk=alert.pk).first()
    Notification.objects.create(
        kind=f"alert.{other.level}", key=f"alert:{other.pk}", recipient="x@acme.example"
    )
    Notification.objects.create(kind="alert.breached", key="version:1", recipient="x@a.example")

    body = api(alice_manager).get(f"/api/alerts/{alert.pk}/").json()

    assert body["level"] == "breached" and body["ticket_external_id"] == "INC-LATE"
    assert body["breach"] == Breach.objects.get(ticket__external_id="INC-LATE").pk
    assert body["emailed"] is True and body["notified_at"] is not None
    assert body["delivery"] == {"sent": 1, "pending": 2, "failed": 1}


def test_alerts_filter_by_agreement_level_acknowledged_and_emailed(evaluated, alice_manager):
    client = api(alice_manager)
    alerts = Alert.objects.filter(agreement=evaluated)
    alert = alerts.get(ticket__external_id="INC-LATE", level="breached")
    Alert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now())
    quiet = alerts.exclude(pk=alert.pk).first()
    Alert.objects.filter(pk=quiet.pk).update(emailed=False, quiet_reason="too old")

    def ids(query: str) -> set[int]:
        return {row["id"] for row in results(client.get(f"/api/alerts/?{query}"))}

    assert ids(f"agreement={evaluated.pk}") == set(alerts.values_list("pk", flat=True))
    assert ids("level=breached") == set(
        alerts.filter(level="breached").values_list("pk", flat=True)
    )
    assert ids("acknowledged=true") == {alert.pk}
    assert alert.pk not in ids("acknowledged=false") and quiet.pk in ids("acknowledged=false")
    assert ids("emailed=false") == {quiet.pk}
    assert quiet.pk not in ids("emailed=true")


def test_provider_acknowledges_an_alert_once(evaluated, tom_team, alice_manager):
    alert = Alert.objects.get(ticket__external_id="INC-LATE", level="breached")

    first = api(tom_team).post(f"/api/alerts/{alert.pk}/acknowledge/")
    again = api(alice_manager).post(f"/api/alerts/{alert.pk}/acknowledge/")

    assert first.status_code == 200, first.content
    assert first.json()["acknowledged_by"] == "tom_team"
    assert first.json()["acknowledged_at"] is not None
    assert again.status_code == 200
    assert again.json()["acknowledged_by"] == "tom_team"
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert "delivery" in first.json()


def test_customer_cannot_acknowledge_an_alert(evaluated, carol_customer):
    alert = Alert.objects.get(ticket__external_id="INC-LATE", level="breached")

    response = api(carol_customer).post(f"/api/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the provider's team acknowledges alerts."}
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- Scoping -------------------------------------------------------------------------------

LISTS = ["/api/timers/", "/api/compliance/", "/api/breaches/", "/api/alerts/"]


def _first_ids() -> dict[str, int]:
    return {
        "/api/timers/": TicketTimer.objects.first().pk,
        "/api/compliance/": PeriodResult.objects.first().pk,
        "/api/breaches/": Breach.objects.first().pk,
        "/api/alerts/": Alert.objects.first().pk,
    }


def test_customer_sees_its_own_evaluation_rows(evaluated, carol_customer, victor_viewer):
    for user in (carol_customer, victor_viewer):
        client = api(user)
        for url, pk in _first_ids().items():
            assert results(client.get(url)), url
            assert client.get(f"{url}{pk}/").status_code == 200, url


def test_customer_never_sees_another_organisations_rows(evaluated, other_org_viewer):
    client = api(other_org_viewer)
    for url, pk in _first_ids().items():
        assert results(client.get(url)) == [], url
        assert results(client.get(f"{url}?agreement={evaluated.pk}")) == [], url
        assert client.get(f"{url}{pk}/").status_code == 404, url
    breach = Breach.objects.first()
    alert = Alert.objects.first()
    patch = client.patch(f"/api/breaches/{breach.pk}/", {"root_cause": "x"}, format="json")
    assert patch.status_code == 404
    assert client.post(f"/api/alerts/{alert.pk}/acknowledge/").status_code == 404


def test_token_authentication_scopes_like_the_session(evaluated, carol_customer, other_org_viewer):
    from sla_portal.core.tokens import create_token_for_tests

    carol, other = APIClient(), APIClient()
    carol.credentials(HTTP_AUTHORIZATION=f"Token {create_token_for_tests(carol_customer)}")
    other.credentials(HTTP_AUTHORIZATION=f"Token {create_token_for_tests(other_org_viewer)}")

    for url in LISTS:
        assert results(carol.get(url)), url
        assert results(other.get(url)) == [], url
        assert APIClient().get(url).status_code in (401, 403), url


# --- Query counts --------------------------------------------------------------------------


def test_list_endpoints_keep_their_query_count(
    evaluated, acme_desk, alice_manager, carol_customer, now, django_assert_max_num_queries
):
    reference = evaluated.reference
    tickets_ingest(
        acme_desk,
        [
            ticket(f"INC-MORE-{n}", reference, "P1", now - timedelta(minutes=35 + n))
            for n in range(12)
        ],
    )
    evaluate_pending_tickets(now)
    deliver_new_alerts(now)
    assert TicketTimer.objects.count() >= 30 and Alert.objects.count() >= 12

    for user in (alice_manager, carol_customer):
        client = api(user)
        for url in LISTS:
            # count, page; the session/user lookups are not made with force_authenticate.
            with django_assert_max_num_queries(2):
                assert len(results(client.get(url))) >= 12, url


# --- The schema ----------------------------------------------------------------------------

ENDPOINTS = {
    "/api/timers/": ["get"],
    "/api/timers/{id}/": ["get"],
    "/api/compliance/": ["get"],
    "/api/compliance/{id}/": ["get"],
    "/api/breaches/": ["get"],
    "/api/breaches/{id}/": ["get", "patch"],
    "/api/alerts/": ["get"],
    "/api/alerts/{id}/": ["get"],
    "/api/alerts/{id}/acknowledge/": ["post"],
}


def test_schema_documents_the_evaluation_endpoints_with_examples(client):
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    for path, methods in ENDPOINTS.items():
        assert sorted(schema["paths"][path]) == sorted(methods), path
        for method in methods:
            operation = schema["paths"][path][method]
            bodies = [
                media
                for part in (operation.get("requestBody", {}), *operation["responses"].values())
                for media in part.get("content", {}).values()
            ]
            assert any("examples" in media for media in bodies), f"{method} {path}"
    timers = schema["paths"]["/api/timers/"]["get"]["parameters"]
    assert {"ticket", "agreement", "state", "metric", "open", "ordering"} <= {
        parameter["name"] for parameter in timers
    }
    components = schema["components"]["schemas"]
    # The engine's statuses are their own enum: the agreement's and the ticket's keep theirs.
    assert "breached" in components["EvaluationStatusEnum"]["enum"]
    assert "active" in components["StatusEnum"]["enum"]
    assert "open" in components["StateEnum"]["enum"]
    delivery = components["Alert"]["properties"]["delivery"]["allOf"][0]["$ref"].split("/")[-1]
    assert set(components[delivery]["properties"]) == {"sent", "pending", "failed"}


def test_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "api.yaml")
    )
    text = (tmp_path / "api.yaml").read_text()
    assert "/api/alerts/{id}/acknowledge/:" in text and "/api/compliance/:" in text


def test_display_fields_use_the_words_of_the_pages(evaluated, alice_manager):
    """One vocabulary: the API's display fields say what the pages and emails say."""
    client = api(alice_manager)
    levels = {row["level"]: row["level_text"] for row in results(client.get("/api/alerts/"))}
    assert levels.get("breached") == "Threshold breached"
    if "warning" in levels:
        assert levels["warning"] == "At risk"
    for row in results(client.get("/api/timers/")):
        assert row["state_text"] == state_word(row["state"])
    for row in results(client.get("/api/compliance/")):
        assert row["status_text"] == state_word(row["status"])
    for row in results(client.get("/api/breaches/")):
        assert row["level_text"] in ("Threshold breached", "Target missed")
    schema = client.get("/api/schema/?format=json").json()
    levels_doc = schema["components"]["schemas"]["AlertLevelEnum"]["description"]
    assert "`warning` - At risk" in levels_doc
