"""10,000 tickets with status history in one ``POST /api/sources/<id>/tickets/bulk/``
(through gunicorn, token), beside a ``COPY`` of exactly the rows it stored (tickets, status
changes, pauses) into the same tables."""

from __future__ import annotations

import json
import time
from typing import Any

from bench.common import summary
from bench.rows._copy import columns, copy_in, copy_out, select_list
from bench.server import fetch


def run(ctx: Any) -> dict[str, Any]:
    batch = ctx.ticket_batch
    from bench.ingest import ticket_rows
    from monitoring.models import Ticket, TicketPause, TicketStatusChange

    desk = ctx.world["ingest_desk"]
    url = f"{ctx.portal.base}/api/sources/{desk}/tickets/bulk/"
    headers = {"Authorization": f"Token {ctx.world['token']}", "Content-Type": "application/json"}
    ticket_cols = columns(Ticket)
    change_cols = columns(TicketStatusChange, without=("id",))
    pause_cols = columns(TicketPause, without=("id",))
    subject, ceiling, stored = [], [], []
    for run_number in range(ctx.runs):
        prefix = f"{ctx.tag}-T{run_number}"
        body = json.dumps(ticket_rows(batch, prefix, ctx.world["agreement_reference"])).encode()
        ctx.settle()
        started = time.perf_counter()
        status, answer = fetch(url, headers, body)
        subject.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"ticket ingest: {status} {answer[:300]!r}")
        ctx.portal.sample_peaks()
        ctx.settle()
        # Far above the id sequence, so that the copies never take an id it hands out later.
        offset = ctx.id_offset(Ticket._meta.db_table) + 10**9
        ticket_select = ", ".join(
            {
                "id": f"id + {offset}",
                "external_id": "'C' || external_id",
                "evaluated_at": "changed_at",
            }.get(c, c)
            for c in ticket_cols
        )
        mine = (
            f"SELECT id FROM {Ticket._meta.db_table} WHERE source_id = %s AND external_id LIKE %s"
        )
        like = [desk, f"{prefix}-%"]
        moved = {"ticket_id": f"ticket_id + {offset}"}
        change_select = select_list(change_cols, moved)
        pause_select = select_list(pause_cols, moved)
        parts = [
            (
                Ticket._meta.db_table,
                ticket_cols,
                copy_out(
                    f"SELECT {ticket_select} FROM {Ticket._meta.db_table} WHERE id IN ({mine})",
                    like,
                ),
            ),
            (
                TicketStatusChange._meta.db_table,
                change_cols,
                copy_out(
                    f"SELECT {change_select} FROM {TicketStatusChange._meta.db_table}"
                    f" WHERE ticket_id IN ({mine})",
                    like,
                ),
            ),
            (
                TicketPause._meta.db_table,
                pause_cols,
                copy_out(
                    f"SELECT {pause_select} FROM {TicketPause._meta.db_table}"
                    f" WHERE ticket_id IN ({mine})",
                    like,
                ),
            ),
        ]
        stored.append({table: rows.getvalue().count(b"\n") for table, _, rows in parts})
        ceiling.append(copy_in(parts))
    ratio = [c / s for s, c in zip(subject, ceiling, strict=True)]
    return {
        "subject": f"bulk ticket ingest, {batch:,} per request with history (HTTP)",
        "rows_stored": stored,
        "subject_seconds": summary(subject),
        "tickets_per_second": summary([batch / s for s in subject]),
        "ceiling": "COPY of exactly the rows it stored",
        "ceiling_seconds": summary(ceiling),
        "ratio": summary(ratio),
    }
