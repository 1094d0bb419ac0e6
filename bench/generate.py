"""A deterministic data set for ``make bench``: customers, agreements, tickets and checks.

Sizes (``--size``):

* ``S``: 10,000 tickets, 100,000 uptime checks, 4 customers (about a minute with evaluation);
* ``M``: 1,000,000 tickets, 10,000,000 checks, 20 customers;
* ``L``: 10,000,000 tickets, 20,000,000 checks, 40 customers.

One customer, ``Bench customer 00`` (user ``bench_customer``), holds 95 % of the tickets and
the agreement that covers the checked services: the customer whose dashboard is measured. The
others share the rest, one ticket in twenty.

The world (organisations, users, calendars, tier templates, services, sources, agreements put
in force by propose, accept and both signatures) is made through the project's own services.
The volume is written by PostgreSQL itself, ``INSERT … SELECT … FROM generate_series``, so M
loads in minutes. Every "random" choice is a slice of ``md5(seed:n)``: the same seed and the
same ``--until`` give the same rows, on any machine.

Tickets: priorities P1 5 %, P2 15 %, P3 50 %, P4 30 %; a first response after 2 minutes to
25 hours (most fast, a long tail); 30 % wait on the customer once (a pause of 30 minutes to 2
days, a status change that pauses the clock and a ``TicketPause``); 5 % are reopened 6 to 48
hours after resolution and resolved again; resolution after 30 minutes to 6 days of work;
closed two days after resolution. Tickets opened in the last two days before ``--until`` and
0.3 % of the rest are still open. The calendars are the demo's (Berlin office hours with
German public holidays and closures, extended hours, London, 24x7); the big customer is on
Silver (extended hours, Europe/Berlin, public holidays), the others rotate over Gold, Bronze
and Silver. The ingest measurements write to a desk of ``Bench customer 01``, never to the
measured customer.

Checks: one a minute per checked service up to ``--until``; an outage of 1 to 15 minutes
every 2,000 minutes (with its ``Outage`` row); a two-hour maintenance window every week (a
``MaintenanceWindow`` row, checks in it reported as ``maintenance``).

Then the project's evaluation computes timers, breaches, alerts and period results:
``evaluate_pending_tickets`` and ``evaluate_periods``, each timed. ``--evaluate customer``
evaluates only the big customer's tickets, ``--evaluate-limit N`` only its N newest (the rest
stay evaluated as of nothing: no timers), ``--evaluate none`` skips it.

Usage (from the project root)::

    .venv/bin/python -m bench.generate --size S
    .venv/bin/python -m bench.generate --size M --evaluate-limit 100000

The database (default ``bench_<size>``) is dropped and created again. Timings are written to
``var/bench/generate-<size>.json``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import (
    CUSTOMER_USER,
    DEFAULT_DB,
    PASSWORD,
    PROVIDER_USER,
    RESULTS,
    machine,
    recreate_database,
    setup_django,
    write_json,
)


@dataclass(frozen=True)
class Size:
    tickets: int
    checks: int
    customers: int
    check_services: int


SIZES = {
    "S": Size(tickets=10_000, checks=100_000, customers=4, check_services=2),
    "M": Size(tickets=1_000_000, checks=10_000_000, customers=20, check_services=20),
    "L": Size(tickets=10_000_000, checks=20_000_000, customers=40, check_services=20),
}
HISTORY_DAYS = 730
OUTAGE_EVERY = 2000  # minutes
OUTAGE_AT = 1000
MAINTENANCE_EVERY = 7 * 1440
MAINTENANCE_AT = 3 * 1440 + 60  # a Thursday or so, 01:00 of the window's day
MAINTENANCE_MINUTES = 120
CHUNK = 250_000


@dataclass
class Timings:
    steps: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, work: Any, *args: Any, **kwargs: Any) -> Any:
        print(f"... {name}", flush=True)
        started = time.perf_counter()
        result = work(*args, **kwargs)
        self.steps[name] = round(time.perf_counter() - started, 2)
        print(f"    {self.steps[name]:.1f} s", flush=True)
        return result


def _execute(sql: str, params: dict | Sequence | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- The world -----------------------------------------------------------------------------


def _tier_for(index: int) -> str:
    return "silver" if index == 0 else ("gold", "bronze", "silver")[index % 3]


def build_world(size: Size, start: date) -> dict[str, Any]:
    """Provider, customers, users, calendars, tiers, services, sources, agreements in force."""
    from agreements.demo import seed_calendars, seed_services, seed_tiers
    from agreements.models import Service
    from agreements.services import lifecycle
    from agreements.services.drafting import agreement_create_from_tier
    from monitoring.models import Source
    from sla_portal.core.models import Organisation, Role, User
    from sla_portal.core.tokens import token_create

    provider = Organisation.objects.create(
        name="Bench Provider", slug="bench-provider", kind=Organisation.Kind.PROVIDER
    )
    manager = User.objects.create_user(
        PROVIDER_USER,
        "manager@bench.example",
        PASSWORD,
        role=Role.SERVICE_MANAGER,
        organisation=provider,
    )
    _, token = token_create(manager, name="Benchmark", scopes=["read", "write", "ingest"])
    tiers = seed_tiers(seed_calendars())
    portal = seed_services(manager)["portal"]
    checked = list(
        Service.objects.bulk_create(
            Service(name=f"Bench service {n:02d}", owner=manager)
            for n in range(size.check_services)
        )
    )
    desks = []
    for index in range(size.customers):
        customer = Organisation.objects.create(
            name=f"Bench customer {index:02d}", slug=f"bench-customer-{index:02d}"
        )
        username = CUSTOMER_USER if index == 0 else f"{CUSTOMER_USER}_{index:02d}"
        approver = User.objects.create_user(
            username,
            f"{username}@bench.example",
            PASSWORD,
            role=Role.CUSTOMER_APPROVER,
            organisation=customer,
        )
        agreement = agreement_create_from_tier(
            tier=tiers[_tier_for(index)],
            customer=customer,
            title=f"Bench agreement {index:02d}",
            services=[portal, *checked] if index == 0 else [portal],
            effective_from=start,
            created_by=manager,
        )
        version = lifecycle.propose(agreement, manager, confirm_incomplete=True)
        lifecycle.accept(agreement, approver, version.number)
        lifecycle.sign(agreement, manager)
        lifecycle.sign(agreement, approver)
        agreement.refresh_from_db()
        if agreement.status != "active":
            raise SystemExit(f"{agreement} is {agreement.status}, not active")
        desk = Source.objects.create(customer=customer, name="Desk", timezone="Europe/Berlin")
        desks.append((desk.pk, customer.pk, agreement.pk, portal.pk))
        if index == 0:
            big = {"customer": customer.pk, "agreement": agreement.pk, "desk": desk.pk}
            # The provider's monitor, measuring every customer's services: shared, so its
            # checks count for every covering agreement (monitoring.models.ownership).
            monitor = Source.objects.create(customer=customer, name="Monitor", shared=True)
        if index == 1:
            # The ingest measurements write here, so that they leave the measured
            # customer's dashboard as generated.
            ingest_desk = Source.objects.create(
                customer=customer, name="Ingest desk", timezone="Europe/Berlin"
            )
            ingest_reference = agreement.reference
    return {
        "token": token,
        "desks": desks,
        "big": big,
        "monitor": monitor.pk,
        "ingest_desk": ingest_desk.pk,
        "portal": portal.pk,
        "portal_name": portal.name,
        "checked_services": [s.pk for s in checked],
        "agreement_reference": ingest_reference,
    }


# --- Tickets -------------------------------------------------------------------------------

# One row per ticket with every moment of its life, computed from md5(seed:n); the ticket,
# its status history and its pauses are then inserted from it.
PLAN = """
INSERT INTO bench_plan
SELECT g, d.source_id, d.customer_id, d.agreement_id, d.service_id,
    CASE WHEN u1 < 0.05 THEN 'P1' WHEN u1 < 0.20 THEN 'P2' WHEN u1 < 0.70 THEN 'P3'
        ELSE 'P4' END,
    o.opened,
    CASE WHEN o.is_open AND u3 > 0.6 THEN NULL
        ELSE o.opened + (2 + power(u3, 2) * 1500) * interval '1 minute' END,
    u4 < 0.30,
    (30 + power(u5, 2) * 2850) * interval '1 minute',
    (30 + power(u6, 2) * 9000) * interval '1 minute',
    NOT o.is_open AND u7 < 0.05,
    (6 + u5 * 42) * interval '1 hour',
    o.is_open,
    1 + (g %% 5)
FROM (
    SELECT g,
        ('x' || substr(h1, 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
        ('x' || substr(h1, 9, 8))::bit(32)::bigint / 4294967296.0 AS u2,
        ('x' || substr(h1, 17, 8))::bit(32)::bigint / 4294967296.0 AS u3,
        ('x' || substr(h1, 25, 8))::bit(32)::bigint / 4294967296.0 AS u4,
        ('x' || substr(h2, 1, 8))::bit(32)::bigint / 4294967296.0 AS u5,
        ('x' || substr(h2, 9, 8))::bit(32)::bigint / 4294967296.0 AS u6,
        ('x' || substr(h2, 17, 8))::bit(32)::bigint / 4294967296.0 AS u7,
        ('x' || substr(h2, 25, 8))::bit(32)::bigint / 4294967296.0 AS u8
    FROM (SELECT g, md5(%(seed)s || ':' || g) AS h1, md5(%(seed)s || ';' || g) AS h2
          FROM generate_series(%(low)s, %(high)s) g) hashed
) u
JOIN bench_desks d ON d.idx = CASE WHEN g %% 20 = 0 THEN 1 + (g / 20) %% %(others)s ELSE 0 END
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + ((g - 1 + u2) / %(count)s) * %(span)s::interval AS opened
) t
CROSS JOIN LATERAL (
    SELECT t.opened,
        t.opened > %(until)s::timestamptz - interval '2 days' OR u8 < 0.003 AS is_open
) o
"""

# The derived moments: pause, first resolution, reopening, final resolution, closure.
MOMENTS = """
CREATE VIEW bench_life AS
SELECT p.*,
    p.responded_at AS first_response_at,
    CASE WHEN p.paused THEN coalesce(p.responded_at, p.opened_at) + interval '30 minutes' END
        AS pause_start,
    CASE WHEN p.paused THEN coalesce(p.responded_at, p.opened_at) + interval '30 minutes'
        + p.pause_length END AS pause_end_raw,
    coalesce(p.responded_at, p.opened_at)
        + CASE WHEN p.paused THEN interval '30 minutes' + p.pause_length ELSE interval '0' END
        + p.work AS resolved_first
FROM bench_plan p
"""


def fill_tickets(size: Size, world: dict, seed: int, start: datetime, until: datetime) -> None:
    from monitoring.models import Ticket, TicketPause, TicketStatusChange

    _execute("DROP TABLE IF EXISTS bench_desks, bench_plan CASCADE")
    _execute(
        "CREATE UNLOGGED TABLE bench_desks (idx int PRIMARY KEY, source_id bigint,"
        " customer_id bigint, agreement_id bigint, service_id bigint)"
    )
    for idx, row in enumerate(world["desks"]):
        _execute("INSERT INTO bench_desks VALUES (%s, %s, %s, %s, %s)", [idx, *row])
    _execute(
        """CREATE UNLOGGED TABLE bench_plan (g bigint, source_id bigint, customer_id bigint,
        agreement_id bigint, service_id bigint, priority text, opened_at timestamptz,
        responded_at timestamptz, paused boolean, pause_length interval, work interval,
        reopened boolean, reopen_after interval, is_open boolean, csat int)"""
    )
    params = {
        "seed": str(seed),
        "others": max(size.customers - 1, 1),
        "start": start,
        "until": until,
        "count": size.tickets,
        "span": f"{(until - start).total_seconds()} seconds",
    }
    for low in range(1, size.tickets + 1, CHUNK):
        high = min(low + CHUNK - 1, size.tickets)
        _execute(PLAN, {**params, "low": low, "high": high})
    _execute(MOMENTS)
    # Final moments, capped at --until: nothing happens after the data set's "now".
    _execute(
        """CREATE UNLOGGED TABLE bench_tickets AS
        SELECT l.*,
            CASE WHEN l.is_open AND l.pause_end_raw > %(until)s THEN NULL
                ELSE l.pause_end_raw END AS pause_end,
            CASE WHEN l.reopened THEN l.resolved_first + l.reopen_after END AS reopened_at,
            CASE WHEN l.is_open THEN NULL
                WHEN l.reopened THEN l.resolved_first + l.reopen_after + l.work / 4
                ELSE l.resolved_first END AS resolved_at
        FROM bench_life l""",
        {"until": until},
    )
    _execute(
        f"""
        INSERT INTO {Ticket._meta.db_table} (source_id, external_id, customer_id, agreement_id,
            service_id, priority, category, title, assignee, state, opened_at,
            first_response_at, resolved_at, closed_at, reopen_count, csat, changed_at,
            evaluated_at, ingest_digest)
        SELECT source_id, 'BENCH-' || lpad(g::text, 8, '0'), customer_id, agreement_id,
            service_id, priority, 'Category ' || (g %% 12), 'Bench ticket ' || g,
            'Agent ' || (g %% 40),
            CASE WHEN is_open OR resolved_at > %(until)s THEN 'open'
                WHEN resolved_at + interval '2 days' > %(until)s THEN 'resolved'
                ELSE 'closed' END,
            opened_at,
            CASE WHEN first_response_at <= %(until)s THEN first_response_at END,
            CASE WHEN resolved_at <= %(until)s THEN resolved_at END,
            CASE WHEN resolved_at + interval '2 days' <= %(until)s
                THEN resolved_at + interval '2 days' END,
            CASE WHEN reopened THEN 1 ELSE 0 END,
            CASE WHEN resolved_at + interval '2 days' <= %(until)s THEN csat END,
            opened_at, %(until)s, md5('bench' || g)
        FROM bench_tickets ORDER BY g
        """,
        {"until": until},
    )
    _execute(
        f"""CREATE UNLOGGED TABLE bench_ids AS
        SELECT t.id, b.* FROM bench_tickets b
        JOIN {Ticket._meta.db_table} t
            ON t.source_id = b.source_id AND t.external_id = 'BENCH-' || lpad(b.g::text, 8, '0')
        """
    )
    _execute(
        f"""
        INSERT INTO {TicketStatusChange._meta.db_table} (ticket_id, at, status, pauses_clock,
            resolves)
        SELECT id, at, status, pauses, resolves FROM (
            SELECT id, opened_at AS at, 'New' AS status, false AS pauses, false AS resolves
                FROM bench_ids
            UNION ALL SELECT id, first_response_at, 'In progress', false, false FROM bench_ids
            UNION ALL SELECT id, pause_start, 'Waiting on customer', true, false FROM bench_ids
            UNION ALL SELECT id, pause_end, 'In progress', false, false FROM bench_ids
            UNION ALL SELECT id, resolved_first, 'Resolved', false, true FROM bench_ids
                WHERE NOT is_open
            UNION ALL SELECT id, reopened_at, 'Reopened', false, false FROM bench_ids
            UNION ALL SELECT id, resolved_at, 'Resolved', false, true FROM bench_ids
                WHERE reopened
            UNION ALL SELECT id, resolved_at + interval '2 days', 'Closed', false, false
                FROM bench_ids
        ) s WHERE at IS NOT NULL AND at <= %(until)s
        """,
        {"until": until},
    )
    _execute(
        f"""
        INSERT INTO {TicketPause._meta.db_table} (ticket_id, start, "end", reason)
        SELECT id, pause_start, pause_end, 'Waiting on customer' FROM bench_ids
        WHERE paused AND pause_start <= %(until)s
        """,
        {"until": until},
    )
    _execute("DROP TABLE bench_ids, bench_tickets, bench_plan, bench_desks CASCADE")


# --- Checks --------------------------------------------------------------------------------


def fill_checks(size: Size, world: dict, until: datetime) -> None:
    from monitoring.models import MaintenanceWindow, Outage, UptimeCheck

    services = world["checked_services"]
    per_service = size.checks // len(services)
    first = until - timedelta(minutes=per_service)

    def outage_length(k: str, n: int) -> str:
        return f"(1 + ({k} * 7919 + {n} * 31) %% 15)"

    for n, service in enumerate(services):
        params = {"service": service, "source": world["monitor"], "first": first, "n": n}
        length = outage_length(f"(m / {OUTAGE_EVERY})", n)
        in_outage = (
            f"(m %% {OUTAGE_EVERY} >= {OUTAGE_AT} AND m %% {OUTAGE_EVERY} < {OUTAGE_AT} + {length})"
        )
        in_maintenance = (
            f"(m %% {MAINTENANCE_EVERY} >= {MAINTENANCE_AT}"
            f" AND m %% {MAINTENANCE_EVERY} < {MAINTENANCE_AT + MAINTENANCE_MINUTES})"
        )
        _execute(
            f"""
            INSERT INTO {UptimeCheck._meta.db_table} (service_id, source_id, checked_at, status,
                response_ms)
            SELECT %(service)s, %(source)s, %(first)s::timestamptz + m * interval '1 minute',
                CASE WHEN {in_maintenance} THEN 'maintenance' WHEN {in_outage} THEN 'down'
                    ELSE 'up' END,
                CASE WHEN {in_outage} OR {in_maintenance} THEN NULL
                    ELSE 80 + (m * 37 + %(n)s) %% 400 END
            FROM generate_series(0, %(count)s - 1) m
            """,
            {**params, "count": per_service},
        )
        _execute(
            f"""
            INSERT INTO {Outage._meta.db_table} (service_id, source_id, started_at, ended_at,
                cause)
            SELECT %(service)s, %(source)s,
                %(first)s::timestamptz + (k * {OUTAGE_EVERY} + {OUTAGE_AT}) * interval '1 minute',
                %(first)s::timestamptz + (k * {OUTAGE_EVERY} + {OUTAGE_AT}
                    + {outage_length("k", n)}) * interval '1 minute', ''
            FROM generate_series(0, %(count)s / {OUTAGE_EVERY} - 1) k
            WHERE NOT ((k * {OUTAGE_EVERY} + {OUTAGE_AT}) %% {MAINTENANCE_EVERY}
                BETWEEN {MAINTENANCE_AT - 15} AND {MAINTENANCE_AT + MAINTENANCE_MINUTES})
            """,
            {**params, "count": per_service},
        )
        _execute(
            f"""
            INSERT INTO {MaintenanceWindow._meta.db_table} (service_id, source_id, external_id,
                title, starts_at, ends_at, announced_at)
            SELECT %(service)s, %(source)s, 'CHG-' || %(n)s || '-' || w, 'Weekly patching',
                %(first)s::timestamptz + (w * {MAINTENANCE_EVERY} + {MAINTENANCE_AT})
                    * interval '1 minute',
                %(first)s::timestamptz + (w * {MAINTENANCE_EVERY} + {MAINTENANCE_AT}
                    + {MAINTENANCE_MINUTES}) * interval '1 minute',
                %(first)s::timestamptz + (w * {MAINTENANCE_EVERY}) * interval '1 minute'
            FROM generate_series(0, %(count)s / {MAINTENANCE_EVERY} - 1) w
            """,
            {**params, "count": per_service},
        )


# --- Evaluation ----------------------------------------------------------------------------


def mark_for_evaluation(world: dict, scope: str, limit: int | None) -> int:
    """Mark the tickets the evaluation should take (``evaluated_at`` NULL)."""
    from monitoring.models import Ticket

    table = Ticket._meta.db_table
    if scope == "none":
        return 0
    where = "" if scope == "all" else f"WHERE customer_id = {int(world['big']['customer'])}"
    if limit:
        customer = int(world["big"]["customer"])
        return _execute(
            f"""UPDATE {table} SET evaluated_at = NULL WHERE id IN (
                SELECT id FROM {table} WHERE customer_id = {customer}
                ORDER BY opened_at DESC LIMIT {int(limit)})"""
        )
    return _execute(f"UPDATE {table} SET evaluated_at = NULL {where}")


def evaluate(world: dict, scope: str, timings: Timings, now: datetime) -> dict[str, Any]:
    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.evaluation.tickets import evaluate_pending_tickets

    result: dict[str, Any] = {}
    if scope == "none":
        return result
    started = time.perf_counter()
    result["tickets_evaluated"] = timings.run(
        "evaluate_pending_tickets", evaluate_pending_tickets, now
    )
    seconds = time.perf_counter() - started
    result["tickets_per_second"] = round(result["tickets_evaluated"] / seconds, 1) if seconds else 0
    agreements = None if scope == "all" else [world["big"]["agreement"]]
    result["period_results"] = timings.run("evaluate_periods", evaluate_periods, now, agreements)
    return result


def counts() -> dict[str, int]:
    from django.db import connection

    from monitoring.models import (
        Alert,
        Breach,
        MaintenanceWindow,
        Outage,
        PeriodResult,
        Ticket,
        TicketPause,
        TicketStatusChange,
        TicketTimer,
        UptimeCheck,
    )

    models = {
        "tickets": Ticket,
        "status_changes": TicketStatusChange,
        "pauses": TicketPause,
        "timers": TicketTimer,
        "breaches": Breach,
        "alerts": Alert,
        "period_results": PeriodResult,
        "checks": UptimeCheck,
        "outages": Outage,
        "maintenance_windows": MaintenanceWindow,
    }
    result = {}
    with connection.cursor() as cursor:
        for name, model in models.items():
            cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
            result[name] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        result["database_bytes"] = cursor.fetchone()[0]
    return result


def big_customer_shape(world: dict) -> dict[str, int]:
    from monitoring.models import Breach, Ticket, TicketTimer

    customer = world["big"]["customer"]
    return {
        "tickets": Ticket.objects.filter(customer_id=customer).count(),
        "breaches": Breach.objects.filter(customer_id=customer).count(),
        "open_timers": TicketTimer.objects.filter(
            customer_id=customer, stopped_at__isnull=True
        ).count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--until",
        default=None,
        help="The data set's 'now' (YYYY-MM-DD, UTC midnight); default: today.",
    )
    parser.add_argument("--evaluate", default="all", choices=["all", "customer", "none"])
    parser.add_argument("--evaluate-limit", type=int, default=None, metavar="N")
    parser.add_argument("--tickets", type=int, default=None, help="Override the size's volume.")
    parser.add_argument("--checks", type=int, default=None, help="Override the size's volume.")
    parser.add_argument("--label", default=None, help="Name of the result files (default: size).")
    args = parser.parse_args(argv)

    size = SIZES[args.size]
    size = Size(
        tickets=args.tickets or size.tickets,
        checks=args.checks or size.checks,
        customers=size.customers,
        check_services=size.check_services,
    )
    label = args.label or args.size
    url = args.database_url or DEFAULT_DB.format(size=args.size.lower())
    until_day = date.fromisoformat(args.until) if args.until else datetime.now(UTC).date()
    until = datetime(until_day.year, until_day.month, until_day.day, tzinfo=UTC)
    start = until - timedelta(days=HISTORY_DAYS)
    timings = Timings()
    recreate_database(url)
    setup_django(url, args.redis_url)

    from django.core.management import call_command
    from django.utils import timezone

    timings.run("migrate", call_command, "migrate", verbosity=0)
    world = timings.run(
        "world (organisations, users, agreements in force)", build_world, size, start.date()
    )
    timings.run(
        f"tickets ({size.tickets:,}) with history and pauses",
        fill_tickets,
        size,
        world,
        args.seed,
        start,
        until,
    )
    timings.run(f"checks ({size.checks:,}), outages, maintenance", fill_checks, size, world, until)
    timings.run("vacuum analyze", _execute, "VACUUM (ANALYZE)")
    load_seconds = sum(timings.steps.values()) - timings.steps["migrate"]
    marked = mark_for_evaluation(
        world, "customer" if args.evaluate_limit else args.evaluate, args.evaluate_limit
    )
    evaluation = evaluate(
        world, "customer" if args.evaluate_limit else args.evaluate, timings, timezone.now()
    )
    timings.run("vacuum analyze (after evaluation)", _execute, "VACUUM (ANALYZE)")
    report = {
        "size": args.size,
        "label": label,
        "volume": {"tickets": size.tickets, "checks": size.checks, "customers": size.customers},
        "database_url": url,
        "seed": args.seed,
        "until": until,
        "evaluate": args.evaluate,
        "evaluate_limit": args.evaluate_limit,
        "marked_for_evaluation": marked,
        "machine": machine(),
        "timings_seconds": timings.steps,
        "load_seconds": round(load_seconds, 1),
        "evaluation": evaluation,
        "counts": counts(),
        "big_customer": big_customer_shape(world),
        "world": world,
    }
    write_json(RESULTS / f"generate-{label}.json", report)
    print(f"counts: {report['counts']}")
    print(f"big customer: {report['big_customer']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
