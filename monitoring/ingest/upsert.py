"""The PostgreSQL write path of the ingest: COPY into staging, then set-based SQL.

A validated batch is copied into temporary staging tables (``monitoring.ingest.copy``) and
moved into the real tables with ``INSERT … SELECT … ON CONFLICT … DO UPDATE … WHERE
<changed>``; ``RETURNING (xmax = 0)`` tells created rows from updated ones, and rows whose
values did not change are not written at all. For tickets, the idempotency digest
(``monitoring.ingest.digest``), the status history and the clock pauses derived from it are
computed in SQL from the staging tables. Everything runs inside the caller's transaction.
The staging tables are dropped at commit (and before each batch, for several batches in
one outer transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from monitoring.models import Outage, Ticket, TicketPause, TicketStatusChange, UptimeCheck

from .copy import copy_into
from .digest import DIGEST_FIELDS
from .history import StatusEntry

TICKET_STAGE = "ingest_ticket_stage"
HISTORY_STAGE = "ingest_history_stage"
CHANGED_STAGE = "ingest_ticket_changed"
CHECK_STAGE = "ingest_check_stage"

_TEXT = ("priority", "category", "title", "assignee", "state")
_TIME = ("opened_at", "first_response_at", "resolved_at", "closed_at")
_TYPES = {name: "text" for name in _TEXT} | {name: "timestamptz" for name in _TIME}
TICKET_COLUMNS = ("external_id", *DIGEST_FIELDS, "has_history")
HISTORY_COLUMNS = ("external_id", "pos", "at", "status", "pauses_clock", "resolves")


def _stage(cursor: Any, tables: dict[str, str]) -> None:
    """(Re)create the staging tables ``{name: columns}`` in one round trip."""
    cursor.execute(
        "".join(
            f"DROP TABLE IF EXISTS pg_temp.{name};"
            f" CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP;"
            for name, columns in tables.items()
        )
    )


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


def tickets_upsert(
    source_id: int,
    customer_id: int,
    rows: Sequence[tuple[str, dict[str, Any], list[StatusEntry] | None]],
    now: datetime,
) -> tuple[list[int], list[int]]:
    """Upsert cleaned tickets ``(external_id, values, history or None)`` of one source.

    Returns the ids of the tickets created and of those updated; rows whose digest equals
    the stored one are left alone. A sent history replaces the stored status changes and
    pauses of each created or updated ticket; changed tickets get ``changed_at = now`` and
    ``evaluated_at = NULL`` (the evaluation mark) in the same statement."""
    ticket = Ticket._meta.db_table
    changes = TicketStatusChange._meta.db_table
    pauses = TicketPause._meta.db_table
    with connection.cursor() as cursor:
        _stage(
            cursor,
            {
                TICKET_STAGE: "external_id text PRIMARY KEY, "
                + ", ".join(f"{name} {_TYPES.get(name, 'bigint')}" for name in DIGEST_FIELDS)
                + ", has_history boolean",
                HISTORY_STAGE: "external_id text, pos integer, at timestamptz, status text,"
                " pauses_clock boolean, resolves boolean",
                CHANGED_STAGE: "id bigint, external_id text, created boolean, history boolean",
            },
        )
        copy_into(
            TICKET_STAGE,
            TICKET_COLUMNS,
            (
                (external_id, *[values[name] for name in DIGEST_FIELDS], history is not None)
                for external_id, values, history in rows
            ),
        )
        copy_into(
            HISTORY_STAGE,
            HISTORY_COLUMNS,
            (
                (external_id, pos, e.at, e.status, e.pauses_clock, e.resolves)
                for external_id, _, history in rows
                if history
                for pos, e in enumerate(history)
            ),
        )
        # Fresh tables have no statistics; the joins below plan better with them.
        cursor.execute(f"ANALYZE {TICKET_STAGE}; ANALYZE {HISTORY_STAGE}")
        names = ", ".join(DIGEST_FIELDS)
        updates = ", ".join(
            f"{name} = EXCLUDED.{name}"
            for name in (*DIGEST_FIELDS, "changed_at", "evaluated_at", "ingest_digest")
        )
        cursor.execute(
            f"""
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
                RETURNING t.id, t.external_id, (t.xmax = 0) AS created
            )
            INSERT INTO {CHANGED_STAGE} (id, external_id, created, history)
            SELECT up.id, up.external_id, up.created, s.has_history
            FROM up JOIN {TICKET_STAGE} s ON s.external_id = up.external_id
            """,
            [source_id, customer_id, now],
        )
        # monitoring.ingest.history.pauses_from_history in SQL: a pause starts at a pausing
        # entry that follows a non-pausing one (or none) and ends at the next non-pausing
        # entry, the one whose running count of non-pausing entries is one higher.
        # One round trip: replace the history and pauses of the changed tickets that sent one.
        cursor.execute(
            f"""
            DELETE FROM {changes} x USING {CHANGED_STAGE} c
            WHERE x.ticket_id = c.id AND c.history AND NOT c.created;
            DELETE FROM {pauses} x USING {CHANGED_STAGE} c
            WHERE x.ticket_id = c.id AND c.history AND NOT c.created;
            INSERT INTO {changes} (ticket_id, at, status, pauses_clock, resolves)
            SELECT c.id, h.at, h.status, h.pauses_clock, h.resolves
            FROM {HISTORY_STAGE} h JOIN {CHANGED_STAGE} c ON c.external_id = h.external_id
            ORDER BY c.id, h.at, h.pos;
            WITH o AS (
                SELECT c.id AS ticket_id, h.at, h.status, h.pauses_clock,
                    lag(h.pauses_clock) OVER w AS previous,
                    count(*) FILTER (WHERE NOT h.pauses_clock) OVER w AS resumed
                FROM {HISTORY_STAGE} h JOIN {CHANGED_STAGE} c ON c.external_id = h.external_id
                WINDOW w AS (PARTITION BY c.id ORDER BY h.at, h.pos)
            )
            INSERT INTO {pauses} (ticket_id, start, "end", reason)
            SELECT s.ticket_id, s.at, e.at, left(s.status, 60)
            FROM o s LEFT JOIN o e ON e.ticket_id = s.ticket_id AND NOT e.pauses_clock
                AND e.resumed = s.resumed + 1
            WHERE s.pauses_clock AND s.previous IS NOT TRUE
            ORDER BY s.ticket_id, s.at;
            SELECT id, created FROM {CHANGED_STAGE};
            """
        )
        created: list[int] = []
        updated: list[int] = []
        for pk, is_new in cursor.fetchall():
            (created if is_new else updated).append(pk)
    return created, updated


def checks_upsert(
    source_id: int,
    service_id: int,
    rows: Sequence[tuple[datetime, str, int | None]],
) -> tuple[int, int]:
    """Upsert cleaned checks ``(checked_at, status, response_ms)`` of one service; returns
    how many were created and how many updated (a stored check equal in status, response
    time and source is not written)."""
    table = UptimeCheck._meta.db_table
    with connection.cursor() as cursor:
        _stage(cursor, {CHECK_STAGE: "checked_at timestamptz, status text, response_ms integer"})
        copy_into(CHECK_STAGE, ("checked_at", "status", "response_ms"), rows)
        cursor.execute(
            f"""
            WITH up AS (
                INSERT INTO {table} AS t (service_id, source_id, checked_at, status, response_ms)
                SELECT %s, %s, checked_at, status, response_ms FROM {CHECK_STAGE}
                ON CONFLICT (service_id, checked_at) DO UPDATE SET status = EXCLUDED.status,
                    response_ms = EXCLUDED.response_ms, source_id = EXCLUDED.source_id
                WHERE (t.status, t.response_ms, t.source_id)
                    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.response_ms, EXCLUDED.source_id)
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
    """``monitoring.outages.outages_from_checks`` over the service's checks in ``[before,
    after]`` (open ends when None), in SQL: replaces the outages overlapping that span.

    Maintenance checks are left out (they neither start nor end an outage); an outage
    starts at a ``down`` whose previous up/down check was not ``down`` and ends at the next
    ``up``, the one whose running count of ``up`` checks is one higher. A service has one
    check per instant (a unique index), so an ``up`` never coincides with the start."""
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
            DELETE FROM {outages} WHERE service_id = %s{overlapping};
            WITH c AS (
                SELECT checked_at, status, lag(status) OVER w AS previous,
                    count(*) FILTER (WHERE status = 'up') OVER w AS ups
                FROM {checks}
                WHERE service_id = %s AND status IN ('up', 'down'){span}
                WINDOW w AS (ORDER BY checked_at)
            )
            INSERT INTO {outages} (service_id, source_id, started_at, ended_at, cause)
            SELECT %s, %s, s.checked_at, e.checked_at, ''
            FROM c s LEFT JOIN c e ON e.status = 'up' AND e.ups = s.ups + 1
            WHERE s.status = 'down' AND s.previous IS DISTINCT FROM 'down'
            ORDER BY s.checked_at
            """,
            [service_id, *overlap_params, service_id, *params, service_id, source_id],
        )
