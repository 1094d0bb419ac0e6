"""``make bench``: every row of the performance table against a generated database.

Run ``bench.generate`` first (``make bench`` does). Then, in this order:

1. ticket evaluation in this process (no server yet);
2. gunicorn (``sla_portal.wsgi --workers 3``, ``DEBUG=0``) and a Celery worker on Redis are
   started on a free port; the dashboard, the live poll, the bulk ticket and check ingest and
   the single-ticket POST are measured, each beside its ceiling, interleaved, ``--runs``
   times; the peak RSS (``VmHWM``) of every gunicorn worker and Celery process is sampled;
3. the server is stopped; results go to ``var/bench/results-<size>.json`` and a Markdown
   table to ``var/bench/results-<size>.md``.

Usage (from the project root)::

    .venv/bin/python -m bench.run --size S --runs 3
    .venv/bin/python -m bench.run --size S --only dashboard,live_poll

Every figure is a median with min and max over the runs; every ratio pairs run i of the
subject with run i of its ceiling.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    CUSTOMER_USER,
    DEFAULT_DB,
    RESULTS,
    machine,
    setup_django,
    write_json,
)

ROWS = ("evaluation", "dashboard", "live_poll", "ticket_ingest", "check_ingest", "single_post")
HTTP_ROWS = set(ROWS) - {"evaluation"}
SETTLE_SECONDS = 600


class Context:
    """What the row scripts share: options, the generated world, the running portal."""

    def __init__(self, args: argparse.Namespace, world: dict) -> None:
        self.size = args.size
        self.runs = args.runs
        self.seconds = args.seconds
        self.redis_url = args.redis_url
        self.evaluation_tickets = args.evaluation_tickets
        self.ticket_batch = args.ticket_batch
        self.check_batch = args.check_batch
        self.world = world
        self.tag = datetime.now(UTC).strftime("B%Y%m%d%H%M%S")
        self.opened_iso = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        self.portal: Any = None
        self.customer_cookie = ""
        self.static_url = ""
        self.offset_runs = 0
        self._services: tuple[int, int] | None = None
        self.checks_start = datetime(2020, 1, 1, tzinfo=UTC)

    def pending_tickets(self) -> int:
        from monitoring.models import Ticket

        return Ticket.objects.filter(evaluated_at__isnull=True).count()

    def pending_evaluations(self) -> int | None:
        """Tasks waiting in the broker's default queue."""
        try:
            import redis

            return int(redis.Redis.from_url(self.redis_url).llen("celery"))
        except Exception:
            return None

    def settle(self) -> None:
        """Wait until the worker has evaluated what the last request queued, so that one
        measurement does not pay for the previous one."""
        if self.portal is None or self.portal.worker is None:
            return  # nothing would evaluate them
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.pending_tickets() and time.monotonic() < deadline:
            time.sleep(1)

    def id_offset(self, table: str) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            return int(cursor.fetchone()[0])

    def ingest_services(self) -> tuple[int, int]:
        """Two checked services of the big customer's agreement: the subject writes to the
        first, the ceiling the same rows to the second, both into the same tables. The
        batches go before the earliest check either has, so a second run finds room."""
        if self._services is None:
            from monitoring.models import UptimeCheck

            first, second = self.world["checked_services"][:2]
            earliest = (
                UptimeCheck.objects.filter(service_id__in=(first, second))
                .order_by("checked_at")
                .values_list("checked_at", flat=True)
                .first()
            ) or datetime.now(UTC)
            self.checks_start = earliest - timedelta(
                days=1, minutes=self.check_batch * (self.runs + 1)
            )
            self._services = (first, second)
        return self._services


def static_url(base: str) -> str:
    from django.conf import settings

    manifest = json.loads((settings.STATIC_ROOT / "staticfiles.json").read_text())["paths"]
    names = sorted(n for n in manifest if n.endswith(".css") and not n.startswith("admin/"))
    name = next((n for n in names if not n.startswith("vendor/")), names[0])
    return f"{base}{settings.STATIC_URL.rstrip('/')}/{manifest[name]}".replace(
        f"{base}static", f"{base}/static"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="S", choices=["S", "M", "L"])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="Length of each load run.")
    parser.add_argument("--evaluation-tickets", type=int, default=25_000)
    parser.add_argument("--only", default=",".join(ROWS), help="Comma-separated rows.")
    parser.add_argument("--no-worker", action="store_true", help="Start no Celery worker.")
    parser.add_argument("--label", default=None, help="Name of the result files (default: size).")
    parser.add_argument("--ticket-batch", type=int, default=10_000, help="Tickets per request.")
    parser.add_argument("--check-batch", type=int, default=50_000, help="Checks per request.")
    args = parser.parse_args(argv)
    label = args.label or args.size
    url = args.database_url or DEFAULT_DB.format(size=args.size.lower())
    rows = [r for r in args.only.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {sorted(unknown)}")
    # A stopped run still stops the server it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    generated = json.loads((RESULTS / f"generate-{label}.json").read_text())
    setup_django(url, args.redis_url)

    from bench import server

    ctx = Context(args, generated["world"])
    results: dict[str, Any] = {
        "size": args.size,
        "label": label,
        "database_url": url,
        "ticket_batch": args.ticket_batch,
        "check_batch": args.check_batch,
        "runs": args.runs,
        "seconds_per_load_run": args.seconds,
        "connections": server.CONNECTIONS,
        "gunicorn_workers": server.WORKERS,
        "started": datetime.now(UTC),
        "machine": machine(),
        "generated": {
            k: generated.get(k)
            for k in (
                "counts",
                "big_customer",
                "timings_seconds",
                "load_seconds",
                "evaluation",
                "seed",
                "until",
                "evaluate",
                "evaluate_limit",
            )
        },
        "rows": {},
        "errors": {},
    }

    def measure(name: str) -> None:
        print(f"=== {name}", flush=True)
        started = time.perf_counter()
        try:
            results["rows"][name] = importlib.import_module(f"bench.rows.{name}").run(ctx)
        except Exception:
            results["errors"][name] = traceback.format_exc()
            print(results["errors"][name], flush=True)
        print(f"    {time.perf_counter() - started:.0f} s", flush=True)

    if "evaluation" in rows:
        measure("evaluation")
    http = [r for r in rows if r in HTTP_ROWS]
    if http:
        ctx.portal = server.start(url, args.redis_url, worker=not args.no_worker)
        try:
            ctx.customer_cookie = server.session_cookie(CUSTOMER_USER)
            ctx.static_url = static_url(ctx.portal.base)
            for name in http:
                measure(name)
        finally:
            results["peak_rss_mb"] = ctx.portal.peak_summary()
            ctx.portal.stop()
    results["finished"] = datetime.now(UTC)
    write_json(RESULTS / f"results-{label}.json", results)
    from bench.report import markdown

    text = markdown(results)
    (RESULTS / f"results-{label}.md").write_text(text)
    print(text)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
