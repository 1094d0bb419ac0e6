"""The PostgreSQL ingest path (COPY into staging, INSERT … ON CONFLICT) against the ORM path.

Both paths must store the same rows, count the same created/updated/unchanged, mark the same
tickets for evaluation and nudge the evaluation with the same ids, for any input: texts with
tabs, newlines, backslashes and non-ASCII characters (COPY's escaping), NULLs, naive and
offset timestamps, histories with equal instants, consecutive and still-running pauses."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agreements.models import Service
from monitoring.ingest import IngestError, IngestResult
from monitoring.ingest import tickets as tickets_module
from monitoring.ingest import uptime as uptime_module
from monitoring.ingest.digest import legacy_digest, ticket_digest
from monitoring.ingest.history import StatusEntry
from monitoring.ingest.tickets import _validate, tickets_ingest
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Outage, Source, Ticket, UptimeCheck

pytestmark = pytest.mark.django_db
copy_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY path runs on PostgreSQL only"
)

AWKWARD = "Tab\there, line\nbreak, CR\r, back\\slash \\N, ünïcødé ✓ 🚀, quote ' \" |;:~"


def history(*entries: tuple[str, str, bool, bool]) -> list[dict]:
    return [
        {"at": at, "status": status, "pauses_clock": pauses, "resolves": resolves}
        for at, status, pauses, resolves in entries
    ]


def batch(reference: str, service: str) -> list[dict]:
    """Rows that exercise every value kind and every pause rule."""
    return [
        {
            "external_id": "INC-1",
            "opened_at": "2026-03-02T09:00:00Z",
            "agreement": reference,
            "priority": "p1",
            "category": AWKWARD,
            "title": AWKWARD,
            "assignee": "Zoë \\ O'Brien",
            "csat": 5,
            "resolved_at": "2026-03-02T12:00:00.123456+02:00",
            "status_history": history(
                ("2026-03-02T09:00:00Z", "New", False, False),
                ("2026-03-02T09:30:00Z", "Awaiting\tcustomer\n", True, False),
                ("2026-03-02T09:45:00Z", "Awaiting vendor ✓", True, False),
                ("2026-03-02T10:00:00Z", "In progress", False, False),
                # Equal instants keep their order: a pause of no length.
                ("2026-03-02T10:30:00Z", "On hold", True, False),
                ("2026-03-02T10:30:00Z", "Back", False, False),
                ("2026-03-02T10:00:00.123456+02:00", "Resolved", False, True),
            ),
        },
        {
            # Naive timestamps in the source's zone; every optional value absent or NULL.
            "external_id": "INC-2 ✓\\",
            "opened_at": "2026-07-01T08:00:00",
            "service": service,
            "first_response_at": None,
            "resolved_at": "",
            "csat": None,
            "reopen_count": "3",
        },
        {
            "external_id": "INC-3",
            "opened_at": "2026-01-05T23:59:59.999999-05:00",
            "closed_at": "2026-01-07T00:00:00Z",
            "status_history": [],
        },
        {
            "external_id": "INC-4",
            "opened_at": "2026-03-02T09:00:00Z",
            "status_history": history(
                ("2026-03-02T09:10:00Z", "Waiting", True, False),
                ("2026-03-02T09:00:00Z", "New", False, False),
            ),
        },
    ]


def changed(rows: list[dict]) -> list[dict]:
    """The same batch with two tickets changed: one value, and a history dropped."""
    rows = [dict(row) for row in rows]
    rows[0]["csat"] = 4
    rows[3]["status_history"] = history(("2026-03-02T09:00:00Z", "New", False, False))
    return rows


def snapshot(source: Source) -> dict:
    """Every stored fact of a source's tickets, keyed by external id."""
    stored = {}
    for t in Ticket.objects.filter(source=source).order_by("external_id"):
        stored[t.external_id] = {
            "values": [
                getattr(t, name)
                for name in (
                    "customer_id",
                    "agreement_id",
                    "service_id",
                    "priority",
                    "category",
                    "title",
                    "assignee",
                    "state",
                    "opened_at",
                    "first_response_at",
                    "resolved_at",
                    "closed_at",
                    "reopen_count",
                    "csat",
                    "ingest_digest",
                )
            ],
            "marked": t.evaluated_at is None,
            "history": list(
                t.status_changes.order_by("at", "id").values_list(
                    "at", "status", "pauses_clock", "resolves"
                )
            ),
            "pauses": list(t.pauses.order_by("start").values_list("start", "end", "reason")),
        }
    return stored


@pytest.fixture
def orm_path(monkeypatch):
    """Force the ORM path (the one SQLite uses) while on PostgreSQL."""

    def use() -> None:
        monkeypatch.setattr(tickets_module, "uses_copy", lambda: False)
        monkeypatch.setattr(uptime_module, "uses_copy", lambda: False)

    return use


@pytest.fixture
def nudges(monkeypatch):
    calls: list[tuple[str, list[int]]] = []
    for module in (tickets_module, uptime_module):
        monkeypatch.setattr(module, "notify_changed", lambda kind, ids: calls.append((kind, ids)))
    return calls


def run_sequence(source, rows, capture, nudges) -> tuple[list, list, list]:
    """Create, re-send, change; after each: the counts, the stored facts, the nudged ids."""
    results, snapshots, nudged = [], [], []
    for sent in (rows, rows, changed(rows), changed(rows)):
        nudges.clear()
        with capture(execute=True):
            results.append(tickets_ingest(source, sent))
        snapshots.append(snapshot(source))
        by_id = dict(Ticket.objects.filter(source=source).values_list("pk", "external_id"))
        nudged.append(sorted(by_id[pk] for _, ids in nudges for pk in ids))
        # Evaluation clears the marks between batches.
        Ticket.objects.filter(source=source).update(evaluated_at=datetime(2026, 9, 1, tzinfo=UTC))
    return results, snapshots, nudged


@copy_only
def test_copy_path_stores_exactly_what_the_orm_path_stores(
    acme_desk, acme_agreement, services, orm_path, nudges, django_capture_on_commit_callbacks
):
    rows = batch(acme_agreement.reference, services["portal"].name)
    other = Source.objects.create(
        customer=acme_desk.customer, name="Second desk", timezone=acme_desk.timezone
    )

    copy = run_sequence(acme_desk, rows, django_capture_on_commit_callbacks, nudges)
    orm_path()
    orm = run_sequence(other, rows, django_capture_on_commit_callbacks, nudges)

    assert copy == orm
    results, snapshots, nudged = copy
    assert results == [
        IngestResult(created=4, updated=0, unchanged=0),
        IngestResult(created=0, updated=0, unchanged=4),
        IngestResult(created=0, updated=2, unchanged=2),
        IngestResult(created=0, updated=0, unchanged=4),
    ]
    assert nudged == [sorted(snapshots[0]), [], ["INC-1", "INC-4"], []]
    first = snapshots[0]["INC-1"]
    assert first["values"][4:6] == [AWKWARD, AWKWARD]
    assert first["history"][2][1] == "Awaiting\tcustomer"  # stripped like every text value
    assert first["pauses"] == [
        (
            datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
            datetime(2026, 3, 2, 10, tzinfo=UTC),
            "Awaiting\tcustomer",
        ),
        (
            datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
            datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
            "On hold",
        ),
    ]
    assert snapshots[0]["INC-4"]["pauses"] == [
        (datetime(2026, 3, 2, 9, 10, tzinfo=UTC), None, "Waiting")
    ]
    assert snapshots[2]["INC-4"]["pauses"] == []
    second = snapshots[0]["INC-2 ✓\\"]["values"]
    assert second[8] == datetime(2026, 7, 1, 6, tzinfo=UTC)  # Berlin summer time
    assert second[9:12] == [None, None, None] and second[13] is None
    assert snapshots[2]["INC-1"]["marked"] and not snapshots[2]["INC-2 ✓\\"]["marked"]


@copy_only
def test_a_small_batch_without_history_is_one_statement_and_stores_what_the_orm_path_stores(
    acme_desk, acme_agreement, services, orm_path, nudges, django_capture_on_commit_callbacks
):
    """Up to 20 tickets without ``status_history`` are written by one statement without
    staging tables; it stores, counts, marks and nudges what the ORM path does, and leaves
    a history stored earlier alone."""
    rows = [
        {k: v for k, v in row.items() if k != "status_history"}
        for row in batch(acme_agreement.reference, services["portal"].name)
    ]
    other = Source.objects.create(
        customer=acme_desk.customer, name="Second desk", timezone=acme_desk.timezone
    )
    with_history = {
        **rows[0],
        "status_history": history(("2026-03-02T09:00:00Z", "New", False, False)),
    }
    for source in (acme_desk, other):
        tickets_ingest(source, [with_history])  # a stored history the batches must keep
    Ticket.objects.update(evaluated_at=datetime(2026, 9, 1, tzinfo=UTC))

    def changed_values(rows: list[dict]) -> list[dict]:
        rows = [dict(row) for row in rows]
        rows[0]["csat"] = 4
        rows[2]["title"] = "Retitled"
        return rows

    def sequence(source, one_statement: bool) -> tuple[list, list, list]:
        results, snapshots, nudged = [], [], []
        for sent in (rows, rows, changed_values(rows), changed_values(rows)):
            nudges.clear()
            with (
                django_capture_on_commit_callbacks(execute=True),
                CaptureQueriesContext(connection) as captured,
            ):
                results.append(tickets_ingest(source, sent))
            writes = [q["sql"] for q in captured.captured_queries if "INSERT" in q["sql"]]
            if one_statement:
                assert len(writes) == 1 and "TEMPORARY" not in writes[0]
            snapshots.append(snapshot(source))
            by_id = dict(Ticket.objects.filter(source=source).values_list("pk", "external_id"))
            nudged.append(sorted(by_id[pk] for _, ids in nudges for pk in ids))
            Ticket.objects.filter(source=source).update(
                evaluated_at=datetime(2026, 9, 1, tzinfo=UTC)
            )
        return results, snapshots, nudged

    one_statement = sequence(acme_desk, True)
    orm_path()
    orm = sequence(other, False)
    assert one_statement == orm
    results, snapshots, nudged = one_statement
    assert results == [
        IngestResult(created=3, updated=1, unchanged=0),
        IngestResult(created=0, updated=0, unchanged=4),
        IngestResult(created=0, updated=2, unchanged=2),
        IngestResult(created=0, updated=0, unchanged=4),
    ]
    assert nudged[2] == sorted([rows[0]["external_id"], rows[2]["external_id"]])
    assert snapshots[3]["INC-1"]["history"] == [
        (datetime(2026, 3, 2, 9, tzinfo=UTC), "New", False, False)
    ]


@copy_only
def test_sql_digest_equals_the_python_formula(acme_desk, acme_agreement, services):
    rows = batch(acme_agreement.reference, services["portal"].name)
    tickets_ingest(acme_desk, rows)

    stored = dict(Ticket.objects.values_list("external_id", "ingest_digest"))
    expected = {
        t.external_id: ticket_digest(t.values, t.history) for t in _validate(acme_desk, rows)
    }
    assert stored == expected


def test_history_absent_and_history_empty_are_different_sends(acme_desk):
    row = {"external_id": "INC-1", "opened_at": "2026-03-02T09:00:00Z"}
    tickets_ingest(acme_desk, [row])

    assert tickets_ingest(acme_desk, [{**row, "status_history": []}]).updated == 1
    assert tickets_ingest(acme_desk, [{**row, "status_history": []}]).unchanged == 1
    assert tickets_ingest(acme_desk, [row]).updated == 1


def test_several_batches_in_one_transaction(acme_desk):
    with transaction.atomic():
        first = tickets_ingest(acme_desk, [{"external_id": "A", "opened_at": "2026-03-02T09:00Z"}])
        second = tickets_ingest(acme_desk, [{"external_id": "B", "opened_at": "2026-03-02T09:00Z"}])

    assert (first.created, second.created) == (1, 1)
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize(
    ("value", "reason"),
    [("nul \x00 inside", "NUL character"), ("lone \ud800 surrogate", "not valid Unicode")],
)
def test_text_the_database_cannot_store_is_a_row_error(acme_desk, value, reason):
    rows = [
        {"external_id": "OK", "opened_at": "2026-03-02T09:00:00Z"},
        {"external_id": "BAD", "opened_at": "2026-03-02T09:00:00Z", "title": value},
    ]
    with pytest.raises(IngestError) as caught:
        tickets_ingest(acme_desk, rows)

    [error] = caught.value.errors
    assert (error.index, error.field) == (1, "title") and reason in error.reason
    assert not Ticket.objects.exists()


# --- The digest migration -------------------------------------------------------------------


def recompute(apps_, schema_editor) -> None:
    migration = importlib.import_module("monitoring.migrations.0016_ticket_digest_canonical")
    migration.recompute_digests(apps_, schema_editor)


def test_unchanged_resend_after_upgrade_stays_unchanged(acme_desk, acme_agreement, services):
    """Rows stored with the old digest formula: after the migration an unchanged re-send is
    still "unchanged", whatever history the last send had, and a row edited outside the
    ingest is written again."""
    rows = batch(acme_agreement.reference, services["portal"].name)
    later = [dict(rows[0]), *rows[1:]]
    del later[0]["status_history"]  # the last send of INC-1 had no history: the stored one stays
    tickets_ingest(acme_desk, rows)
    tickets_ingest(acme_desk, later)
    # As the previous release stored them.
    for t in _validate(acme_desk, later):
        Ticket.objects.filter(external_id=t.external_id).update(
            ingest_digest=legacy_digest(t.values, t.history)
        )
    Ticket.objects.filter(external_id="INC-3").update(title="edited in the admin")
    assert tickets_ingest(acme_desk, later).updated == 4  # what an upgrade without it does
    for t in _validate(acme_desk, later):
        Ticket.objects.filter(external_id=t.external_id).update(
            ingest_digest=legacy_digest(t.values, t.history)
        )
    Ticket.objects.filter(external_id="INC-3").update(title="edited in the admin")

    recompute(apps, SimpleNamespace(connection=connection))

    assert tickets_ingest(acme_desk, later) == IngestResult(created=0, updated=1, unchanged=3)
    assert Ticket.objects.get(external_id="INC-3").title == ""


def test_legacy_digest_is_the_previous_formula():
    """The previous release's formula (values pinned from it), so the migration recognises
    the digests it stored."""
    values = {
        "opened_at": datetime(2026, 3, 2, 9, tzinfo=UTC),
        "priority": "P1",
        "csat": None,
        "title": "ünï",
    }
    entry = StatusEntry(datetime(2026, 3, 2, 9, tzinfo=UTC), "New")
    assert legacy_digest(values, None) == "e4afe6d847418853b91647a6b92cc50f"
    assert legacy_digest(values, [entry]) == "751032a56589efbdae80906fd25c3d59"


# --- Checks ---------------------------------------------------------------------------------


def check_rows(start: datetime, statuses: str) -> list[dict]:
    codes = {"u": "up", "d": "down", "m": "maintenance"}
    return [
        {
            "checked_at": (start + timedelta(minutes=i)).isoformat(),
            "status": codes[s],
            "response_ms": None if s != "u" else 100 + (start + timedelta(minutes=i)).minute,
        }
        for i, s in enumerate(statuses)
    ]


def checks_sequence(source, service, nudges) -> list:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    sends = [
        check_rows(start, "uuddduumddmuud"),
        check_rows(start, "uuddduumddmuud"),  # unchanged
        check_rows(start + timedelta(minutes=5), "duu"),  # partly changed, overlapping
        check_rows(start + timedelta(minutes=20), "dmd"),  # an open outage after a gap
        check_rows(start - timedelta(minutes=3), "ddu"),  # before the first
    ]
    seen = []
    for rows in sends:
        result = checks_ingest(source, service, rows)
        seen.append(
            (
                result,
                list(
                    UptimeCheck.objects.filter(service=service)
                    .order_by("checked_at")
                    .values_list("checked_at", "status", "response_ms", "source_id")
                ),
                list(
                    Outage.objects.filter(service=service)
                    .order_by("started_at")
                    .values_list("started_at", "ended_at", "source_id", "cause")
                ),
            )
        )
    return seen


@copy_only
def test_checks_copy_path_matches_the_orm_path(
    acme_desk, acme_agreement, services, orm_path, nudges
):
    twin = Service.objects.create(name="Portal twin", owner=services["portal"].owner)
    acme_agreement.services.add(twin)

    copy = checks_sequence(acme_desk, services["portal"], nudges)
    orm_path()
    orm = checks_sequence(acme_desk, twin, nudges)

    assert copy == orm
    assert [r for r, _, _ in copy] == [
        IngestResult(14, 0, 0),
        IngestResult(0, 0, 14),
        IngestResult(0, 2, 1),
        IngestResult(3, 0, 0),
        IngestResult(3, 0, 0),
    ]
    assert copy[-1][2][-1][1] is None  # still down


# --- The source's receipt stamp -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_receipt_is_stamped_after_commit_and_evidence_never_moves_back(acme):
    """In autocommit (as in production) the stamp is written in the batch's own transaction
    (``tickets_ingest``'s one script); the evidence only moves forward."""
    feed = Source.objects.create(
        customer=acme, name="Imported desk", kind=Source.Kind.CSV, timezone="UTC"
    )
    row = {"external_id": "INC-1", "opened_at": "2026-03-02T09:00:00Z"}

    tickets_ingest(feed, [row])
    feed.refresh_from_db()
    assert feed.last_received_at is not None
    assert feed.last_data_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
    first_stale = feed.stale_at

    tickets_ingest(feed, [{**row, "external_id": "INC-0", "opened_at": "2026-01-01T00:00:00Z"}])
    feed.refresh_from_db()
    assert feed.last_data_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert feed.stale_at == first_stale


def test_an_empty_batch_of_tickets_or_checks_writes_nothing_and_answers(
    acme_desk, acme_agreement, services
):
    """An empty list is a valid batch on either write path: nothing stored, nothing changed
    (the PostgreSQL path once built an INSERT without rows and answered 500)."""
    assert tickets_ingest(acme_desk, []) == IngestResult()
    assert checks_ingest(acme_desk, services["portal"], []) == IngestResult()
    assert not Ticket.objects.exists() and not UptimeCheck.objects.exists()
