"""Every query a page runs, with its plan: ``CaptureQueriesContext`` around one request in
this process (the Django test client, signed in as the customer), then ``EXPLAIN (ANALYZE,
BUFFERS)`` of each ``SELECT``. Sequential scans of the big tables are flagged."""

from __future__ import annotations

import re
from typing import Any

BIG_TABLES = (
    "monitoring_ticket",
    "monitoring_uptimecheck",
    "monitoring_breach",
    "monitoring_tickettimer",
)
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")


def capture(ctx: Any, path: str) -> dict[str, Any]:
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.common import CUSTOMER_USER
    from sla_portal.core.models import User

    client = Client()
    client.force_login(User.objects.get(username=CUSTOMER_USER))
    client.get(path)  # warm the database's caches, as the load does
    # The page is rendered anew, not read from the dashboard's render cache: the plans that
    # count are those of a render after the data changed.
    caches["dashboard"].clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    queries = []
    for query in captured.captured_queries:
        sql = query["sql"]
        entry: dict[str, Any] = {"sql": sql, "seconds": float(query["time"])}
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            entry["plan"] = plan
            found = EXECUTION.search(plan)
            entry["execution_ms"] = float(found.group(1)) if found else None
            entry["seq_scans"] = sorted(set(SEQ_SCAN.findall(plan)))
            entry["seq_scan_on_big_table"] = [t for t in entry["seq_scans"] if t in BIG_TABLES]
        queries.append(entry)
    return {
        "path": path,
        "status": response.status_code,
        "response_bytes": len(response.content),
        "query_count": len(queries),
        "seq_scan_on_big_tables": sorted(
            {t for q in queries for t in q.get("seq_scan_on_big_table", [])}
        ),
        "queries": queries,
    }
