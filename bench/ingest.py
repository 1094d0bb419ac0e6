"""Benchmark of the bulk ingest paths (``monitoring.ingest``) and of the key queries at volume.

Recreates a PostgreSQL database of its own (the name must start with ``bench_``), migrates it,
creates customers, agreements, sources and services, then measures:

* ``tickets_ingest`` of a ticket batch through the REST endpoint
  (``POST /api/sources/<id>/tickets/bulk/``, Django test client, token authentication) and
  directly through the service: first send (create), the same batch again (unchanged) and a
  batch in which every ticket changed (update);
* ``checks_ingest`` of two maximal batches of checks (2 x 50,000), through REST and directly;
* optionally (``--fill-tickets``/``--fill-checks``) the same after pre-filling the tables with
  set-based SQL (``generate_series``, not through the service), plus ``EXPLAIN (ANALYZE,
  BUFFERS)`` of the queries the evaluation, the dashboards and the ingest itself need.

For each measurement: wall time, rows per second, SQL statements sent (counted with a
``connection.execute_wrapper``; ``CaptureQueriesContext`` would keep the text of every
2,000-row statement and distort both time and memory) and the peak resident set size of the
process during the measurement (``VmHWM``, reset before each measurement through
``/proc/self/clear_refs``; Linux only).

Usage (from the project root)::

    .venv/bin/python bench/ingest.py \\
        --database-url postgres://postgres@127.0.0.1:5432/bench_ingest \\
        --fill-tickets 2000000 --fill-checks 20000000 --json var/bench-ingest.json

Without ``--fill-*`` it runs only the ingest measurements on empty tables (about a minute).
``--drop`` removes the database at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICKET_BATCH = 10_000
CHECK_BATCH = 50_000  # monitoring.ingest.MAX_BATCH
CUSTOMERS = 20  # the pre-filled tickets are spread over this many customers and agreements
CHECK_SERVICES = 40  # the pre-filled checks are spread over this many services
FILL_TICKETS_FROM = datetime(2024, 1, 1, tzinfo=UTC)
FILL_TICKET_DAYS = 730
FILL_CHECKS_FROM = datetime(2024, 1, 1, tzinfo=UTC)
# An outage of 5 minutes every 2,000 checks in the pre-filled data.
OUTAGE_EVERY = 2000
OUTAGE_AT = 1000
OUTAGE_LENGTH = 5


# --- Database and Django -------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (only ``bench_*`` names)."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"bench_[a-z0-9_]+", name):
        raise SystemExit(f"refusing to recreate {name!r}: the name must match bench_[a-z0-9_]+")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def drop_database(url: str) -> None:
    """Drop the benchmark database again, so that its disk space is freed."""
    import psycopg2
    from django.db import connections

    connections.close_all()
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "sla_portal.settings"
    # Production settings refuse a weak key; a random one per run is as good as any here.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    # The benchmark talks plain http to the portal and sends as fast as it can: no https
    # redirect and no API rate limits (the figures measure the ingest, not the throttle).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    for scope in ("USER", "ANON", "INGEST"):
        os.environ.setdefault(f"API_THROTTLE_{scope}", "off")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


# --- Measuring -----------------------------------------------------------------------------


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as status:
        match = re.search(rf"^{key}:\s+(\d+) kB", status.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


class StatementCounter:
    """An execute wrapper counting the statements sent (``executemany`` counts once)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class Figure:
    stage: str
    scenario: str
    rows: int
    seconds: float
    cpu_seconds: float  # of this process: the Python side, less skewed by other load
    statements: int
    rss_before_mb: float
    peak_rss_mb: float
    result: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class Report:
    machine: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    fill_seconds: dict[str, float] = field(default_factory=dict)
    plans: list[dict[str, Any]] = field(default_factory=list)


def measure(report: Report, stage: str, scenario: str, rows: int, run: Callable[[], Any]) -> Any:
    """Run ``run()`` once and record time, statements and peak RSS."""
    from django.db import connection

    gc.collect()
    before = _status_kb("VmRSS")
    _reset_peak_rss()
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    peak = _status_kb("VmHWM")
    figure = Figure(
        stage,
        scenario,
        rows,
        seconds,
        cpu_seconds,
        counter.count,
        before / 1024,
        peak / 1024,
        str(result),
    )
    report.figures.append(figure)
    print(
        f"  {scenario:<48} {rows:>7,} rows {seconds:8.2f} s {figure.rows_per_second:>9,.0f} rows/s"
        f" (CPU {cpu_seconds:6.2f} s) {counter.count:>5} stmts"
        f"  peak RSS {peak / 1024:7.0f} MB  {result}",
        flush=True,
    )
    return result


# --- The world: customers, agreements, sources, services -----------------------------------


@dataclass
class World:
    manager: Any
    token: str
    agreements: list[Any]  # agreements[i] belongs to customers[i]
    customers: list[Any]
    desks: list[Any]  # one pre-filled source per customer
    rest_desk: Any
    direct_desk: Any
    monitor: Any
    portal: Any
    check_services: list[Any]


def build_world() -> World:
    from agreements.demo import seed_calendars, seed_services, seed_tiers
    from agreements.models import Service
    from agreements.services.drafting import agreement_create_from_tier
    from monitoring.models import Source
    from sla_portal.core.models import Organisation, Role, User
    from sla_portal.core.tokens import create_token_for_tests

    provider = Organisation.objects.create(
        name="Bench Provider", slug="bench-provider", kind=Organisation.Kind.PROVIDER
    )
    manager = User(
        username="bench_manager",
        organisation=provider,
        role=Role.SERVICE_MANAGER,
        email="manager@bench.example",
    )
    manager.set_unusable_password()
    manager.save()
    token = create_token_for_tests(manager)
    tiers = seed_tiers(seed_calendars())
    portal = seed_services(manager)["portal"]
    check_services = Service.objects.bulk_create(
        Service(name=f"Bench service {n:02d}", owner=manager) for n in range(CHECK_SERVICES)
    )
    customers, agreements, desks = [], [], []
    for n in range(CUSTOMERS):
        customer = Organisation.objects.create(name=f"Bench customer {n:02d}", slug=f"bench-{n}")
        agreement = agreement_create_from_tier(
            tier=tiers["gold"],
            customer=customer,
            title=f"Bench agreement {n:02d}",
            services=[portal, *check_services] if n == 0 else [portal],
            effective_from=date(2024, 1, 1),
            created_by=manager,
        )
        desk = Source.objects.create(customer=customer, name="Desk", timezone="Europe/Berlin")
        customers.append(customer)
        agreements.append(agreement)
        desks.append(desk)
    first = customers[0]
    return World(
        manager=manager,
        token=token,
        agreements=agreements,
        customers=customers,
        desks=desks,
        rest_desk=Source.objects.create(customer=first, name="REST desk"),
        direct_desk=Source.objects.create(customer=first, name="Direct desk"),
        monitor=Source.objects.create(customer=first, name="Monitor"),
        portal=portal,
        check_services=check_services,
    )


# --- Rows ----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def ticket_rows(
    count: int,
    prefix: str,
    reference: str,
    *,
    changed: bool = False,
    history: bool = True,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """A batch as a service desk sends it; ``changed`` gives the same tickets, every one of
    them changed (closed, another CSAT, one more history entry)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        opened = start + timedelta(minutes=rng.randrange(300 * 24 * 60))
        resolved = opened + timedelta(minutes=rng.randrange(120, 3000))
        is_open = n % 10 == 0
        row: dict[str, Any] = {
            "external_id": f"{prefix}-{n:07d}",
            "agreement": reference,
            "service": "Customer Portal",
            "priority": f"P{1 + n % 4}",
            "category": f"Category {n % 12}",
            "opened_at": _iso(opened),
            "first_response_at": _iso(opened + timedelta(minutes=5)),
            "resolved_at": None if is_open else _iso(resolved),
            "reopen_count": 0,
            "csat": None if is_open else 1 + n % 5,
        }
        entries = [
            {"at": _iso(opened), "status": "New"},
            {"at": _iso(opened + timedelta(minutes=10)), "status": "Waiting", "pauses_clock": True},
            {"at": _iso(opened + timedelta(minutes=70)), "status": "In progress"},
        ]
        if not is_open:
            entries.append({"at": _iso(resolved), "status": "Resolved", "resolves": True})
        if changed:
            closed = (resolved if not is_open else opened) + timedelta(days=1)
            row["closed_at"] = _iso(closed)
            row["csat"] = 1 + (n + 1) % 5
            entries.append({"at": _iso(closed), "status": "Closed"})
        if history:
            row["status_history"] = entries
        rows.append(row)
    return rows


def check_rows(
    count: int, start: datetime, *, flip_every: int = 0, response_base: int = 100
) -> list[dict[str, Any]]:
    """One check a minute from ``start``; down for 3 minutes a day. ``flip_every`` turns
    every n-th check's status around (up to down and back), so the batch changes outages."""
    rows = []
    for minute in range(count):
        down = 600 <= minute % 1440 < 603
        if flip_every and minute % flip_every == 0:
            down = not down
        rows.append(
            {
                "checked_at": _iso(start + timedelta(minutes=minute)),
                "status": "down" if down else "up",
                "response_ms": None if down else response_base + minute % 50,
            }
        )
    return rows


def chunks(rows: Sequence[dict], size: int) -> Iterator[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --- Ingest scenarios ----------------------------------------------------------------------


def rest_post(world: World, path: str, rows: Sequence[dict]) -> Callable[[], str]:
    """A request ready to send: the body is encoded before the clock starts, as a client
    would have it on disk."""
    from django.test import Client

    client = Client()
    body = json.dumps(list(rows)).encode()

    def send() -> str:
        response = client.post(
            path,
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {world.token}",
        )
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.content[:500]!r}")
        return response.content.decode()

    return send


def ingest_tickets(report: Report, world: World, stage: str, prefix: str, desk: Any) -> None:
    """Create, re-send and change a ticket batch through REST and directly."""
    from monitoring.ingest.tickets import tickets_ingest

    reference = world.agreements[0].reference
    n = TICKET_BATCH
    if stage == "empty":
        path = f"/api/sources/{world.rest_desk.pk}/tickets/bulk/"
        fresh = ticket_rows(n, f"{prefix}R", reference)
        changed = ticket_rows(n, f"{prefix}R", reference, changed=True)
        measure(report, stage, "tickets REST: create", n, rest_post(world, path, fresh))
        measure(
            report, stage, "tickets REST: re-send (unchanged)", n, rest_post(world, path, fresh)
        )
        measure(
            report, stage, "tickets REST: every ticket changed", n, rest_post(world, path, changed)
        )
        del fresh, changed
    for size in (1_000, n) if stage == "empty" else (n,):
        fresh = ticket_rows(size, f"{prefix}D{size}", reference)
        changed = ticket_rows(size, f"{prefix}D{size}", reference, changed=True)
        label = f"tickets direct ({size:,})"
        measure(report, stage, f"{label}: create", size, partial(tickets_ingest, desk, fresh))
        measure(report, stage, f"{label}: re-send", size, partial(tickets_ingest, desk, fresh))
        measure(report, stage, f"{label}: changed", size, partial(tickets_ingest, desk, changed))
    plain = ticket_rows(n, f"{prefix}P", reference, history=False)
    plain_changed = ticket_rows(n, f"{prefix}P", reference, history=False, changed=True)
    label = "tickets direct, no history"
    measure(report, stage, f"{label}: create", n, lambda: tickets_ingest(desk, plain))
    measure(report, stage, f"{label}: all changed", n, lambda: tickets_ingest(desk, plain_changed))


def ingest_checks(report: Report, world: World, stage: str, service: Any, start: datetime) -> None:
    """Two maximal batches (100,000 checks) appended, re-sent and changed."""
    from monitoring.ingest.uptime import checks_ingest

    total = 2 * CHECK_BATCH
    rows = check_rows(total, start)
    flipped = check_rows(total, start, flip_every=97)
    first, second = rows[:CHECK_BATCH], rows[CHECK_BATCH:]
    if stage == "empty":
        path = f"/api/sources/{world.monitor.pk}/checks/bulk/?service={service.pk}"
        measure(
            report,
            stage,
            "checks REST: create (1 x 50,000)",
            CHECK_BATCH,
            rest_post(world, path, first),
        )
    else:
        measure(
            report,
            stage,
            "checks direct: create (1 x 50,000)",
            CHECK_BATCH,
            lambda: checks_ingest(world.monitor, service, first),
        )
    measure(
        report,
        stage,
        "checks direct: append (1 x 50,000)",
        CHECK_BATCH,
        lambda: checks_ingest(world.monitor, service, second),
    )

    def each(batch_rows: list[dict]) -> Callable[[], list[str]]:
        return lambda: [
            str(checks_ingest(world.monitor, service, part))
            for part in chunks(batch_rows, CHECK_BATCH)
        ]

    measure(report, stage, "checks direct: re-send (2 x 50,000)", total, each(rows))
    measure(report, stage, "checks direct: 1 in 97 flipped (2 x 50,000)", total, each(flipped))


# --- Pre-filling with set-based SQL --------------------------------------------------------


def _execute(sql: str, params: Sequence[Any] = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def fill_tickets(report: Report, world: World, count: int) -> None:
    """``count`` tickets spread evenly over the customers' desks and two years, with three
    status changes and one pause each. About 0.4 % are open (the newest 0.3 % and every
    1,000th, left open for long) and every 500th is waiting for evaluation."""
    from monitoring.models import Ticket, TicketPause, TicketStatusChange

    ticket = Ticket._meta.db_table
    _execute(
        "CREATE TEMP TABLE bench_desks (idx int, source_id bigint, customer_id bigint,"
        " agreement_id bigint, service_id bigint)"
    )
    for idx, (desk, agreement) in enumerate(zip(world.desks, world.agreements, strict=True)):
        _execute(
            "INSERT INTO bench_desks VALUES (%s, %s, %s, %s, %s)",
            [idx, desk.pk, desk.customer_id, agreement.pk, world.portal.pk],
        )
    started = time.perf_counter()
    step = 500_000
    for low in range(1, count + 1, step):
        high = min(low + step - 1, count)
        _execute(
            f"""
            INSERT INTO {ticket} (source_id, external_id, customer_id, agreement_id, service_id,
                priority, category, state, opened_at, first_response_at, resolved_at, closed_at,
                reopen_count, csat, changed_at, evaluated_at, ingest_digest)
            SELECT d.source_id, 'FILL-' || lpad(g::text, 8, '0'), d.customer_id, d.agreement_id,
                d.service_id, 'P' || (1 + g %% 4), 'Category ' || (g %% 12),
                CASE WHEN o.is_open THEN 'open' ELSE 'closed' END,
                t.opened, t.opened + interval '5 minutes',
                CASE WHEN o.is_open THEN NULL ELSE t.opened + interval '4 hours' END,
                CASE WHEN o.is_open THEN NULL ELSE t.opened + interval '28 hours' END,
                0, CASE WHEN o.is_open THEN NULL ELSE 1 + g %% 5 END,
                t.opened + interval '28 hours',
                CASE WHEN g %% 500 = 7 THEN NULL ELSE t.opened + interval '29 hours' END,
                md5(g::text)
            FROM generate_series(%s, %s) g
            JOIN bench_desks d ON d.idx = g %% %s
            CROSS JOIN LATERAL (SELECT %s::timestamptz
                + (g::float8 / %s) * interval '{FILL_TICKET_DAYS} days' AS opened) t
            CROSS JOIN LATERAL (SELECT g > %s * 0.997 OR g %% 1000 = 0 AS is_open) o
            """,
            [low, high, len(world.desks), FILL_TICKETS_FROM, count, count],
        )
        print(f"  tickets {high:>12,} ({time.perf_counter() - started:6.0f} s)", flush=True)
    report.fill_seconds["tickets"] = time.perf_counter() - started
    started = time.perf_counter()
    _execute(
        f"""
        INSERT INTO {TicketStatusChange._meta.db_table} (ticket_id, at, status, pauses_clock,
            resolves)
        SELECT t.id, t.opened_at + s.offset_, s.status, s.pauses, s.resolves
        FROM {ticket} t CROSS JOIN (VALUES (interval '0', 'New', false, false),
            (interval '10 minutes', 'Waiting', true, false),
            (interval '70 minutes', 'In progress', false, false)) s(offset_, status, pauses,
            resolves)
        WHERE t.external_id LIKE 'FILL-%%'
        """
    )
    _execute(
        f"""
        INSERT INTO {TicketPause._meta.db_table} (ticket_id, start, "end", reason)
        SELECT id, opened_at + interval '10 minutes', opened_at + interval '70 minutes',
            'Waiting'
        FROM {ticket} WHERE external_id LIKE 'FILL-%%'
        """
    )
    report.fill_seconds["ticket history"] = time.perf_counter() - started


def fill_checks(report: Report, world: World, count: int) -> int:
    """``count`` checks spread over the check services, one a minute from 2024-01-01, with
    a 5-minute outage every 2,000 checks (and its Outage row). Returns checks per service."""
    from monitoring.models import Outage, UptimeCheck

    per_service = count // len(world.check_services)
    # %% because the statement goes through the driver's parameter substitution.
    down = (
        f"m %% {OUTAGE_EVERY} >= {OUTAGE_AT} AND m %% {OUTAGE_EVERY} < {OUTAGE_AT + OUTAGE_LENGTH}"
    )
    started = time.perf_counter()
    for n, service in enumerate(world.check_services):
        _execute(
            f"""
            INSERT INTO {UptimeCheck._meta.db_table} (service_id, source_id, checked_at, status,
                response_ms)
            SELECT %s, %s, %s::timestamptz + m * interval '1 minute',
                CASE WHEN {down} THEN 'down' ELSE 'up' END,
                CASE WHEN {down} THEN NULL ELSE 100 + m %% 50 END
            FROM generate_series(0, %s - 1) m
            """,
            [service.pk, world.monitor.pk, FILL_CHECKS_FROM, per_service],
        )
        _execute(
            f"""
            INSERT INTO {Outage._meta.db_table} (service_id, source_id, started_at, ended_at,
                cause)
            SELECT %s, %s,
                %s::timestamptz + (k * {OUTAGE_EVERY} + {OUTAGE_AT}) * interval '1 minute',
                %s::timestamptz + (k * {OUTAGE_EVERY} + {OUTAGE_AT + OUTAGE_LENGTH})
                    * interval '1 minute', ''
            FROM generate_series(0, (%s - {OUTAGE_AT + OUTAGE_LENGTH + 1}) / {OUTAGE_EVERY}) k
            """,
            [service.pk, world.monitor.pk, FILL_CHECKS_FROM, FILL_CHECKS_FROM, per_service],
        )
        if n % 5 == 4 or n == len(world.check_services) - 1:
            elapsed = time.perf_counter() - started
            print(f"  checks {(n + 1) * per_service:>12,} ({elapsed:6.0f} s)", flush=True)
    report.fill_seconds["checks and outages"] = time.perf_counter() - started
    return per_service


def vacuum_analyze(report: Report) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    report.fill_seconds["vacuum analyze"] = time.perf_counter() - started


# --- Query plans ---------------------------------------------------------------------------

INDEX_USE = re.compile(
    r"(Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)"
)
SEQ_SCAN = re.compile(r"Seq Scan on (\S+)")
EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")


def explain_queries(report: Report, world: World, per_service: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the reads the evaluation, dashboards and ingest need.

    Each query runs once to warm the caches, then is explained; the plans are kept whole in
    the JSON report."""
    from django.db.models import Count, Q

    from monitoring.models import Outage, Ticket, UptimeCheck
    from monitoring.selectors.ingest import (
        outages_visible_to,
        tickets_visible_to,
        uptime_checks_visible_to,
    )
    from sla_portal.core.models import Role, User

    viewer = User(
        username="bench_viewer", organisation=world.customers[0], role=Role.CUSTOMER_VIEWER
    )
    viewer.set_unusable_password()
    viewer.save()
    agreement = world.agreements[1]
    service = world.check_services[5]
    month = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    mid_timeline = FILL_CHECKS_FROM + timedelta(minutes=per_service // 2)
    # 30 days in the middle of each service's pre-filled timeline.
    check_month = (mid_timeline - timedelta(days=15), mid_timeline + timedelta(days=15))
    desk_ids = [f"FILL-{g:08d}" for g in range(len(world.desks), 10_001 * len(world.desks), 20)]
    queries = {
        "unevaluated sweep: 1,000 oldest (ticket_unevaluated)": Ticket.objects.filter(
            evaluated_at__isnull=True
        )
        .order_by("changed_at")
        .values_list("pk", "changed_at")[:1000],
        "tickets of an agreement opened in a month": Ticket.objects.filter(
            agreement=agreement, opened_at__gte=month[0], opened_at__lt=month[1]
        ).order_by("opened_at"),
        "open tickets of an agreement": Ticket.objects.filter(
            agreement=agreement, state=Ticket.State.OPEN
        ).order_by(),
        "open tickets per agreement (all agreements)": Ticket.objects.filter(
            state=Ticket.State.OPEN
        )
        .order_by()
        .values("agreement")
        .annotate(n=Count("id")),
        "ingest lookup: 10,000 external ids of a source": Ticket.objects.filter(
            source=world.desks[0], external_id__in=desk_ids[:10_000]
        )
        .order_by()
        .values_list("external_id", "pk", "ingest_digest"),
        "customer's ticket list, first page (tickets_visible_to)": tickets_visible_to(viewer)[:50],
        "checks of a service in a month": UptimeCheck.objects.filter(
            service=service, checked_at__gte=check_month[0], checked_at__lt=check_month[1]
        )
        .order_by("checked_at")
        .values_list("checked_at", "status"),
        "uptime counts of a service in a month": UptimeCheck.objects.filter(
            service=service, checked_at__gte=check_month[0], checked_at__lt=check_month[1]
        )
        .order_by()
        .values("service")
        .annotate(
            total=Count("id"),
            down=Count("id", filter=Q(status=UptimeCheck.Status.DOWN)),
        ),
        "outages of a service overlapping a month": Outage.objects.filter(
            service=service, started_at__lt=check_month[1]
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=check_month[0]))
        .order_by("started_at"),
        "outage recompute: last up check before a batch": UptimeCheck.objects.filter(
            service=service, status=UptimeCheck.Status.UP, checked_at__lt=mid_timeline
        )
        .order_by("-checked_at")
        .values_list("checked_at", flat=True)[:1],
        "outage recompute: outages after the anchor (append)": Outage.objects.filter(
            service=service
        ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=mid_timeline)),
        "customer's checks list, first page (uptime_checks_visible_to)": (
            uptime_checks_visible_to(viewer)[:50]
        ),
        "customer's outages list, first page (outages_visible_to)": outages_visible_to(viewer)[:50],
    }
    for name, queryset in queries.items():
        list(queryset)  # warm
        plan = queryset.explain(analyze=True, buffers=True)
        indexes = sorted({match[1] for match in INDEX_USE.findall(plan)})
        seq = sorted(set(SEQ_SCAN.findall(plan)))
        execution = EXECUTION.search(plan)
        entry = {
            "query": name,
            "ms": float(execution.group(1)) if execution else None,
            "indexes": indexes,
            "seq_scans": seq,
            "plan": plan,
        }
        report.plans.append(entry)
        print(
            f"  {name:<62} {entry['ms'] or 0:9.1f} ms  index: {', '.join(indexes) or '-'}"
            f"  seq: {', '.join(seq) or '-'}",
            flush=True,
        )


# --- Report --------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    from django import get_version
    from django.db import connection

    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = _meminfo_kb("MemTotal")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "max_wal_size", "synchronous_commit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{memory / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": get_version(),
        "postgresql": version.split(" on ")[0],
        "postgresql settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
    }


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _meminfo_kb(key: str) -> int:
    with open("/proc/meminfo") as info:
        match = re.search(rf"^{key}:\s+(\d+) kB", info.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def table_sizes() -> dict[str, dict[str, Any]]:
    """Rows and on-disk size (table, indexes) of the monitoring tables."""
    from django.db import connection

    from monitoring.models import Outage, Ticket, TicketPause, TicketStatusChange, UptimeCheck

    sizes = {}
    with connection.cursor() as cursor:
        for model in (Ticket, TicketStatusChange, TicketPause, UptimeCheck, Outage):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT count(*), pg_table_size(%s), pg_indexes_size(%s) FROM {table}",
                [table, table],
            )
            rows, table_bytes, index_bytes = cursor.fetchone()
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)"
                " FROM pg_index WHERE indrelid = %s::regclass ORDER BY 1",
                [table],
            )
            sizes[table] = {
                "rows": rows,
                "table_mb": round(table_bytes / 2**20),
                "indexes_mb": round(index_bytes / 2**20),
                "indexes": {name: round(size / 2**20) for name, size in cursor.fetchall()},
            }
        cursor.execute("SELECT pg_database_size(current_database())")
        sizes["database"] = {"mb": round(cursor.fetchone()[0] / 2**20)}
    return sizes


def print_markdown(report: Report) -> None:
    print("\n| stage | scenario | rows | s | CPU s | rows/s | statements | peak RSS MB | result |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for f in report.figures:
        print(
            f"| {f.stage} | {f.scenario} | {f.rows:,} | {f.seconds:.2f} | {f.cpu_seconds:.2f}"
            f" | {f.rows_per_second:,.0f}"
            f" | {f.statements} | {f.peak_rss_mb:.0f} | {f.result} |"
        )
    if report.plans:
        print("\n| query | ms | indexes | seq scans |")
        print("| --- | ---: | --- | --- |")
        for p in report.plans:
            print(
                f"| {p['query']} | {p['ms']} | {', '.join(p['indexes']) or '-'}"
                f" | {', '.join(p['seq_scans']) or '-'} |"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgres://…/bench_<name>")
    parser.add_argument("--fill-tickets", type=int, default=0, help="pre-filled tickets")
    parser.add_argument("--fill-checks", type=int, default=0, help="pre-filled checks")
    parser.add_argument("--json", type=Path, help="write every figure and plan here")
    parser.add_argument(
        "--skip-empty", action="store_true", help="skip the measurements on empty tables"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args(argv)

    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    report = Report(machine=machine_info())
    # Other work on the machine skews timings: the load is recorded with the figures.
    report.machine["load at start (1/5/15 min)"] = _load()
    world = build_world()
    if not args.skip_empty:
        print("Empty tables", flush=True)
        ingest_tickets(report, world, "empty", "E", world.direct_desk)
        ingest_checks(
            report, world, "empty", world.check_services[-1], datetime(2026, 1, 1, tzinfo=UTC)
        )
    if args.fill_tickets or args.fill_checks:
        print("Pre-filling", flush=True)
        fill_tickets(report, world, args.fill_tickets)
        per_service = fill_checks(report, world, args.fill_checks)
        vacuum_analyze(report)
        print(f"  fill times: {report.fill_seconds}", flush=True)
        print("Filled tables", flush=True)
        ingest_tickets(report, world, "filled", "S", world.desks[0])
        append_at = FILL_CHECKS_FROM + timedelta(minutes=per_service)
        ingest_checks(report, world, "filled", world.check_services[0], append_at)
        print("Query plans", flush=True)
        explain_queries(report, world, per_service)
    report.machine["load at end (1/5/15 min)"] = _load()
    report.sizes = table_sizes()
    print(json.dumps({"machine": report.machine, "sizes": report.sizes}, indent=1))
    print_markdown(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(report)
        for figure, row in zip(report.figures, data["figures"], strict=True):
            row["rows_per_second"] = round(figure.rows_per_second)
        args.json.write_text(json.dumps(data, indent=1, default=str))
    if args.drop:
        drop_database(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
