"""50,000 uptime checks in one ``POST /api/sources/<id>/checks/bulk/?service=<id>`` (through
gunicorn, token), beside a ``COPY`` of exactly the rows it stored (checks and outages) into
the same tables, under a second service."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from bench.common import summary
from bench.rows._copy import columns, copy_in, copy_out, select_list
from bench.server import fetch


def run(ctx: Any) -> dict[str, Any]:
    batch = ctx.check_batch
    from bench.ingest import check_rows
    from monitoring.models import Outage, UptimeCheck

    subject_service, ceiling_service = ctx.ingest_services()
    monitor = ctx.world["monitor"]
    url = f"{ctx.portal.base}/api/sources/{monitor}/checks/bulk/?service={subject_service}"
    headers = {"Authorization": f"Token {ctx.world['token']}", "Content-Type": "application/json"}
    check_cols = columns(UptimeCheck, without=("id",))
    outage_cols = columns(Outage, without=("id",))
    subject, ceiling, stored = [], [], []
    for run_number in range(ctx.runs):
        start = ctx.checks_start + timedelta(minutes=batch * (run_number + ctx.offset_runs))
        end = start + timedelta(minutes=batch)
        body = json.dumps(check_rows(batch, start)).encode()
        ctx.settle()
        started = time.perf_counter()
        status, answer = fetch(url, headers, body)
        subject.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"check ingest: {status} {answer[:300]!r}")
        ctx.portal.sample_peaks()
        ctx.settle()

        def swap(cols: list[str]) -> str:
            return select_list(cols, {"service_id": str(ceiling_service)})

        window = [subject_service, start, end]
        parts = [
            (
                UptimeCheck._meta.db_table,
                check_cols,
                copy_out(
                    f"SELECT {swap(check_cols)} FROM {UptimeCheck._meta.db_table}"
                    " WHERE service_id = %s AND checked_at >= %s AND checked_at < %s",
                    window,
                ),
            ),
            (
                Outage._meta.db_table,
                outage_cols,
                copy_out(
                    f"SELECT {swap(outage_cols)} FROM {Outage._meta.db_table}"
                    " WHERE service_id = %s AND started_at >= %s AND started_at < %s",
                    window,
                ),
            ),
        ]
        stored.append({table: rows.getvalue().count(b"\n") for table, _, rows in parts})
        ceiling.append(copy_in(parts))
    ratio = [c / s for s, c in zip(subject, ceiling, strict=True)]
    return {
        "subject": f"bulk checks, {batch:,} per request (HTTP)",
        "rows_stored": stored,
        "subject_seconds": summary(subject),
        "checks_per_second": summary([batch / s for s in subject]),
        "ceiling": "COPY of exactly the rows it stored",
        "ceiling_seconds": summary(ceiling),
        "ratio": summary(ratio),
    }
