"""Per-priority SLA compliance of a real ServiceNow log: the UCI incident event log of 2016.

On a database of its own (created when missing; ``--recreate`` drops it first) the script
migrates, creates a provider, a customer and a source, drafts an agreement from a demo tier
(Gold by default: 24x7 support, effective 2016-01-01 to 2016-12-31), proposes, accepts and
signs it (an agreement whose effective date has passed is put in force by the last
signature), imports the whole file with the ``import_servicenow`` command (times read as
UTC, the 10 unreadable rows skipped), evaluates every ticket
(``evaluate_pending_tickets``) and every period (``evaluate_periods``) and times each step.

It prints Markdown: the timings, the per-priority response and resolution compliance per
month (``compliance_figures``), a per-priority summary over the year, the alerts and emails
the evaluation produced (2016 is far older than ``SLA_ALERT_MAX_AGE_MINUTES``, so every
alert is recorded quietly and no email is queued), and ServiceNow's own ``made_sla`` share
per priority read from the raw file, for comparison.

Usage (from the project root)::

    .venv/bin/python bench/uci_compliance.py --recreate \\
        --database-url postgres://postgres@127.0.0.1:5432/helper_evaldocs_uci

``--limit N`` imports only the first N incidents (in file order) for a quick run.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import secrets
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "uci-incident-log" / "incident_event_log.csv.zip"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helper_evaldocs_uci"
PRIORITIES = {"1 - Critical": "P1", "2 - High": "P2", "3 - Moderate": "P3", "4 - Low": "P4"}


# --- Database and Django -------------------------------------------------------------------


def prepare_database(url: str, recreate: bool) -> None:
    """Create the database in ``url`` when missing; drop it first with ``recreate``."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit(f"refusing the database name {name!r}")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        if recreate:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_django(url: str) -> None:
    """Point Django at ``url`` with a private broker and set it up."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "sla_portal.settings"
    # Production settings refuse a weak key; a random one per run is as good as any here.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    # The benchmark talks plain http to the portal and sends as fast as it can: no https
    # redirect and no API rate limits (the figures measure the ingest, not the throttle).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    for scope in ("USER", "ANON", "INGEST"):
        os.environ.setdefault(f"API_THROTTLE_{scope}", "off")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The import queues an evaluation task after commit. This script evaluates by itself, so
    # the task goes to a private filesystem broker that no worker reads, never to a shared
    # Redis where some worker of another database would pick it up.
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("SLA_VAR_DIR", "/tmp/uci-compliance-var")
    import django

    django.setup()


# --- Timing --------------------------------------------------------------------------------


class Timings:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def run(self, step: str, work: Callable[[], Any], note: Callable[[Any], str] = str) -> Any:
        print(f"... {step}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        self.rows.append((step, seconds, note(result)))
        print(f"    {seconds:.1f} s: {note(result)}", file=sys.stderr, flush=True)
        return result


# --- The raw file's own verdict ------------------------------------------------------------


def made_sla_by_priority(path: Path, numbers: set[str] | None) -> dict[str, tuple[int, int]]:
    """ServiceNow's ``made_sla`` per priority: (made, incidents), from each incident's last
    row (by ``sys_updated_at`` then ``sys_mod_count``), the same row the importer takes the
    final priority from."""
    last: dict[str, tuple[tuple, str, str]] = {}
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv") and "MACOSX" not in n)
        with archive.open(name) as raw:
            for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
                number = row["number"]
                if numbers is not None and number not in numbers:
                    continue
                key = (_sortable(row["sys_updated_at"]), int(row["sys_mod_count"]))
                seen = last.get(number)
                if seen is None or key >= seen[0]:
                    last[number] = (key, row["priority"], row["made_sla"])
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _key, priority, made in last.values():
        counts[PRIORITIES.get(priority, "?")][1] += 1
        if made == "true":
            counts[PRIORITIES.get(priority, "?")][0] += 1
    return {p: (made, total) for p, (made, total) in sorted(counts.items())}


def _sortable(value: str) -> tuple[int, ...]:
    day, month, rest = value.split("/")
    year, clock = rest.split(" ")
    hour, minute = clock.split(":")
    return int(year), int(month), int(day), int(hour), int(minute)


# --- The world -----------------------------------------------------------------------------


def create_agreement(tier_slug: str) -> Any:
    """A provider, a customer, their signatories and an agreement from ``tier_slug``, in
    force since 2016-01-01 (until 2016-12-31), signed by both sides."""
    from agreements.demo import seed_calendars, seed_services, seed_tiers
    from agreements.services import lifecycle
    from agreements.services.drafting import agreement_create_from_tier
    from sla_portal.core.models import Organisation, Role, User

    provider = Organisation.objects.create(
        name="Northwind IT Services", slug="northwind", kind=Organisation.Kind.PROVIDER
    )
    customer = Organisation.objects.create(name="UCI Example Customer", slug="uci")
    manager = User.objects.create_user(
        "manager", "manager@northwind.example", role=Role.SERVICE_MANAGER, organisation=provider
    )
    approver = User.objects.create_user(
        "approver", "approver@uci.example", role=Role.CUSTOMER_APPROVER, organisation=customer
    )
    tiers = seed_tiers(seed_calendars())
    services = seed_services(manager)
    agreement = agreement_create_from_tier(
        tier=tiers[tier_slug],
        customer=customer,
        title=f"Service desk 2016 – {tiers[tier_slug].name}",
        services=[services["portal"]],
        effective_from=date(2016, 1, 1),
        effective_to=date(2016, 12, 31),
        created_by=manager,
    )
    agreement.service_description = "Service desk of the UCI example (ServiceNow, 2016)."
    agreement.change_policy = "Not applicable: historical data."
    agreement.save()
    # Historical data: the sections it does not need stay empty, on purpose.
    version = lifecycle.propose(agreement, manager, confirm_incomplete=True)
    lifecycle.accept(agreement, approver, version.number)
    lifecycle.sign(agreement, manager)
    lifecycle.sign(agreement, approver)
    agreement.refresh_from_db()
    if agreement.status != "active":
        raise SystemExit(f"the agreement is {agreement.status}, not active")
    return agreement


def import_file(path: Path, agreement: Any, limit: int | None) -> str:
    from django.core.management import call_command

    source = path
    if limit:
        source = Path(os.environ["SLA_VAR_DIR"]) / f"uci-first-{limit}.csv"
        source.parent.mkdir(parents=True, exist_ok=True)
        _write_slice(path, source, limit)
    out = io.StringIO()
    call_command(
        "import_servicenow",
        str(source),
        customer="uci",
        source="ServiceNow (UCI)",
        timezone="UTC",
        agreement=agreement.reference,
        skip_invalid_rows=True,
        stdout=out,
    )
    return next(line for line in out.getvalue().splitlines() if line.startswith("Imported"))


def _write_slice(path: Path, target: Path, limit: int) -> None:
    """The rows of the first ``limit`` incidents of the file, in file order."""
    numbers: set[str] = set()
    with zipfile.ZipFile(path) as archive, target.open("w", newline="") as out:
        name = next(n for n in archive.namelist() if n.endswith(".csv") and "MACOSX" not in n)
        with archive.open(name) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8"))
            writer = csv.writer(out)
            writer.writerow(next(reader))
            for row in reader:
                if row[0] not in numbers and len(numbers) >= limit:
                    continue
                numbers.add(row[0])
                writer.writerow(row)


# --- Report --------------------------------------------------------------------------------


def summary(agreement: Any) -> list[str]:
    """Per priority over the year: tickets that met and missed, from the closed periods."""
    from monitoring.format import percent
    from monitoring.models import PeriodResult

    totals: dict[tuple[str, str], list] = {}
    for row in PeriodResult.objects.filter(
        agreement=agreement, metric__in=["response_time", "resolution_time"]
    ).order_by("target_key", "period_start"):
        entry = totals.setdefault(
            (row.metric, row.target_label), [0, 0, row.goal_target, row.goal_threshold, Counter()]
        )
        entry[0] += row.details.get("met", 0)
        entry[1] += row.details.get("missed", 0)
        entry[4][row.get_status_display()] += 1
    lines = [
        "| Target | Met | Missed | Share met | Compliance target / threshold | Months by status |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for (_metric, label), (met, missed, goal, threshold, months) in sorted(totals.items()):
        share = percent(met / (met + missed) * 100) if met + missed else "–"
        statuses = ", ".join(f"{name} {count}" for name, count in months.most_common())
        lines.append(
            f"| {label} | {met:,} | {missed:,} | {share} | {goal:g} % / {threshold:g} % "
            f"| {statuses} |"
        )
    return lines


def priority_mix(agreement: Any) -> list[str]:
    from django.db.models import Count, Min

    from monitoring.models import Ticket

    rows = (
        Ticket.objects.filter(agreement=agreement)
        .values("priority")
        .annotate(n=Count("pk"), first=Min("opened_at"))
        .order_by("priority")
    )
    return [f"{r['priority'] or '(none)'}: {r['n']:,}" for r in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--recreate", action="store_true", help="Drop the database first.")
    parser.add_argument("--tier", default="gold", choices=["gold", "silver"])
    parser.add_argument("--file", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N incidents.")
    parser.add_argument("--months", default="2016-01,2016-06,2016-12", help="Months to show.")
    args = parser.parse_args(argv)

    prepare_database(args.database_url, args.recreate)
    setup_django(args.database_url)

    from django.core.management import call_command
    from django.utils import timezone

    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.evaluation.tickets import evaluate_pending_tickets
    from monitoring.management.commands.compliance_figures import compliance_rows
    from monitoring.models import Alert, Breach, Ticket, TicketTimer
    from sla_portal.core.models import Notification

    timings = Timings()
    timings.run("migrate", lambda: call_command("migrate", verbosity=0), lambda _: "done")
    agreement = timings.run(
        "agreement (tier, propose, accept, sign)",
        lambda: create_agreement(args.tier),
        lambda a: f"{a.reference} {a.status}",
    )
    before = set(Notification.objects.values_list("pk", flat=True))
    timings.run("import_servicenow", lambda: import_file(args.file, agreement, args.limit))
    now = timezone.now()
    timings.run(
        "evaluate_pending_tickets",
        lambda: evaluate_pending_tickets(now),
        lambda n: f"{n:,} tickets, {TicketTimer.objects.count():,} timers",
    )
    timings.run(
        "evaluate_periods",
        lambda: evaluate_periods(now),
        lambda n: f"{n:,} period results",
    )
    numbers = None
    if args.limit:
        numbers = set(Ticket.objects.values_list("external_id", flat=True))
    made = timings.run(
        "made_sla from the raw file",
        lambda: made_sla_by_priority(args.file, numbers),
        lambda m: f"{sum(t for _, t in m.values()):,} incidents",
    )

    alert_mails = Notification.objects.exclude(pk__in=before).filter(kind__startswith="alert.")
    print(f"# UCI ServiceNow log against {agreement.title} ({agreement.reference})\n")
    scope = f", first {args.limit} incidents" if args.limit else ""
    print(f"Evaluated at {now:%Y-%m-%d %H:%M} UTC{scope}")
    print("\n## Timings\n\n| step | seconds | result |\n| --- | ---: | --- |")
    for step, seconds, note in timings.rows:
        print(f"| {step} | {seconds:.1f} | {note} |")
    print("\n## Tickets per priority\n\n" + ", ".join(priority_mix(agreement)))
    print("\n## Year 2016 per priority\n")
    print("\n".join(summary(agreement)))
    print("\n## ServiceNow's made_sla per priority (last row of each incident)\n")
    print("| Priority | made_sla true | Incidents | Share |\n| --- | ---: | ---: | ---: |")
    for priority, (yes, total) in made.items():
        print(f"| {priority} | {yes:,} | {total:,} | {yes / total * 100:.2f} % |")
    for metric in ("response_time", "resolution_time"):
        for month in args.months.split(","):
            year, number = (int(x) for x in month.split("-"))
            print(f"\n## {metric} {month}\n")
            print("\n".join(compliance_rows(agreement, metric, (year, number), (year, number))))
    print("\n## Alerts and emails\n")
    levels = Counter(Alert.objects.filter(agreement=agreement).values_list("level", "emailed"))
    for (level, emailed), count in sorted(levels.items()):
        print(f"- alerts {level}, emailed={emailed}: {count:,}")
    print(f"- breaches: {Breach.objects.filter(agreement=agreement).count():,}")
    print(f"- alert emails queued (Notification rows alert.*): {alert_mails.count()}")
    earliest = Ticket.objects.order_by("opened_at").values_list("opened_at", flat=True).first()
    latest = Ticket.objects.order_by("-opened_at").values_list("opened_at", flat=True).first()
    if earliest and latest:
        print(f"- tickets opened {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}")
    outside = Ticket.objects.filter(opened_at__gte=datetime(2017, 1, 1, tzinfo=UTC)).count()
    print(f"- tickets opened after the term (2016-12-31): {outside:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
