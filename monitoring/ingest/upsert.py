"""The PostgreSQL write path of the ingest: COPY into staging, then set-based SQL.

A validated batch is copied into temporary staging tables (``monitoring.ingest.copy``) and
moved into the real tables with ``INSERT … SELECT … ON CONFLICT … DO UPDATE … WHERE
<changed>``; ``RETURNING (xmax = 0)`` tells created rows from updated ones, and rows whose
values did not change are not written at all. For tickets, the idempotency digest
(``monitoring.ingest.digest``), the status history and the clock pauses derived from it are
computed in SQL from the staging tables. Everything runs inside the caller's transaction.
The staging tables are created once per database connection and emptied at each commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from monitoring.evaluation.trigger import record_request_sql
from monitoring.ingest.copy import copy_into, flag, moment, number, text
from monitoring.ingest.digest import DIGEST_FIELDS
from monitoring.ingest.history import StatusEntry
from monitoring.models import Outage, Ticket, TicketPause, TicketStatusChange, UptimeCheck

TICKET_STAGE = "ingest_ticket_stage"
HISTORY_STAGE = "ingest_history_stage"
CHANGED_STAGE = "ingest_ticket_changed"
CHECK_STAGE = "ingest_check_stage"

_TEXT = ("priority", "category", "title", "assignee", "state")
_TIME = ("opened_at", "first_response_at", "resolved_at", "closed_at")
_TYPES = {name: "text" for name in _TEXT} | {name: "timestamptz" for name in _TIME}
TICKET_COLUMNS = ("external_id", *DIGEST_FIELDS, "has_history")
HISTORY_COLUMNS = ("external_id", "pos", "at", "status", "pauses_clock", "resolves")


def _stage_sql(tables: dict[str, str]) -> str:
    """SQL making the staging tables ``{name: columns}`` ready and empty.

    They live as long as the database connection (persistent connections keep them between
    requests: creating three tables per request cost more than a one-ticket batch) and are
    emptied at every commit; the DELETE empties them for a second batch in one transaction."""
    return "".join(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS;"
        f" DELETE FROM {name};"
        for name, columns in tables.items()
    )


# Below this many rows the staging tables are not analysed: the plans are small anyway.
ANALYZE_FROM = 500
# Up to this many tickets the staging rows are sent as INSERT … VALUES with the rest of the
# script (one round trip); larger batches are streamed with COPY.
INLINE_UP_TO = 20


# The digest's canonical text (monitoring.ingest.digest) in SQL.
def _text_part(expression: str) -> str:
    return f"coalesce(char_length({expression})::text || ':' || {expression}, '~')"


def _time_part(expression: str) -> str:
    return f"coalesce(((extract(epoch from {expression}) * 1000000)::bigint)::text, '~')"


def _int_part(expression: str) -> str:
    return f"coalesce(({expression})::text, '~')"


def _bool_part(expression: str) -> str:
    return f"(CASE WHEN {expression} THEN 't' ELSE 'f' END)"


def _value_part(name: str) -> str:
    column = f"s.{name}"
    if name in _TEXT:
        return _text_part(column)
    if name in _TIME:
        return _time_part(column)
    return _int_part(column)


_ENTRY_PART = " || ',' || ".join(
    [_time_part("at"), _text_part("status"), _bool_part("pauses_clock"), _bool_part("resolves")]
)
DIGEST_SQL = (
    "md5("
    + " || '|' || ".join(_value_part(name) for name in DIGEST_FIELDS)
    + " || '|' || (CASE WHEN s.has_history THEN '[' || coalesce(h.entries, '') || ']'"
    " ELSE '~' END))"
)


def _ticket_line(row: tuple[str, dict[str, Any], list[StatusEntry] | None]) -> str:
    # Written out per column (in TICKET_COLUMNS order): a generic per-value formatter was a
    # third of the ingest's CPU.
    external_id, v, history = row
    return (
        f"{text(external_id)}\t{number(v['agreement_id'])}\t{number(v['service_id'])}"
        f"\t{text(v['priority'])}\t{text(v['category'])}\t{text(v['title'])}"
        f"\t{text(v['assignee'])}\t{text(str(v['state']))}\t{v['opened_at'].isoformat()}"
        f"\t{moment(v['first_response_at'])}\t{moment(v['resolved_at'])}"
        f"\t{moment(v['closed_at'])}\t{v['reopen_count']}\t{number(v['csat'])}"
        f"\t{flag(history is not None)}\n"
    )


def _history_line(external_id: str, pos: int, entry: StatusEntry) -> str:
    return (
        f"{external_id}\t{pos}\t{entry.at.isoformat()}\t{text(entry.status)}"
        f"\t{flag(entry.pauses_clock)}\t{flag(entry.resolves)}\n"
    )


def tickets_upsert(
    source_id: int,
    customer_id: int,
    rows: Sequence[tuple[str, dict[str, Any], list[StatusEntry] | None]],
    now: datetime,
    *,
    after: Sequence[tuple[str, list[Any]]] = (),
    nudge: bool = False,
) -> tuple[list[int], list[int], bool]:
    """Upsert cleaned tickets ``(external_id, values, history or None)`` of one source.

    Returns the ids of the tickets created and of those updated, and whether a task must be
    queued (below); rows whose digest equals the stored one are left alone. A sent history
    replaces the stored status changes and pauses of each created or updated ticket; changed
    tickets get ``changed_at = now`` and ``evaluated_at = NULL`` (the evaluation mark) in the
    same statement.

    ``after``: statements ``(sql, params)`` run at the end of the same script (the source's
    receipt stamp). ``nudge``: record the evaluation request of the changed tickets'
    agreements in the same script (``monitoring.evaluation.trigger.record_request_sql``);
    the third value then says whether the caller must queue the task after the commit.
    Called in autocommit, a batch of up to ``INLINE_UP_TO`` tickets is one simple query,
    which PostgreSQL runs as one transaction: one round trip and one commit per request."""
    if not rows:  # an empty batch: nothing to stage (INSERT … VALUES needs a row)
        return [], [], False
    if len(rows) <= INLINE_UP_TO and all(history is None for _, _, history in rows):
        return _tickets_upsert_one_statement(source_id, customer_id, rows, now, after, nudge)
    ticket = Ticket._meta.db_table
    changes = TicketStatusChange._meta.db_table
    pauses = TicketPause._meta.db_table
    stages = {
        TICKET_STAGE: "external_id text, "
        + ", ".join(f"{name} {_TYPES.get(name, 'bigint')}" for name in DIGEST_FIELDS)
        + ", has_history boolean",
        HISTORY_STAGE: "external_id text, pos integer, at timestamptz, status text,"
        " pauses_clock boolean, resolves boolean",
        CHANGED_STAGE: "id bigint, external_id text, created boolean, history boolean,"
        " agreement_id bigint",
    }
    names = ", ".join(DIGEST_FIELDS)
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}"
        for name in (*DIGEST_FIELDS, "changed_at", "evaluated_at", "ingest_digest")
    )
    # The set-based part: upsert with the digest computed from the staging tables, then the
    # history and pauses of the changed tickets, then their ids.
    script = f"""
        WITH h AS (
            SELECT external_id, string_agg({_ENTRY_PART} || ';', '' ORDER BY at, pos)
                AS entries
            FROM {HISTORY_STAGE} GROUP BY external_id
        ), up AS (
            INSERT INTO {ticket} AS t (source_id, customer_id, external_id, {names},
                changed_at, evaluated_at, ingest_digest)
            SELECT %s, %s, s.external_id, {", ".join(f"s.{n}" for n in DIGEST_FIELDS)},
                %s, NULL, {DIGEST_SQL}
            FROM {TICKET_STAGE} s LEFT JOIN h ON h.external_id = s.external_id
            ON CONFLICT (source_id, external_id) DO UPDATE SET {updates}
            WHERE t.ingest_digest IS DISTINCT FROM EXCLUDED.ingest_digest
            RETURNING t.id, t.external_id, (t.xmax = 0) AS created, t.agreement_id
        )
        INSERT INTO {CHANGED_STAGE} (id, external_id, created, history, agreement_id)
        SELECT up.id, up.external_id, up.created, s.has_history, up.agreement_id
        FROM up JOIN {TICKET_STAGE} s ON s.external_id = up.external_id;
        -- monitoring.ingest.history.pauses_from_history in SQL: a pause starts at a pausing
        -- entry that follows a non-pausing one (or none) and ends at the next non-pausing
        -- entry. Among the "edges" (pause starts and non-pausing entries) that is the next
        -- row: two window passes, no self-join.
        DELETE FROM {changes} x USING {CHANGED_STAGE} c
        WHERE x.ticket_id = c.id AND c.history AND NOT c.created;
        DELETE FROM {pauses} x USING {CHANGED_STAGE} c
        WHERE x.ticket_id = c.id AND c.history AND NOT c.created;
        INSERT INTO {changes} (ticket_id, at, status, pauses_clock, resolves)
        SELECT c.id, h.at, h.status, h.pauses_clock, h.resolves
        FROM {HISTORY_STAGE} h JOIN {CHANGED_STAGE} c ON c.external_id = h.external_id
        ORDER BY c.id, h.at, h.pos;
        WITH o AS (
            SELECT c.id AS ticket_id, h.at, h.pos, h.status, h.pauses_clock,
                lag(h.pauses_clock) OVER (PARTITION BY c.id ORDER BY h.at, h.pos)
                    AS previous
            FROM {HISTORY_STAGE} h JOIN {CHANGED_STAGE} c ON c.external_id = h.external_id
        ), edges AS (
            SELECT ticket_id, at, status, pauses_clock,
                lead(at) OVER (PARTITION BY ticket_id ORDER BY at, pos) AS next_at
            FROM o WHERE NOT pauses_clock OR previous IS NOT TRUE
        )
        INSERT INTO {pauses} (ticket_id, start, "end", reason)
        SELECT ticket_id, at, next_at, left(status, 60) FROM edges WHERE pauses_clock
        ORDER BY ticket_id, at;
    """
    params: list[Any] = [source_id, customer_id, now]
    for sql, statement_params in after:
        script += f"{sql};\n"
        params += statement_params
    if nudge:
        # From the staging table, not joined to the tickets: it has no statistics, and the
        # planner hashed the whole ticket table for one row (17 ms at S, per request).
        agreements = (
            f"SELECT DISTINCT agreement_id::text FROM {CHANGED_STAGE}"
            " WHERE agreement_id IS NOT NULL"
        )
        record, record_params = record_request_sql(
            agreements, f"EXISTS (SELECT 1 FROM {CHANGED_STAGE})", now
        )
        script += (
            f"WITH nudge AS ({record}) SELECT id, created, (SELECT * FROM nudge)"
            f" FROM {CHANGED_STAGE};"
        )
        params += record_params
    else:
        script += f"SELECT id, created, false FROM {CHANGED_STAGE};"
    with connection.cursor() as cursor:
        if len(rows) <= INLINE_UP_TO:
            # A small batch (a desk's webhook, one ticket) in one round trip: the staging
            # rows go in as INSERT … VALUES in the same script.
            load, load_params = _inline_load(rows)
            cursor.execute(_stage_sql(stages) + load + script, [*load_params, *params])
        else:
            cursor.execute(_stage_sql(stages))
            copy_into(TICKET_STAGE, TICKET_COLUMNS, map(_ticket_line, rows))
            copy_into(
                HISTORY_STAGE,
                HISTORY_COLUMNS,
                (
                    _history_line(key, pos, entry)
                    for external_id, _, history in rows
                    if history
                    for key in (text(external_id),)
                    for pos, entry in enumerate(history)
                ),
            )
            if len(rows) >= ANALYZE_FROM:
                # Temporary tables have no statistics of their own; joins plan better with them.
                script = f"ANALYZE {TICKET_STAGE}; ANALYZE {HISTORY_STAGE};" + script
            cursor.execute(script, params)
        created: list[int] = []
        updated: list[int] = []
        queue = False
        for pk, is_new, queue_task in cursor.fetchall():
            (created if is_new else updated).append(pk)
            queue = bool(queue_task)
    return created, updated, queue


def _tickets_upsert_one_statement(
    source_id: int,
    customer_id: int,
    rows: Sequence[tuple[str, dict[str, Any], list[StatusEntry] | None]],
    now: datetime,
    after: Sequence[tuple[str, list[Any]]],
    nudge: bool,
) -> tuple[list[int], list[int], bool]:
    """:func:`tickets_upsert` for a small batch that sends no history (a desk's webhook, one
    ticket): one statement, its rows as ``VALUES``, the ``after`` statements and the nudge
    as data-modifying ``WITH`` parts. With no history there is no status change or pause to
    replace, so no staging table is needed: creating and emptying three temporary tables
    and the five statements around them were most of PostgreSQL's work for one ticket.
    The values, digest, marks and answer are those of the staged path."""
    ticket = Ticket._meta.db_table
    casts = [f"%s::{_TYPES.get(name, 'bigint')}" for name in DIGEST_FIELDS]
    row_sql = "(%s::text, " + ", ".join(casts) + ", false)"
    params: list[Any] = []
    for external_id, values, _ in rows:
        params += [external_id, *(values[name] for name in DIGEST_FIELDS)]
    names = ", ".join(DIGEST_FIELDS)
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}"
        for name in (*DIGEST_FIELDS, "changed_at", "evaluated_at", "ingest_digest")
    )
    sql = f"""
        WITH s ({", ".join(TICKET_COLUMNS)}) AS (VALUES {", ".join([row_sql] * len(rows))}),
        h (external_id, entries) AS (SELECT NULL::text, NULL::text WHERE false),
        up AS (
            INSERT INTO {ticket} AS t (source_id, customer_id, external_id, {names},
                changed_at, evaluated_at, ingest_digest)
            SELECT %s, %s, s.external_id, {", ".join(f"s.{n}" for n in DIGEST_FIELDS)},
                %s, NULL, {DIGEST_SQL}
            FROM s LEFT JOIN h ON h.external_id = s.external_id
            ON CONFLICT (source_id, external_id) DO UPDATE SET {updates}
            WHERE t.ingest_digest IS DISTINCT FROM EXCLUDED.ingest_digest
            RETURNING t.id, (t.xmax = 0) AS created, t.agreement_id
        )"""
    params += [source_id, customer_id, now]
    for position, (statement, statement_params) in enumerate(after):
        sql += f", after{position} AS ({statement})"
        params += statement_params
    if nudge:
        record, record_params = record_request_sql(
            "SELECT DISTINCT agreement_id::text FROM up WHERE agreement_id IS NOT NULL",
            "EXISTS (SELECT 1 FROM up)",
            now,
        )
        sql += f", nudge AS ({record}) SELECT id, created, (SELECT * FROM nudge) FROM up"
        params += record_params
    else:
        sql += " SELECT id, created, false FROM up"
    created: list[int] = []
    updated: list[int] = []
    queue = False
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, is_new, queue_task in cursor.fetchall():
            (created if is_new else updated).append(pk)
            queue = bool(queue_task)
    return created, updated, queue


def _inline_load(
    rows: Sequence[tuple[str, dict[str, Any], list[StatusEntry] | None]],
) -> tuple[str, list[Any]]:
    """``INSERT … VALUES`` statements filling the ticket and history staging tables."""
    sql = ""
    params: list[Any] = []
    width = len(TICKET_COLUMNS)
    sql += f"INSERT INTO {TICKET_STAGE} ({', '.join(TICKET_COLUMNS)}) VALUES "
    sql += ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows)) + ";"
    for external_id, values, history in rows:
        params += [external_id, *(values[name] for name in DIGEST_FIELDS), history is not None]
    entries = [
        (external_id, pos, e.at, e.status, e.pauses_clock, e.resolves)
        for external_id, _, history in rows
        if history
        for pos, e in enumerate(history)
    ]
    if entries:
        sql += f"INSERT INTO {HISTORY_STAGE} ({', '.join(HISTORY_COLUMNS)}) VALUES "
        sql += ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(entries)) + ";"
        params += [value for entry in entries for value in entry]
    return sql, params


def checks_upsert(
    source_id: int,
    service_id: int,
    rows: Sequence[tuple[datetime, str, int | None]],
) -> tuple[int, int]:
    """Upsert cleaned checks ``(checked_at, status, response_ms)`` of one service from one
    source; returns how many were created and how many updated (a stored check equal in
    status and response time is not written). Checks are unique per source, so another
    source's check at the same instant is never overwritten."""
    table = UptimeCheck._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            _stage_sql({CHECK_STAGE: "checked_at timestamptz, status text, response_ms integer"})
        )
        copy_into(
            CHECK_STAGE,
            ("checked_at", "status", "response_ms"),
            (f"{at.isoformat()}\t{text(status)}\t{number(ms)}\n" for at, status, ms in rows),
        )
        cursor.execute(
            f"""
            WITH up AS (
                INSERT INTO {table} AS t (service_id, source_id, checked_at, status, response_ms)
                SELECT %s, %s, checked_at, status, response_ms FROM {CHECK_STAGE}
                ON CONFLICT (service_id, checked_at, source_id) DO UPDATE
                SET status = EXCLUDED.status, response_ms = EXCLUDED.response_ms
                WHERE (t.status, t.response_ms)
                    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.response_ms)
                RETURNING (t.xmax = 0) AS created
            )
            SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up
            """,
            [service_id, source_id],
        )
        created, updated = cursor.fetchone()
    return created, updated


def outages_recompute(
    source_id: int, service_id: int, before: datetime | None, after: datetime | None
) -> None:
    """``monitoring.outages.outages_from_checks`` over the source's checks of the service in
    ``[before, after]`` (open ends when None), in SQL: replaces that source's outages
    overlapping the span (other sources' outages of the service are their own).

    Maintenance checks are left out (they neither start nor end an outage); an outage
    starts at a ``down`` whose previous up/down check was not ``down`` and ends at the next
    ``up``: among the starts and the ``up`` checks, the row after the start. A source has
    one check of a service per instant (a unique index), so an ``up`` never coincides with
    the start."""
    checks = UptimeCheck._meta.db_table
    outages = Outage._meta.db_table
    span, params = "", []
    overlapping, overlap_params = "", []
    if before is not None:
        span += " AND checked_at >= %s"
        params.append(before)
        overlapping += " AND (ended_at IS NULL OR ended_at > %s)"
        overlap_params.append(before)
    if after is not None:
        span += " AND checked_at <= %s"
        params.append(after)
        overlapping += " AND started_at < %s"
        overlap_params.append(after)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {outages} WHERE service_id = %s AND source_id = %s{overlapping};
            WITH c AS (
                SELECT checked_at, status,
                    lag(status) OVER (ORDER BY checked_at) AS previous
                FROM {checks}
                WHERE service_id = %s AND source_id = %s AND status IN ('up', 'down'){span}
            ), edges AS (
                SELECT checked_at, status, lead(checked_at) OVER (ORDER BY checked_at) AS next_at
                FROM c WHERE status = 'up' OR previous IS DISTINCT FROM 'down'
            )
            INSERT INTO {outages} (service_id, source_id, started_at, ended_at, cause)
            SELECT %s, %s, checked_at, next_at, '' FROM edges WHERE status = 'down'
            ORDER BY checked_at
            """,
            [
                service_id,
                source_id,
                *overlap_params,
                service_id,
                source_id,
                *params,
                service_id,
                source_id,
            ],
        )
