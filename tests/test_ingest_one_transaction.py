"""A small ticket batch sent in autocommit (the API) is written with its receipt stamp and
its evaluation nudge in one transaction: one commit and one round trip.
Inside a caller's transaction (webhooks, imports) the stamp and the nudge wait for that
caller's commit, as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from monitoring.evaluation import trigger
from monitoring.ingest import IngestResult
from monitoring.ingest import upsert as upsert_module
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import EvaluationRequest, Source, Ticket
from monitoring.tasks import evaluate_changed
from sla_portal.core.tokens import create_token_for_tests

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-script path"),
]

OPENED = "2026-03-02T09:00:00Z"


def row(external_id: str, reference: str, **extra) -> dict:
    return {"external_id": external_id, "agreement": reference, "opened_at": OPENED, **extra}


def request_row() -> EvaluationRequest:
    return EvaluationRequest.objects.get(name=trigger.NAME)


def test_one_ticket_through_the_api_is_one_statement_after_the_lookups(
    active_acme_agreement, acme_desk, alice_manager, django_assert_max_num_queries
):
    """Token, source, the customer's agreements, then the write script (no BEGIN or COMMIT
    of its own, no stamp or nudge after it): four statements."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_token_for_tests(alice_manager)}")
    url = f"/api/sources/{acme_desk.pk}/tickets/bulk/"
    client.post(url, [row("warm", active_acme_agreement.reference)], format="json")
    with (
        mock.patch.object(evaluate_changed, "delay"),
        django_assert_max_num_queries(4) as captured,
    ):
        response = client.post(url, [row("INC-1", active_acme_agreement.reference)], format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert not [q for q in captured.captured_queries if q["sql"] in ("BEGIN", "COMMIT")]
    ticket = Ticket.objects.get(external_id="INC-1")
    assert ticket.evaluated_at is None  # marked for the evaluation


def test_the_batch_stamps_the_source_and_records_the_request_in_its_own_commit(
    active_acme_agreement, acme_desk
):
    agreement = str(active_acme_agreement.pk)
    with mock.patch.object(evaluate_changed, "delay") as delay:
        assert tickets_ingest(acme_desk, [row("a", active_acme_agreement.reference)]) == (
            IngestResult(created=1)
        )
        # The first nudge of the database creates the row and queues the task.
        assert delay.call_count == 1
        first = request_row()
        assert (first.sequence, first.agreements) == (1, {agreement: 1})
        assert first.queued_at is not None

        tickets_ingest(acme_desk, [row("b", active_acme_agreement.reference)])
        assert delay.call_count == 1  # a task is outstanding: recorded, not queued
        second = request_row()
        assert (second.sequence, second.agreements) == (2, {agreement: 2})
        assert second.queued_at == first.queued_at

        # An unchanged re-send changes nothing, so it nudges nothing.
        assert tickets_ingest(acme_desk, [row("b", active_acme_agreement.reference)]) == (
            IngestResult(unchanged=1)
        )
        assert request_row().sequence == 2

        trigger.take_request()  # the task starts: the next change queues the next task
        tickets_ingest(acme_desk, [row("b", active_acme_agreement.reference, priority="P2")])
        assert delay.call_count == 2
        assert request_row().queued_at is not None

    acme_desk.refresh_from_db()
    assert acme_desk.last_received_at is not None
    # The evidence of pushed data is its newest time (never after the receipt).
    assert acme_desk.last_data_at == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_a_batch_without_agreements_nudges_with_none(acme, acme_desk):
    with mock.patch.object(evaluate_changed, "delay") as delay:
        tickets_ingest(acme_desk, [{"external_id": "loose", "opened_at": OPENED}])
    assert delay.call_count == 1
    assert request_row().agreements == {}


def test_a_large_batch_stamps_and_nudges_after_its_commit(active_acme_agreement, acme_desk):
    """Beyond 20 tickets the batch streams COPY in a transaction of its own, and the stamp
    and the nudge follow its commit (which checks thousands of deferred foreign keys: the
    two rows are not held locked for that)."""
    rows = [row(f"t{n}", active_acme_agreement.reference) for n in range(60)]
    with mock.patch.object(evaluate_changed, "delay") as delay:
        assert tickets_ingest(acme_desk, rows) == IngestResult(created=60)
    assert delay.call_count == 1
    assert request_row().agreements == {str(active_acme_agreement.pk): 1}
    assert Ticket.objects.filter(evaluated_at__isnull=True).count() == 60
    assert Source.objects.get(pk=acme_desk.pk).last_received_at is not None


def test_a_failing_script_writes_neither_tickets_nor_stamp_nor_nudge(
    active_acme_agreement, acme_desk, monkeypatch
):
    """Everything of the batch is one transaction: when a later statement of the script
    fails, the tickets written before it are gone too."""
    broken = ("UPDATE monitoring_source SET no_such_column = 1 WHERE id = %s", [acme_desk.pk])
    real = upsert_module.tickets_upsert

    def with_broken_tail(*args, **kwargs):
        kwargs["after"] = [*kwargs.get("after", ()), broken]
        return real(*args, **kwargs)

    monkeypatch.setattr("monitoring.ingest.tickets.tickets_upsert", with_broken_tail)
    history = [{"at": OPENED, "status": "New"}]
    for size, extra in ((1, {}), (20, {}), (3, {"status_history": history})):
        # One statement; the largest batch of one statement; the staged script.
        rows = [row(f"t{n}", active_acme_agreement.reference, **extra) for n in range(size)]
        with pytest.raises(Exception, match="no_such_column"):
            tickets_ingest(acme_desk, rows)
        assert not Ticket.objects.exists()
        assert not EvaluationRequest.objects.exists()
        assert Source.objects.get(pk=acme_desk.pk).last_received_at is None


def test_inside_a_callers_transaction_the_stamp_and_nudge_wait_for_its_commit(
    active_acme_agreement, acme_desk
):
    with mock.patch.object(evaluate_changed, "delay") as delay:
        with transaction.atomic():
            tickets_ingest(acme_desk, [row("a", active_acme_agreement.reference)])
            assert not EvaluationRequest.objects.exists()
            assert Source.objects.get(pk=acme_desk.pk).last_received_at is None
        assert delay.call_count == 1
    assert request_row().agreements == {str(active_acme_agreement.pk): 1}
    assert Source.objects.get(pk=acme_desk.pk).last_received_at is not None


def test_the_one_statement_nudge_and_the_python_nudge_record_the_same(
    active_acme_agreement, acme_desk
):
    """``record_request_sql`` (in the batch) and ``record_request`` (after a caller's commit)
    leave the same row behind, whichever creates it, and agree on queueing."""
    agreement = str(active_acme_agreement.pk)

    def by_sql(now: datetime) -> bool:
        sql, params = trigger.record_request_sql(f"SELECT '{agreement}'::text", "TRUE", now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    now = datetime.now(UTC)
    later = now + timedelta(seconds=1)
    assert trigger.record_request([active_acme_agreement.pk], now) is True
    assert trigger.record_request([active_acme_agreement.pk], later) is False
    python = request_row()
    EvaluationRequest.objects.all().delete()
    assert by_sql(now) is True
    assert by_sql(later) is False
    sql = request_row()
    assert (sql.sequence, sql.agreements, sql.queued_at) == (
        python.sequence,
        python.agreements,
        python.queued_at,
    )
    assert sql.agreements == {agreement: 2}
    # A task lost long ago: the next nudge queues another, either way.
    lost = now + trigger.LOST_AFTER * 2
    assert by_sql(lost) is True
    assert request_row().queued_at == lost


def test_an_empty_batch_still_stamps_the_receipt_and_nudges_nothing(acme_desk):
    """As before the batch got its own transaction: an empty list is a sign of life."""
    with mock.patch.object(evaluate_changed, "delay") as delay:
        assert tickets_ingest(acme_desk, []) == IngestResult()
    assert delay.call_count == 0
    assert not EvaluationRequest.objects.exists()
    assert Source.objects.get(pk=acme_desk.pk).last_received_at is not None
