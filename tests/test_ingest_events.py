"""Set-based ingest of error events, measurements and continuity incidents.

Like tickets and maintenance: a batch with any invalid row is refused whole, a valid one is
upserted in bulk, sending it again changes nothing, and services are named among those the
source's customer's agreements cover."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from monitoring.ingest import MAX_BATCH, IngestError, IngestResult, RowError
from monitoring.ingest.events import errors_ingest, incidents_ingest, measurements_ingest
from monitoring.models import ContinuityIncident, ErrorEvent, Measurement

pytestmark = pytest.mark.django_db

NOT_COVERED = "no agreement of the source's customer covers this service"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def portal(acme_agreement, services) -> str:
    return services["portal"].name


def error(external_id: str = "ERR1", **values) -> dict:
    return {
        "external_id": external_id,
        "service": "Customer Portal",
        "category": "Payment failed",
        "occurred_at": "2026-03-02T09:00:00Z",
        **values,
    }


def measurement(hour: int = 9, **values) -> dict:
    return {
        "service": "Customer Portal",
        "name": "p95 page load ms",
        "measured_at": f"2026-03-02T{hour:02d}:00:00Z",
        "value": 812.5,
        **values,
    }


def incident(external_id: str = "DR1", **values) -> dict:
    return {
        "external_id": external_id,
        "service": "Customer Portal",
        "started_at": "2026-03-02T02:00:00Z",
        "recovered_at": "2026-03-02T04:30:00Z",
        "description": "Power loss",
        **values,
    }


def refused(run) -> list[RowError]:
    with pytest.raises(IngestError) as caught:
        run()
    assert not ErrorEvent.objects.exists()
    assert not Measurement.objects.exists()
    assert not ContinuityIncident.objects.exists()
    return caught.value.errors


def test_the_fixture_service_is_the_portal(portal):
    # The row builders name the portal literally; keep them honest.
    assert portal == "Customer Portal"


# --- Error events ----------------------------------------------------------------------------


def test_error_events_are_created_resent_and_updated(acme_desk, portal, services):
    batch = [error("ERR1"), error("ERR2", category="Login failed")]

    assert errors_ingest(acme_desk, batch) == IngestResult(created=2, updated=0, unchanged=0)
    assert errors_ingest(acme_desk, batch) == IngestResult(created=0, updated=0, unchanged=2)

    changed = [error("ERR1", category="Timeout"), error("ERR2", category="Login failed")]
    assert errors_ingest(acme_desk, changed) == IngestResult(created=0, updated=1, unchanged=1)
    first = ErrorEvent.objects.get(external_id="ERR1")
    assert (first.category, first.service, first.source) == (
        "Timeout",
        services["portal"],
        acme_desk,
    )
    assert first.occurred_at == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_resending_writes_no_statement_and_restores_edited_rows(acme_desk, portal):
    errors_ingest(acme_desk, [error("ERR1"), error("ERR2")])

    with CaptureQueriesContext(connection) as queries:
        assert errors_ingest(acme_desk, [error("ERR1"), error("ERR2")]) == IngestResult(0, 0, 2)
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert writes == []

    ErrorEvent.objects.filter(external_id="ERR1").update(category="Edited elsewhere")
    assert errors_ingest(acme_desk, [error("ERR1"), error("ERR2")]) == IngestResult(0, 1, 1)
    assert ErrorEvent.objects.get(external_id="ERR1").category == "Payment failed"


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({k: v for k, v in error().items() if k != "external_id"}, "external_id", "required"),
        (error(service=""), "service", "required"),
        (error(service="No such service"), "service", NOT_COVERED),
        (error(category=""), "category", "required"),
        (error(category="x" * 81), "category", "longer than 80"),
        (error(occurred_at=None), "occurred_at", "required"),
        (error(occurred_at="yesterday"), "occurred_at", "not an ISO-8601 timestamp"),
        ("not an object", "", "expected an object"),
    ],
)
def test_each_invalid_error_row_is_reported_and_nothing_is_written(
    acme_desk, portal, row, field, reason
):
    errors = refused(lambda: errors_ingest(acme_desk, [error("OK"), row]))

    assert len(errors) == 1
    assert (errors[0].index, errors[0].field) == (1, field)
    assert reason in errors[0].reason


def test_duplicate_error_external_id_in_a_batch_is_refused(acme_desk, portal):
    errors = refused(lambda: errors_ingest(acme_desk, [error("E"), error("E")]))

    assert errors == [RowError(1, "external_id", "duplicate of row 0 in this batch")]


def test_every_bad_row_is_listed(acme_desk, portal):
    batch = [error("A", category=""), error("B"), error("C", occurred_at="?")]

    errors = refused(lambda: errors_ingest(acme_desk, batch))

    assert [(e.index, e.field) for e in errors] == [(0, "category"), (2, "occurred_at")]


# --- Measurements ----------------------------------------------------------------------------


def test_measurements_are_upserted_by_service_name_and_time(acme_desk, portal, services):
    batch = [measurement(9), measurement(10, value=901), measurement(9, name="errors per hour")]

    assert measurements_ingest(acme_desk, batch) == IngestResult(3, 0, 0)
    assert measurements_ingest(acme_desk, batch) == IngestResult(0, 0, 3)
    assert measurements_ingest(acme_desk, [measurement(10, value="905.25")]) == IngestResult(
        0, 1, 0
    )

    stored = Measurement.objects.get(measured_at=datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert (stored.value, stored.service, stored.source) == (905.25, services["portal"], acme_desk)
    assert Measurement.objects.count() == 3


def test_the_same_time_written_in_another_zone_is_the_same_measurement(acme_desk, portal):
    measurements_ingest(acme_desk, [measurement(9)])

    again = measurement(measured_at="2026-03-02T10:00:00")  # Berlin: 09:00 UTC
    assert measurements_ingest(acme_desk, [again]) == IngestResult(0, 0, 1)


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (measurement(service="No such service"), "service", NOT_COVERED),
        (measurement(name=""), "name", "required"),
        (measurement(name="x" * 161), "name", "longer than 160"),
        (measurement(measured_at=""), "measured_at", "required"),
        (measurement(measured_at="soon"), "measured_at", "not an ISO-8601 timestamp"),
        (measurement(value=None), "value", "required"),
        (measurement(value="fast"), "value", "expected a number"),
        (measurement(value=True), "value", "expected a number"),
        (measurement(value=[1]), "value", "expected a number"),
        (measurement(value=float("nan")), "value", "finite"),
        (measurement(value="inf"), "value", "finite"),
        (measurement(value="-Infinity"), "value", "finite"),
    ],
)
def test_each_invalid_measurement_is_reported_and_nothing_is_written(
    acme_desk, portal, row, field, reason
):
    errors = refused(lambda: measurements_ingest(acme_desk, [measurement(8), row]))

    assert len(errors) == 1
    assert (errors[0].index, errors[0].field) == (1, field)
    assert reason in errors[0].reason


def test_duplicate_measurement_in_a_batch_is_refused(acme_desk, portal):
    errors = refused(
        lambda: measurements_ingest(
            acme_desk, [measurement(9), measurement(measured_at="2026-03-02T10:00:00+01:00")]
        )
    )

    assert errors == [RowError(1, "measured_at", "duplicate of row 0 in this batch")]


# --- Continuity incidents --------------------------------------------------------------------


def test_incidents_are_created_resent_and_updated(acme_desk, portal):
    open_incident = incident("DR2", recovered_at=None, description="")
    batch = [incident("DR1"), open_incident]

    assert incidents_ingest(acme_desk, batch) == IngestResult(2, 0, 0)
    assert incidents_ingest(acme_desk, batch) == IngestResult(0, 0, 2)
    assert ContinuityIncident.objects.get(external_id="DR2").recovered_at is None

    recovered = open_incident | {"recovered_at": "2026-03-02T06:00:00Z"}
    assert incidents_ingest(acme_desk, [incident("DR1"), recovered]) == IngestResult(0, 1, 1)
    assert ContinuityIncident.objects.get(external_id="DR2").recovered_at == datetime(
        2026, 3, 2, 6, tzinfo=UTC
    )


def test_an_empty_recovery_clears_a_stored_one(acme_desk, portal):
    incidents_ingest(acme_desk, [incident()])

    assert incidents_ingest(acme_desk, [incident(recovered_at="")]) == IngestResult(0, 1, 0)
    assert ContinuityIncident.objects.get().recovered_at is None


def test_recovery_at_the_start_instant_is_allowed(acme_desk, portal):
    row = incident(recovered_at="2026-03-02T02:00:00Z")

    assert incidents_ingest(acme_desk, [row]) == IngestResult(1, 0, 0)


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (incident(external_id=""), "external_id", "required"),
        (incident(external_id="x" * 121), "external_id", "longer than 120"),
        (incident(service="No such service"), "service", NOT_COVERED),
        (incident(started_at=None), "started_at", "required"),
        (incident(started_at="last night"), "started_at", "not an ISO-8601 timestamp"),
        (incident(recovered_at="later"), "recovered_at", "not an ISO-8601 timestamp"),
        (incident(recovered_at="2026-03-02T01:59:59Z"), "recovered_at", "before it started"),
        (incident(description=["a"]), "description", "expected text"),
        (incident(description="x" * 10_001), "description", "longer than 10000"),
    ],
)
def test_each_invalid_incident_is_reported_and_nothing_is_written(
    acme_desk, portal, row, field, reason
):
    errors = refused(lambda: incidents_ingest(acme_desk, [incident("OK"), row]))

    assert len(errors) == 1
    assert (errors[0].index, errors[0].field) == (1, field)
    assert reason in errors[0].reason


def test_duplicate_incident_external_id_in_a_batch_is_refused(acme_desk, portal):
    errors = refused(lambda: incidents_ingest(acme_desk, [incident("DR"), incident("DR")]))

    assert errors == [RowError(1, "external_id", "duplicate of row 0 in this batch")]


# --- Rules shared by the three ---------------------------------------------------------------

INGESTS = pytest.mark.parametrize(
    ("ingest", "row", "time_field"),
    [
        (errors_ingest, error(), "occurred_at"),
        (measurements_ingest, measurement(), "measured_at"),
        (incidents_ingest, incident(recovered_at=None), "started_at"),
    ],
    ids=["errors", "measurements", "incidents"],
)


@INGESTS
def test_another_customers_service_is_refused_like_an_unknown_one(
    acme_desk, portal, globex_agreement, services, ingest, row, time_field
):
    others = refused(lambda: ingest(acme_desk, [row | {"service": services["records"].name}]))
    unknown = refused(lambda: ingest(acme_desk, [row | {"service": "No such service"}]))

    assert others == unknown == [RowError(0, "service", NOT_COVERED)]


@INGESTS
def test_naive_timestamps_are_read_in_the_sources_zone(acme_desk, portal, ingest, row, time_field):
    ingest(acme_desk, [row | {time_field: "2026-03-02T10:00:00"}])

    model = {
        "occurred_at": ErrorEvent,
        "measured_at": Measurement,
        "started_at": ContinuityIncident,
    }[time_field]
    stored = model.objects.get()
    assert getattr(stored, time_field) == datetime(2026, 3, 2, 9, tzinfo=UTC)


@INGESTS
def test_naive_timestamps_are_refused_when_the_source_has_no_zone(
    zoneless_desk, portal, ingest, row, time_field
):
    errors = refused(lambda: ingest(zoneless_desk, [row | {time_field: "2026-03-02T10:00:00"}]))

    assert errors == [
        RowError(0, time_field, "timestamp has no time zone and the source sets none")
    ]


@INGESTS
def test_too_large_batch_is_refused_as_a_whole(acme_desk, ingest, row, time_field):
    errors = refused(lambda: ingest(acme_desk, [{}] * (MAX_BATCH + 1)))

    assert len(errors) == 1 and errors[0].index == -1


@INGESTS
def test_an_empty_batch_writes_nothing(acme_desk, ingest, row, time_field):
    assert ingest(acme_desk, []) == IngestResult()


def test_a_big_batch_is_written_in_few_queries(acme_desk, portal, django_assert_max_num_queries):
    rows = [
        measurement(measured_at=f"2026-03-02T09:{m % 60:02d}:{m // 60:02d}Z") for m in range(3000)
    ]

    with django_assert_max_num_queries(12):
        assert measurements_ingest(acme_desk, rows) == IngestResult(3000, 0, 0)
    with django_assert_max_num_queries(8):
        assert measurements_ingest(acme_desk, rows) == IngestResult(0, 0, 3000)


# --- The API ---------------------------------------------------------------------------------


def test_error_events_through_the_api_as_json(alice_manager, acme_desk, portal):
    url = f"/api/sources/{acme_desk.pk}/errors/bulk/"

    response = api(alice_manager).post(url, [error("E1"), error("E2")], format="json")

    assert response.status_code == 200
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}


def test_measurements_through_the_api_as_csv(alice_manager, acme_desk, portal):
    body = (
        "service,name,measured_at,value\n"
        "Customer Portal,p95 page load ms,2026-03-02T11:00:00,812.5\n"
        "Customer Portal,p95 page load ms,2026-03-02T09:00:00Z,790\n"
    )
    url = f"/api/sources/{acme_desk.pk}/measurements/bulk/"

    response = api(alice_manager).post(url, body, content_type="text/csv")

    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert Measurement.objects.get(value=812.5).measured_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_incidents_through_the_api_as_csv_with_an_empty_recovery(alice_manager, acme_desk, portal):
    body = (
        "external_id,service,started_at,recovered_at,description\n"
        "DR1,Customer Portal,2026-03-02T02:00:00Z,,Still down\n"
    )
    url = f"/api/sources/{acme_desk.pk}/incidents/bulk/"

    response = api(alice_manager).post(url, body, content_type="text/csv")

    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert ContinuityIncident.objects.get().recovered_at is None


def test_incidents_through_the_api_as_ndjson(alice_manager, acme_desk, portal):
    body = "\n".join(json.dumps(incident(f"DR{i}")) for i in range(3))
    url = f"/api/sources/{acme_desk.pk}/incidents/bulk/"

    response = api(alice_manager).post(url, body, content_type="application/x-ndjson")

    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}


def test_bad_rows_answer_400_with_row_errors_and_write_nothing(alice_manager, acme_desk, portal):
    url = f"/api/sources/{acme_desk.pk}/measurements/bulk/"

    response = api(alice_manager).post(
        url, [measurement(9), measurement(10, value="NaN")], format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": 1, "field": "value", "reason": "must be a finite number"}],
        "error_count": 1,
    }
    assert not Measurement.objects.exists()


def test_another_customers_service_answers_400_through_the_api(
    alice_manager, acme_desk, portal, globex_agreement, services
):
    url = f"/api/sources/{acme_desk.pk}/errors/bulk/"

    response = api(alice_manager).post(
        url, [error(service=services["records"].name)], format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "service", "reason": NOT_COVERED}]


@pytest.mark.parametrize("kind", ["errors", "measurements", "incidents"])
def test_body_over_the_limit_answers_413(alice_manager, acme_desk, settings, kind):
    settings.INGEST_MAX_BODY_BYTES = 1000

    response = api(alice_manager).post(
        f"/api/sources/{acme_desk.pk}/{kind}/bulk/",
        [error(f"E{i}") for i in range(50)],
        format="json",
    )

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("kind", "row"),
    [("errors", error()), ("measurements", measurement()), ("incidents", incident())],
)
def test_customers_and_team_members_may_not_ingest(
    carol_customer, tom_team, acme_desk, portal, kind, row
):
    for user in (carol_customer, tom_team):
        response = api(user).post(f"/api/sources/{acme_desk.pk}/{kind}/bulk/", [row], format="json")
        assert response.status_code == 403
    assert not ErrorEvent.objects.exists()
    assert not Measurement.objects.exists()
    assert not ContinuityIncident.objects.exists()


def test_unknown_source_answers_404(alice_manager):
    response = api(alice_manager).post("/api/sources/999/incidents/bulk/", [], format="json")

    assert response.status_code == 404
