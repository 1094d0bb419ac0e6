"""Set-based ingest: tickets, checks and maintenance, through the functions and the API.

A batch with any invalid row is refused whole; a valid one is upserted in bulk, and sending it
again changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from rest_framework.test import APIClient

from monitoring.ingest import MAX_BATCH, IngestError, IngestResult, RowError
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import MaintenanceWindow, Outage, Source, Ticket, UptimeCheck

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def ticket(external_id: str = "INC1", **values) -> dict:
    return {"external_id": external_id, "opened_at": "2026-03-02T09:00:00Z", **values}


def refused(run) -> list[RowError]:
    with pytest.raises(IngestError) as caught:
        run()
    assert Ticket.objects.count() == 0
    return caught.value.errors


# --- Tickets: the rules -------------------------------------------------------------------


def test_new_tickets_are_created_with_agreement_state_and_evaluation_mark(
    acme_desk, acme_agreement
):
    result = tickets_ingest(
        acme_desk,
        [
            ticket("INC1", agreement=acme_agreement.reference, priority="P1", csat=4),
            ticket("INC2", resolved_at="2026-03-02T10:00:00Z", reopen_count="2"),
        ],
    )

    assert result == IngestResult(created=2, updated=0, unchanged=0)
    first, second = Ticket.objects.order_by("external_id")
    assert first.agreement == acme_agreement and first.customer == acme_desk.customer
    assert (first.priority, first.csat, first.state) == ("P1", 4, "open")
    assert (second.state, second.reopen_count) == ("resolved", 2)
    assert first.evaluated_at is None


def test_resending_a_batch_changes_nothing(acme_desk, acme_agreement):
    batch = [ticket(f"INC{i}", agreement=acme_agreement.reference) for i in range(5)]
    tickets_ingest(acme_desk, batch)
    Ticket.objects.update(evaluated_at=datetime(2026, 3, 3, tzinfo=UTC))

    assert tickets_ingest(acme_desk, batch) == IngestResult(0, 0, 5)
    assert not Ticket.objects.filter(evaluated_at__isnull=True).exists()


def test_changed_rows_are_updated_and_marked_for_evaluation(acme_desk, acme_agreement):
    tickets_ingest(acme_desk, [ticket("INC1"), ticket("INC2")])
    Ticket.objects.update(evaluated_at=datetime(2026, 3, 3, tzinfo=UTC))

    result = tickets_ingest(
        acme_desk, [ticket("INC1", closed_at="2026-03-02T12:00:00Z"), ticket("INC2")]
    )

    assert result == IngestResult(created=0, updated=1, unchanged=1)
    changed = Ticket.objects.get(external_id="INC1")
    assert changed.state == "closed" and changed.evaluated_at is None
    assert Ticket.objects.get(external_id="INC2").evaluated_at is not None


def test_service_name_resolves_to_the_customers_agreement(acme_desk, acme_agreement, services):
    tickets_ingest(acme_desk, [ticket(service=services["portal"].name)])

    stored = Ticket.objects.get()
    assert stored.agreement == acme_agreement and stored.service == services["portal"]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"opened_at": "2026-03-02T09:00:00Z"}, "external_id", "required"),
        ({"external_id": "INC1"}, "opened_at", "required"),
        (ticket(opened_at="yesterday"), "opened_at", "not an ISO-8601 timestamp"),
        (ticket(resolved_at="2026-03-02T08:00:00Z"), "resolved_at", "before the ticket"),
        (ticket(first_response_at="2026-03-01T09:00:00Z"), "first_response_at", "before"),
        (ticket(csat=6), "csat", "between 1 and 5"),
        (ticket(csat=0), "csat", "between 1 and 5"),
        (ticket(priority="P9"), "priority", "P1, P2, P3, P4"),
        (ticket(reopen_count="many"), "reopen_count", "integer"),
        (ticket(agreement="SLA-1999-0001"), "agreement", "no agreement with this reference"),
        (ticket(service="No such service"), "service", "no agreement of the customer"),
        (ticket(status_history=[{"status": "New"}]), "status_history", "at: required"),
        ("not an object", "", "expected an object"),
    ],
)
def test_each_invalid_row_is_reported_and_nothing_is_written(
    acme_desk, acme_agreement, row, field, reason
):
    errors = refused(lambda: tickets_ingest(acme_desk, [ticket("OK"), row]))

    assert len(errors) == 1
    assert (errors[0].index, errors[0].field) == (1, field)
    assert reason in errors[0].reason


def test_duplicate_external_id_in_a_batch_is_refused(acme_desk):
    errors = refused(lambda: tickets_ingest(acme_desk, [ticket("INC1"), ticket("INC1")]))

    assert errors == [RowError(1, "external_id", "duplicate of row 0 in this batch")]


def test_another_customers_agreement_is_refused_like_an_unknown_one(
    acme_desk, acme_agreement, globex_agreement
):
    errors = refused(
        lambda: tickets_ingest(acme_desk, [ticket(agreement=globex_agreement.reference)])
    )

    assert errors[0].field == "agreement"
    assert errors[0].reason == "no agreement with this reference for the customer"


def test_ambiguous_service_is_refused(acme_desk, acme_agreement, tiers, services, acme):
    from datetime import date

    from agreements.services.drafting import agreement_create_from_tier

    agreement_create_from_tier(
        tier=tiers["silver"],
        customer=acme,
        title="Portal again",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
    )

    errors = refused(lambda: tickets_ingest(acme_desk, [ticket(service=services["portal"].name)]))

    assert errors[0].field == "service" and "ambiguous" in errors[0].reason


def test_too_large_batch_is_refused_as_a_whole(acme_desk):
    errors = refused(lambda: tickets_ingest(acme_desk, [{}] * (MAX_BATCH + 1)))

    assert errors[0].index == -1


def test_naive_timestamps_are_read_in_the_sources_zone(acme_desk):
    tickets_ingest(acme_desk, [ticket(opened_at="2026-03-02T10:00:00")])

    assert Ticket.objects.get().opened_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_naive_timestamps_are_refused_when_the_source_has_no_zone(zoneless_desk):
    errors = refused(
        lambda: tickets_ingest(zoneless_desk, [ticket(opened_at=datetime(2026, 3, 2, 10))])
    )

    assert errors == [
        RowError(0, "opened_at", "timestamp has no time zone and the source sets none")
    ]


def test_status_history_is_stored_and_pauses_derived(acme_desk):
    history = [
        {"at": "2026-03-02T09:00:00Z", "status": "New"},
        {"at": "2026-03-02T10:00:00Z", "status": "Awaiting customer", "pauses_clock": True},
        {"at": "2026-03-02T10:30:00Z", "status": "Awaiting vendor", "pauses_clock": True},
        {"at": "2026-03-02T11:00:00Z", "status": "In progress"},
        {"at": "2026-03-02T12:00:00Z", "status": "On hold", "pauses_clock": True},
    ]
    tickets_ingest(acme_desk, [ticket(status_history=history)])

    stored = Ticket.objects.get()
    assert stored.status_changes.count() == 5
    pauses = list(stored.pauses.values_list("start", "end", "reason"))
    assert pauses == [
        (
            datetime(2026, 3, 2, 10, tzinfo=UTC),
            datetime(2026, 3, 2, 11, tzinfo=UTC),
            "Awaiting customer",
        ),
        (datetime(2026, 3, 2, 12, tzinfo=UTC), None, "On hold"),
    ]

    history[-1] = {"at": "2026-03-02T12:00:00Z", "status": "Resolved", "resolves": True}
    assert tickets_ingest(acme_desk, [ticket(status_history=history)]).updated == 1
    assert stored.pauses.count() == 1
    assert stored.status_changes.filter(resolves=True).count() == 1


# --- Checks, outages and maintenance --------------------------------------------------------


def check(minute: int, status: str) -> dict:
    return {"checked_at": f"2026-03-02T09:{minute:02d}:00Z", "status": status}


def outages(service) -> list[tuple[int, int | None]]:
    return [
        (o.started_at.minute, o.ended_at.minute if o.ended_at else None)
        for o in Outage.objects.filter(service=service).order_by("started_at")
    ]


def test_checks_are_upserted_and_outages_derived(acme_desk, acme_agreement, services):
    portal = services["portal"]
    statuses = ["up", "down", "down", "up", "down"]
    result = checks_ingest(acme_desk, portal, [check(i, s) for i, s in enumerate(statuses)])

    assert result == IngestResult(5, 0, 0)
    assert outages(portal) == [(1, 3), (4, None)]

    # A later batch ends the open outage; a corrected check splits the first one.
    checks_ingest(acme_desk, portal, [check(5, "down"), check(6, "up")])
    assert outages(portal) == [(1, 3), (4, 6)]
    result = checks_ingest(acme_desk, portal, [check(2, "up")])
    assert result == IngestResult(0, 1, 0)
    assert outages(portal) == [(1, 2), (4, 6)]
    assert checks_ingest(acme_desk, portal, [check(2, "up")]) == IngestResult(0, 0, 1)
    assert UptimeCheck.objects.count() == 7


def test_checks_of_a_service_outside_the_customers_agreements_are_refused(
    acme_desk, acme_agreement, globex_agreement, services
):
    with pytest.raises(IngestError) as caught:
        checks_ingest(acme_desk, services["records"], [check(0, "down")])

    assert caught.value.errors[0].field == "service"
    assert not UptimeCheck.objects.exists()


def test_invalid_check_rows_write_nothing(acme_desk, acme_agreement, services):
    with pytest.raises(IngestError) as caught:
        checks_ingest(
            acme_desk,
            services["portal"],
            [check(0, "up"), check(1, "sideways"), check(0, "down")],
        )

    assert [(e.index, e.field) for e in caught.value.errors] == [(1, "status"), (2, "checked_at")]
    assert not UptimeCheck.objects.exists()


def test_maintenance_is_upserted_and_must_end_after_it_starts(acme_desk, acme_agreement, services):
    row = {
        "external_id": "CHG1",
        "service": services["portal"].name,
        "title": "DB upgrade",
        "starts_at": "2026-03-07T22:00:00",
        "ends_at": "2026-03-08T01:00:00",
    }
    assert maintenance_ingest(acme_desk, [row]) == IngestResult(1, 0, 0)
    assert maintenance_ingest(acme_desk, [row]) == IngestResult(0, 0, 1)
    assert maintenance_ingest(acme_desk, [row | {"title": "Upgrade"}]) == IngestResult(0, 1, 0)
    assert MaintenanceWindow.objects.get().starts_at == datetime(2026, 3, 7, 21, tzinfo=UTC)

    with pytest.raises(IngestError) as caught:
        maintenance_ingest(acme_desk, [row | {"ends_at": "2026-03-07T21:00:00"}])
    assert caught.value.errors[0].field == "ends_at"


# --- The API ---------------------------------------------------------------------------------


def test_ten_thousand_tickets_as_json_in_few_queries(
    alice_manager, acme_desk, acme_agreement, django_assert_max_num_queries
):
    rows = [
        ticket(f"INC{i:05d}", agreement=acme_agreement.reference, priority="P3")
        for i in range(10_000)
    ]
    client = api(alice_manager)
    url = f"/api/sources/{acme_desk.pk}/tickets/bulk/"

    # SQLite allows 999 parameters per statement, so Django cuts bulk inserts into batches of
    # about 58 tickets there; the bound that matters is PostgreSQL's.
    limit = 40 if connection.vendor == "postgresql" else 250
    with django_assert_max_num_queries(limit):
        response = client.post(url, rows, format="json")

    assert response.status_code == 200, response.content[:500]
    assert response.json() == {"created": 10_000, "updated": 0, "unchanged": 0}
    with django_assert_max_num_queries(20):
        again = client.post(url, rows, format="json")
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 10_000}


def test_bad_batch_answers_400_with_row_errors_and_writes_nothing(alice_manager, acme_desk):
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/tickets/bulk/",
        [ticket("A"), ticket("B", csat=9)],
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": 1, "field": "csat", "reason": "must be between 1 and 5"}],
        "error_count": 1,
    }
    assert not Ticket.objects.exists()


def test_error_list_is_capped(alice_manager, acme_desk):
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/tickets/bulk/", [{}] * 1500, format="json"
    )

    body = response.json()
    assert len(body["errors"]) == 1000 and body["error_count"] == 1500


def test_csv_body(alice_manager, acme_desk, acme_agreement):
    body = (
        "external_id,agreement,priority,opened_at,resolved_at,csat\n"
        f"INC1,{acme_agreement.reference},P2,2026-03-02T10:00:00,,\n"
        f"INC2,{acme_agreement.reference},,2026-03-02T09:00:00Z,2026-03-02T11:00:00Z,5\n"
    )
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/tickets/bulk/", body, content_type="text/csv"
    )

    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert Ticket.objects.get(external_id="INC2").csat == 5


def test_csv_cannot_carry_status_history(alice_manager, acme_desk):
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/tickets/bulk/",
        "external_id,opened_at,status_history\nA,2026-03-02T09:00:00Z,x\n",
        content_type="text/csv",
    )

    assert response.status_code == 400
    assert "status_history" in response.json()["errors"][0]["reason"]


def test_ndjson_body_for_checks(alice_manager, acme_desk, acme_agreement, services):
    body = "\n".join(json.dumps(check(i, s)) for i, s in enumerate(["up", "down", "up"]))
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/checks/bulk/?service={services['portal'].pk}",
        body,
        content_type="application/x-ndjson",
    )

    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert outages(services["portal"]) == [(1, 2)]


def test_checks_need_a_service(alice_manager, acme_desk):
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/checks/bulk/", [], format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "service"


def test_maintenance_through_the_api(alice_manager, acme_desk, acme_agreement, services):
    row = {
        "external_id": "CHG1",
        "service": services["portal"].name,
        "starts_at": "2026-03-07T21:00:00Z",
        "ends_at": "2026-03-08T00:00:00Z",
    }
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/maintenance/bulk/", [row], format="json"
    )

    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}


def test_body_over_the_limit_answers_413(alice_manager, acme_desk, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/tickets/bulk/",
        [ticket(f"I{i}") for i in range(50)],
        format="json",
    )

    assert response.status_code == 413
    assert "split the batch" in response.json()["detail"]


def test_customers_and_team_members_may_not_ingest(carol_customer, tom_team, acme_desk):
    for user in (carol_customer, tom_team):
        response = api(user).post(
            f"/api/sources/{acme_desk.pk}/tickets/bulk/", [ticket()], format="json"
        )
        assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_unknown_source_answers_404(alice_manager):
    response = api(alice_manager).post("/api/sources/999/tickets/bulk/", [], format="json")

    assert response.status_code == 404


# --- Sources and tickets, read back ----------------------------------------------------------


def test_customer_sees_own_sources_without_the_secret(
    carol_customer, other_org_viewer, acme_desk, alice_manager
):
    own = api(carol_customer).get("/api/sources/").json()["results"]
    assert [s["name"] for s in own] == ["Acme desk"]
    assert "signing_secret" not in own[0]
    assert api(other_org_viewer).get("/api/sources/").json()["results"] == []
    assert api(other_org_viewer).get(f"/api/sources/{acme_desk.pk}/").status_code == 404
    # Managers see a hint of the secret; the secret itself only when created or rotated.
    managed = api(alice_manager).get(f"/api/sources/{acme_desk.pk}/").json()
    assert "signing_secret" not in managed
    assert managed["signing_secret_hint"] == "…" + acme_desk.signing_secret[-4:]


def test_manager_creates_a_source_and_customer_cannot(alice_manager, carol_customer, acme):
    body = {"customer": "acme", "name": "Acme Kuma", "kind": "uptime_kuma", "timezone": "UTC"}
    assert api(carol_customer).post("/api/sources/", body, format="json").status_code == 403
    response = api(alice_manager).post("/api/sources/", body, format="json")
    assert response.status_code == 201, response.content
    bad = api(alice_manager).post("/api/sources/", body | {"timezone": "Mars/Base"}, format="json")
    assert bad.status_code == 400 and "timezone" in bad.json()


def test_tickets_are_scoped_filtered_and_detailed(
    carol_customer,
    other_org_viewer,
    alice_manager,
    acme_desk,
    acme_agreement,
    globex,
    django_assert_max_num_queries,
):
    globex_desk = Source.objects.create(customer=globex, name="Globex desk", timezone="UTC")
    history = [
        {"at": "2026-03-02T09:00:00Z", "status": "New"},
        {"at": "2026-03-02T09:10:00Z", "status": "Awaiting customer", "pauses_clock": True},
    ]
    tickets_ingest(
        acme_desk,
        [
            ticket("A1", agreement=acme_agreement.reference, priority="P1", status_history=history),
            ticket("A2", priority="P2", opened_at="2026-04-01T09:00:00Z"),
        ],
    )
    tickets_ingest(globex_desk, [ticket("G1")])

    with django_assert_max_num_queries(6):
        listed = api(carol_customer).get("/api/tickets/").json()["results"]
    assert sorted(t["external_id"] for t in listed) == ["A1", "A2"]
    assert [
        t["external_id"] for t in api(other_org_viewer).get("/api/tickets/").json()["results"]
    ] == ["G1"]
    assert len(api(alice_manager).get("/api/tickets/").json()["results"]) == 3

    def ids(query: str) -> list[str]:
        return [
            t["external_id"]
            for t in api(carol_customer).get(f"/api/tickets/?{query}").json()["results"]
        ]

    assert ids(f"agreement={acme_agreement.pk}") == ["A1"]
    assert ids("priority=P2") == ["A2"]
    assert ids("opened_before=2026-03-31T00:00:00Z") == ["A1"]
    assert ids("state=open") == ["A2", "A1"]

    a1 = Ticket.objects.get(external_id="A1")
    detail = api(carol_customer).get(f"/api/tickets/{a1.pk}/").json()
    assert detail["agreement_reference"] == acme_agreement.reference
    assert len(detail["status_history"]) == 2 and detail["pauses"][0]["end"] is None
    g1 = Ticket.objects.get(external_id="G1")
    assert api(carol_customer).get(f"/api/tickets/{g1.pk}/").status_code == 404
