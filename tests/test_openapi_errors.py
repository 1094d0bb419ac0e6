"""The schema documents every operation's error answers, and the filters the schemathesis run
caught answering 500 answer 200 or 400 (the run itself: tests/test_api_schemathesis.py)."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    body = response.json()
    validate_schema(body)
    return body


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_refusal_throttling_and_database_outage(schema):
    for label, operation in _operations(schema):
        responses = operation["responses"]
        assert {"403", "429", "503"} <= set(responses), label
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], (label, status)
        error = responses["503"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}, label


def test_rows_pages_filters_and_bodies_document_their_errors(schema):
    for label, operation in _operations(schema):
        method, path = label.split(" ", 1)
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if "{" in path or "page" in query:
            assert "404" in operation["responses"], label
        if method == "GET" and query - {"page", "format"}:
            assert "400" in operation["responses"], label
        if "requestBody" in operation:
            assert "415" in operation["responses"], label


def test_times_are_patterns_without_an_offset(schema):
    hours = schema["components"]["schemas"]["CalendarHours"]["properties"]
    assert "format" not in hours["start"]
    assert hours["start"]["pattern"].startswith("^([01][0-9]|2[0-3])")


def test_a_source_is_documented_as_either_view(schema):
    seen = schema["components"]["schemas"]["SourceAsSeen"]
    assert seen == {
        "anyOf": [
            {"$ref": "#/components/schemas/Source"},
            {"$ref": "#/components/schemas/CustomerSource"},
        ]
    }


def test_timestamp_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(alice_manager):
    client = APIClient()
    client.force_authenticate(alice_manager)
    # -20:27 is a valid ISO 8601 offset for Python; PostgreSQL accepts only up to ±15:59.
    for url in (
        "/api/tickets/?opened_after=2026-03-02T09:00:00-20:27",
        "/api/compliance/?period_start_before=0196-05-24T16:00:40-20:27",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)


def test_timestamp_filter_that_leaves_the_calendar_in_utc_is_a_400(alice_manager):
    client = APIClient()
    client.force_authenticate(alice_manager)
    response = client.get("/api/tickets/?opened_after=0001-01-01T00:30:00%2B05:00")
    assert response.status_code == 400
    assert "opened_after" in response.json()
