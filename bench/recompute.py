"""How long a recompute takes (``reporting.recompute``), per 10,000 tickets.

Builds a Silver agreement (Berlin extended hours, public holidays) in force for 2016, fills
``--tickets`` resolved tickets spread over the year with set-based SQL (``generate_series``,
two status changes each, a pause on every third), evaluates them once as the worker would
(``evaluate_pending_tickets``, then the periods, all closed), then lets the ``holidays``
package "learn" a holiday on 15 June 2016 and runs a recompute of the agreement in this
process, step by step as the Celery task would. It prints the seconds of each stage, tickets
per second and seconds per 10,000 tickets, and what the recompute changed.

Usage (from the project root)::

    .venv/bin/python bench/recompute.py \\
        --database-url postgres://postgres@127.0.0.1:5432/bench_recompute --tickets 100000

The database is dropped and created again (only ``bench_*`` names); ``--drop`` removes it at
the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import drop_database, recreate_database  # noqa: E402
from uci_compliance import create_agreement, setup_django  # noqa: E402

EVALUATED_AT = datetime(2017, 1, 15, 12, 0, tzinfo=UTC)
RECOMPUTED_AT = datetime(2017, 1, 16, 12, 0, tzinfo=UTC)
LATE_HOLIDAY = date(2016, 6, 15)


def fill(agreement, count: int) -> None:
    """``count`` resolved tickets over 2016, P1–P4, answered after 5–185 minutes and
    resolved after 1–49 hours, with their status history and a pause on every third."""
    from django.db import connection

    from monitoring.models import Source, Ticket, TicketPause, TicketStatusChange

    desk = Source.objects.create(customer=agreement.customer, name="Desk", timezone="UTC")
    service = agreement.services.first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Ticket._meta.db_table} (source_id, external_id, customer_id,
                agreement_id, service_id, priority, category, title, assignee, state,
                opened_at, first_response_at, resolved_at, closed_at, reopen_count,
                changed_at, evaluated_at, ingest_digest)
            SELECT %s, 'R-' || lpad(g::text, 8, '0'), %s, %s, %s, 'P' || (1 + g %% 4), '',
                '', '', 'resolved', t.opened,
                t.opened + (5 + g %% 181) * interval '1 minute',
                t.opened + (1 + g %% 49) * interval '1 hour', NULL, 0, now(), NULL, ''
            FROM generate_series(1, %s) g
            CROSS JOIN LATERAL (SELECT timestamptz '2016-01-01 00:00+00'
                + (g::float8 / %s) * interval '365 days' AS opened) t
            """,
            [desk.pk, agreement.customer_id, agreement.pk, service.pk, count, count],
        )
        cursor.execute(
            f"""
            INSERT INTO {TicketStatusChange._meta.db_table} (ticket_id, at, status,
                pauses_clock, resolves)
            SELECT id, opened_at, 'New', false, false FROM {Ticket._meta.db_table}
            UNION ALL
            SELECT id, resolved_at, 'Resolved', false, true FROM {Ticket._meta.db_table}
            """
        )
        cursor.execute(
            f"""
            INSERT INTO {TicketPause._meta.db_table} (ticket_id, start, "end", reason)
            SELECT id, first_response_at, first_response_at + interval '30 minutes', 'Waiting'
            FROM {Ticket._meta.db_table} WHERE id % 3 = 0
            """
        )
        cursor.execute("ANALYZE")


def timed(label: str, work):
    print(f"... {label}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    print(f"    {seconds:.1f} s", file=sys.stderr, flush=True)
    return result, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_recompute"
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args(argv)

    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import agreements.public_holidays
    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.evaluation.tickets import evaluate_pending_tickets
    from monitoring.models import TicketTimer
    from reporting.models import PeriodCorrection, RecomputeRun
    from reporting.recompute.runs import recompute_request
    from reporting.recompute.steps import recompute_step
    from sla_portal.core.models import User

    agreement = create_agreement("silver")
    _, fill_s = timed(f"fill {args.tickets:,} tickets", lambda: fill(agreement, args.tickets))
    _, evaluate_s = timed(
        "first evaluation (evaluate_pending_tickets)",
        lambda: evaluate_pending_tickets(EVALUATED_AT),
    )
    _, periods_s = timed("periods (evaluate_periods)", lambda: evaluate_periods(EVALUATED_AT))
    timers = TicketTimer.objects.count()

    real = agreements.public_holidays.holidays_lib.country_holidays

    def learned(country, subdiv=None, years=()):
        found = dict(real(country, subdiv=subdiv, years=years).items())
        if country == "DE":
            found[LATE_HOLIDAY] = "Holiday learned late"
        return found

    agreements.public_holidays.holidays_lib.country_holidays = learned
    manager = User.objects.get(username="manager")
    run = recompute_request(
        manager,
        scope=RecomputeRun.Scope.AGREEMENT,
        agreement=agreement,
        reason="Benchmark: a holiday learned late",
        now=RECOMPUTED_AT,
    )
    stages: dict[str, float] = {"tickets": 0.0, "periods": 0.0}
    steps = 0
    started = time.perf_counter()
    while True:
        stage = RecomputeRun.objects.get(pk=run.pk).stage
        step_started = time.perf_counter()
        more = recompute_step(run.pk, RECOMPUTED_AT)
        stages["tickets" if stage == "tickets" else "periods"] += time.perf_counter() - step_started
        steps += 1
        if not more:
            break
    total_s = time.perf_counter() - started
    run.refresh_from_db()
    per_10k = stages["tickets"] / run.tickets_done * 10_000 if run.tickets_done else 0.0
    rows = [
        ("tickets", f"{run.tickets_done:,}"),
        ("timers", f"{timers:,}"),
        ("fill (SQL)", f"{fill_s:.1f} s"),
        ("first evaluation", f"{evaluate_s:.1f} s ({args.tickets / evaluate_s:,.0f} tickets/s)"),
        ("periods evaluation", f"{periods_s:.1f} s"),
        ("recompute status", run.status + (f" ({run.error})" if run.error else "")),
        ("recompute steps", f"{steps}"),
        (
            "recompute, ticket stage",
            f"{stages['tickets']:.1f} s ({run.tickets_done / stages['tickets']:,.0f} tickets/s)",
        ),
        ("recompute, period stage", f"{stages['periods']:.1f} s ({run.periods_done} periods)"),
        ("recompute, total", f"{total_s:.1f} s"),
        ("recompute, seconds per 10,000 tickets", f"{per_10k:.1f} s"),
        ("1M tickets extrapolated (ticket stage)", f"{per_10k * 100 / 60:.1f} min"),
        ("timers changed", f"{run.timers_changed:,} ({run.missed_to_met:,} missed → met)"),
        ("closed-period corrections", f"{PeriodCorrection.objects.filter(run=run).count()}"),
    ]
    print()
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.drop:
        drop_database(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
