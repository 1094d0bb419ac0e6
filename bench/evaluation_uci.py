"""The evaluation row of ``docs/performance.md`` on the issue's own data set: the UCI incident
event log (24,918 tickets, about 49,500 timers), beside a ``COPY`` of exactly the timers it
writes into the same indexed table.

The first run prepares a database of its own with ``bench/uci_compliance.py``'s steps (migrate,
a Gold agreement put in force, ``import_servicenow`` of the whole file); ``--reuse`` keeps a
database prepared before. Then, ``--runs`` times, interleaved:

1. subject: every evaluation row is emptied (timers, breaches, alerts and their digest items),
   every ticket is marked again, and ``evaluate_pending_tickets`` runs in this process, timed
   with its CPU time and the process's peak RSS (``VmHWM``, reset before each run);
2. ceiling: the timers it wrote are read back with ``COPY … TO STDOUT``, the table emptied, and
   the same rows written with ``COPY … FROM STDIN`` into the same table with all its indexes.

Run i of the subject pairs with run i of the ceiling. Results go to
``var/bench/results-uci.json`` and ``var/bench/results-uci.md``.

Usage (from the project root)::

    .venv/bin/python -m bench.evaluation_uci --runs 3
    .venv/bin/python -m bench.evaluation_uci --runs 3 --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench import uci_compliance
from bench.common import RESULTS, machine, proc_kb, summary, write_json
from bench.rows.evaluation import _reset_peak

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_uci"
EVALUATION_TABLES = (
    "monitoring_digestitem",
    "monitoring_alert",
    "monitoring_breach",
    "monitoring_tickettimer",
)


def _prepare(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    agreement = uci_compliance.create_agreement("gold")
    print("... import_servicenow", file=sys.stderr, flush=True)
    uci_compliance.import_file(args.file, agreement, None)


def _forget_evaluation() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(EVALUATION_TABLES)}")
        cursor.execute("UPDATE monitoring_ticket SET evaluated_at = NULL")
        cursor.execute("ANALYZE monitoring_ticket")


def _one_run() -> dict[str, float]:
    from django.db import connection
    from django.utils import timezone

    from bench.rows._copy import columns, copy_in, copy_out
    from monitoring.evaluation.tickets import evaluate_pending_tickets
    from monitoring.models import TicketTimer

    _forget_evaluation()
    _reset_peak()
    cpu, started = time.process_time(), time.perf_counter()
    tickets = evaluate_pending_tickets(timezone.now())
    subject = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = proc_kb(os.getpid(), "VmHWM") / 1024

    table = TicketTimer._meta.db_table
    names = columns(TicketTimer)
    rows = copy_out(f"SELECT {', '.join(names)} FROM {table}")
    timers = TicketTimer.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")
    ceiling = copy_in([(table, names, rows)])
    return {
        "tickets": tickets,
        "timers": timers,
        "subject": subject,
        "cpu": cpu,
        "ceiling": ceiling,
        "peak": peak,
    }


def markdown(result: dict[str, Any]) -> str:
    def fig(key: str, fmt: str = "{:,.2f}") -> str:
        s = result[key]
        return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}–{fmt.format(s['max'])})"

    return "\n".join(
        [
            f"# Ticket evaluation, UCI log ({result['tickets']:,} tickets → "
            f"{result['timers']:,} timers), {result['runs']} runs",
            "",
            "| figure | median (min–max) |",
            "| --- | --- |",
            f"| evaluation, s | {fig('subject_seconds')} |",
            f"| evaluation CPU of this process, s | {fig('cpu_seconds')} |",
            f"| tickets/s | {fig('tickets_per_second', '{:,.0f}')} |",
            f"| ceiling: COPY of the timers, s | {fig('ceiling_seconds', '{:,.3f}')} |",
            f"| **ratio** (goal ≥ 0.1) | **{fig('ratio', '{:.3f}')}** |",
            f"| peak RSS, MB | {fig('peak_rss_mb', '{:,.0f}')} |",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="Keep a database prepared before.")
    parser.add_argument("--file", default=uci_compliance.DATA)
    args = parser.parse_args(argv)

    uci_compliance.prepare_database(args.database_url, recreate=not args.reuse)
    uci_compliance.setup_django(args.database_url)
    from monitoring.models import Ticket

    if not args.reuse or not Ticket.objects.exists():
        _prepare(args)

    runs = []
    for number in range(1, args.runs + 1):
        run = _one_run()
        print(
            f"... run {number}: {run['subject']:.1f} s for {run['tickets']:,} tickets, "
            f"COPY of {run['timers']:,} timers {run['ceiling']:.2f} s",
            file=sys.stderr,
            flush=True,
        )
        runs.append(run)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": len(runs),
        "tickets": runs[-1]["tickets"],
        "timers": runs[-1]["timers"],
        "subject_seconds": summary([r["subject"] for r in runs]),
        "cpu_seconds": summary([r["cpu"] for r in runs]),
        "tickets_per_second": summary([r["tickets"] / r["subject"] for r in runs]),
        "ceiling_seconds": summary([r["ceiling"] for r in runs]),
        "ratio": summary([r["ceiling"] / r["subject"] for r in runs]),
        "peak_rss_mb": summary([r["peak"] for r in runs]),
    }
    write_json(RESULTS / "results-uci.json", result)
    text = markdown(result)
    (RESULTS / "results-uci.md").write_text(text)
    print(text)
    print(json.dumps(result["ratio"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
