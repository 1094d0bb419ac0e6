"""A fault scenario: private services, the portal's processes, tickets with known moments,
and the count of what the SMTP server received for each (alert, recipient).

``Stack`` is set up once per test module: a private PostgreSQL cluster with a template
database (migrated and seeded by ``tests.support.fault_driver``), a private Redis and the
log directory. Each scenario gets a copy of the template (``CREATE DATABASE … TEMPLATE``,
a fraction of a second), an emptied Redis and an SMTP server of its own.

Tickets are opened through the driver at a moment it reports, so each alert's moment is
known without asking the code under test: opened + 6 s (warning), + 12 s (target missed),
+ 24 s (threshold breached). Each accepted message is traced by its Message-ID to its
``Notification`` row and alert; the ``Outcome`` says what was expected, received, duplicated
and lost, and how late emails and alert rows were after their moments.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.fault_driver import LEVEL_OFFSETS
from tests.support.faults import (
    ROOT,
    FaultSMTP,
    PortalProcess,
    PrivatePostgres,
    PrivateRedis,
    celery_beat,
    celery_worker,
    manage_command,
)

TEMPLATE = "fault_template"
MESSAGE_ID = re.compile(r"<notification\.(\d+)\.")
TABLE_DIR = ROOT / "var" / "faults"
LEVELS = tuple(LEVEL_OFFSETS)
# The sender's socket timeout, as in production (settings: EMAIL_TIMEOUT): a hanging SMTP
# server costs each attempt this long.
EMAIL_TIMEOUT_SECONDS = 20


class Stack:
    """The private services one fault module shares (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg = PrivatePostgres()
        self.redis = PrivateRedis(root / "redis")
        self.logs = root / "logs"
        self.seeded: dict = {}

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pg.init()
        self.pg.start()
        self.redis.start()
        self.pg.create_database(TEMPLATE)
        env = self.env(TEMPLATE, smtp_port=0)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrate.returncode:
            raise RuntimeError(f"migrate failed: {migrate.stdout[-2000:]}{migrate.stderr[-3000:]}")
        self.seeded = self.driver(TEMPLATE, 0, "seed")

    def stop(self) -> None:
        self.redis.stop()
        self.pg.destroy()

    def env(self, database: str, smtp_port: int, queue: str = "faults") -> dict[str, str]:
        """What every process of a scenario runs with: only private services."""
        import os

        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "DATABASE_URL": self.pg.url(database),
                "DB_CONN_MAX_AGE": "0",
                "REDIS_URL": self.redis.url(0),
                "CELERY_BROKER_URL": self.redis.url(0),
                "CELERY_QUEUE": queue,
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "EMAIL_TIMEOUT": str(EMAIL_TIMEOUT_SECONDS),
                "DEBUG": "1",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if not smtp_port:
            env.pop("EMAIL_HOST")
        return env

    def driver(self, database: str, smtp_port: int, *args: str, timeout: float = 600) -> dict:
        """Run ``tests.support.fault_driver`` on ``database``; its JSON answer."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.fault_driver", *args],
            cwd=ROOT,
            env=self.env(database, smtp_port),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"driver {args} failed: {done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Outcome:
    """What one scenario's SMTP server received, measured against what was expected."""

    scenario: str
    alerts_expected: int
    emails_expected: int
    emails_received: int
    duplicates: int
    lost: list[tuple[str, str, str]]
    # Levels raised only as part of a higher level's alert, because the loop came late.
    passed_over: int
    unexpected: list[tuple[str, str, str]]
    email_latency: list[float]
    alert_latency: list[float]
    # Alert emails whose row is not recorded as sent at the end: each is an email still to
    # go out (a duplicate, when the server took it already) or one given up on.
    unsettled: list[tuple[str, str, str, str]]
    # (moment, raised_at of the alert standing for it), for latencies counted otherwise.
    alert_times: list[tuple[datetime, datetime]]
    note: str = ""

    def row(self) -> dict:
        return {
            "scenario": self.scenario,
            "alerts expected": self.alerts_expected,
            "emails expected": self.emails_expected,
            "emails received": self.emails_received,
            "duplicates": self.duplicates,
            "lost": len(self.lost),
            "passed over": self.passed_over,
            "unsettled": len(self.unsettled),
            "email p50/p99/max s": _spread(self.email_latency),
            "alert row p50/p99/max s": _spread(self.alert_latency),
            "note": self.note,
        }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 values is their maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _spread(values: list[float]) -> str:
    if not values:
        return "–"
    return "/".join(f"{percentile(values, p):.2f}" for p in (0.5, 0.99, 1.0))


class Scenario:
    """One scenario's database, SMTP server, processes and tickets."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.stack = stack
        self.name = name
        self.database = "fault_" + re.sub(r"\W", "_", name)
        self.smtp = FaultSMTP()
        self.processes: list[PortalProcess] = []
        self.opened: dict[str, datetime] = {}
        self.log_dir = stack.logs / self.database

    def __enter__(self) -> Scenario:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stack.redis.flush()
        self.stack.pg.create_database(self.database, template=TEMPLATE)
        self.smtp.start()
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.stop()
        self.smtp.stop()
        with contextlib.suppress(Exception):
            self.stack.pg.drop_database(self.database)

    # --- processes ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return self.stack.env(self.database, self.smtp.port)

    def worker(self, name: str = "worker", concurrency: int = 2) -> PortalProcess:
        process = celery_worker(name, self.env(), self.log_dir, concurrency)
        self.processes.append(process)
        return process

    def beat(self, name: str = "beat") -> PortalProcess:
        process = celery_beat(name, self.env(), self.log_dir)
        self.processes.append(process)
        return process

    def command(self, name: str, command: str, ready: bytes) -> PortalProcess:
        process = manage_command(name, command, self.env(), self.log_dir, ready)
        self.processes.append(process)
        return process

    def deadlines(self, name: str = "deadlines") -> PortalProcess:
        """``manage.py run_deadlines``: the deadline loop, from the database alone."""
        return self.command(name, "run_deadlines", b"deadline loop started")

    def mailer(self, name: str = "mailer") -> PortalProcess:
        """``manage.py run_mailer``: the process that sends the email."""
        return self.command(name, "run_mailer", b"Mailer started")

    def portal(self, suffix: str = "") -> list[PortalProcess]:
        """The processes ``run_portal`` supervises besides the web server: the Celery worker
        and beat, the deadline loop and the mailer (the mailer last)."""
        return [
            self.worker(f"worker{suffix}"),
            self.beat(f"beat{suffix}"),
            self.deadlines(f"deadlines{suffix}"),
            self.mailer(f"mailer{suffix}"),
        ]

    def age_claims(self, by: timedelta) -> int:
        """Move the claim of every row left ``sending`` back by ``by``: time passing for
        those rows only, so the reclaim of a dead sender's rows is seen without waiting."""
        with (
            contextlib.closing(self.stack.pg.connect(self.database)) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE core_notification SET claimed_at = claimed_at - %s"
                " WHERE status = 'sending'",
                [by],
            )
            return cursor.rowcount

    def start(self, *processes: PortalProcess) -> float:
        """Launch together, wait until each is up; return how long that took."""
        started = time.monotonic()
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_ready()
        return time.monotonic() - started

    # --- data ----------------------------------------------------------------------------------

    def driver(self, *args: str) -> dict:
        return self.stack.driver(self.database, self.smtp.port, *args)

    def open_tickets(self, prefix: str, count: int) -> datetime:
        """Open ``count`` P1 tickets now (through the driver); return their opening moment."""
        answer = self.driver("open", prefix, str(count))
        opened_at = datetime.fromisoformat(answer["opened_at"])
        for ticket in answer["tickets"]:
            self.opened[ticket] = opened_at
        return opened_at

    def moment(self, ticket: str, level: str) -> datetime:
        return self.opened[ticket] + timedelta(seconds=LEVEL_OFFSETS[level])

    def last_moment(self) -> datetime:
        return max(self.moment(ticket, "breached") for ticket in self.opened)

    def expected(self) -> set[tuple[str, str, str]]:
        """(ticket, level, recipient) of every alert email the opened tickets must cause."""
        recipients = self.stack.seeded["recipients"]
        return {
            (ticket, level, recipient)
            for ticket in self.opened
            for level in LEVELS
            for recipient in recipients[level]
        }

    # --- what arrived ----------------------------------------------------------------------------

    def alert_rows(self) -> tuple[dict[int, tuple[str, str]], list, list]:
        """Notification id → (subject, level) of every alert email; every alert as (subject,
        level, raised_at); (subject, level, recipient, status) of alert emails not sent. The
        subject is the ticket's external id, or ``period <id>`` for a period's alert."""
        subject = "COALESCE(t.external_id, 'period ' || a.period_result_id)"
        # A period's burn-rate rules each raise their own alert at the same level (two rules
        # paging on one outage are two alerts, two emails): the rule is part of the level.
        level = "a.level || CASE WHEN a.burn_rule <> '' THEN ':' || a.burn_rule ELSE '' END"
        with (
            contextlib.closing(self.stack.pg.connect(self.database)) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"SELECT n.id, {subject}, {level}, n.recipient, n.status"
                " FROM core_notification n"
                " JOIN monitoring_alert a ON n.key = 'alert:' || a.id"
                " LEFT JOIN monitoring_ticket t ON t.id = a.ticket_id"
            )
            rows = cursor.fetchall()
            cursor.execute(
                f"SELECT {subject}, {level}, a.raised_at FROM monitoring_alert a"
                " LEFT JOIN monitoring_ticket t ON t.id = a.ticket_id"
            )
            alerts = list(cursor.fetchall())
        notifications = {row[0]: (row[1], row[2]) for row in rows}
        unsettled = sorted((row[1], row[2], row[3], row[4]) for row in rows if row[4] != "sent")
        return notifications, alerts, unsettled

    def arrivals(self, notifications: dict[int, tuple[str, str]]) -> dict[tuple, list[datetime]]:
        """(subject, level, recipient) → arrival times of each copy the server accepted; an
        email that is no alert's is keyed ``("?", subject line, recipient)``."""
        copies: dict[tuple, list[datetime]] = {}
        for arrival in list(self.smtp.arrivals):
            match = MESSAGE_ID.search(arrival.message_id)
            key = notifications.get(int(match.group(1))) if match else None
            subject, level = key or ("?", arrival.subject)
            copies.setdefault((subject, level, arrival.recipient), []).append(arrival.at)
        return copies

    def wait_for_all(self, timeout: float, settle: float = 3.0) -> None:
        """Until no expected email is missing (or ``timeout``), then ``settle`` seconds more,
        so that a copy sent late is counted too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the database may be restarting
                if not self.outcome().lost and datetime.now(UTC) > self.last_moment():
                    break
            time.sleep(0.25)
        time.sleep(settle)

    def outcome(self, note: str = "") -> Outcome:
        """What arrived, measured against the opened tickets' levels and recipients.

        A level found already passed (the loop came late: the ticket is over its next level
        by then) raises only the higher level's alert, whose email also goes to the people of
        the level passed over; that is the portal's rule, so such a level counts as *passed
        over*, not lost, and its latency is that of the alert and email standing for it."""
        recipients = self.stack.seeded["recipients"]
        notifications, alerts, unsettled = self.alert_rows()
        copies = self.arrivals(notifications)
        raised = {(subject, level): at for subject, level, at in alerts}
        lost, email_latency, alert_times = [], [], []
        passed_over = 0
        for ticket in self.opened:
            for index, level in enumerate(LEVELS):
                moment = self.moment(ticket, level)
                standing = [above for above in LEVELS[index:] if (ticket, above) in raised]
                if not standing:
                    lost += [(ticket, level, r) for r in recipients[level]]
                    continue
                passed_over += standing[0] != level
                alert_times.append((moment, raised[(ticket, standing[0])]))
                for recipient in recipients[level]:
                    arrived = copies.get((ticket, standing[0], recipient))
                    if arrived:
                        email_latency.append((min(arrived) - moment).total_seconds())
                    else:
                        lost.append((ticket, level, recipient))
        unexpected = [
            key
            for key in copies
            if not key[0].startswith("period ")
            and (
                key[0] not in self.opened
                or key[1] not in LEVELS
                or key[2] not in recipients[key[1]]
            )
        ]
        ticket_emails = sum(len(v) for k, v in copies.items() if k[0] in self.opened)
        period_emails = sum(len(v) for k, v in copies.items() if k[0].startswith("period "))
        extra = f"{period_emails} period alert emails" if period_emails else ""
        return Outcome(
            scenario=self.name,
            alerts_expected=len(self.opened) * len(LEVELS),
            emails_expected=len(self.expected()),
            emails_received=ticket_emails,
            duplicates=sum(len(v) - 1 for v in copies.values()),
            lost=sorted(lost),
            passed_over=passed_over,
            unexpected=sorted(unexpected),
            email_latency=email_latency,
            alert_latency=[(raised - moment).total_seconds() for moment, raised in alert_times],
            unsettled=unsettled,
            alert_times=alert_times,
            note="; ".join(part for part in (note, extra) if part),
        )

    def logs(self) -> str:
        """The tail of every process's log, for a failure message."""
        parts = []
        for process in self.processes:
            tail = process.output()[-1500:].decode(errors="replace")
            parts.append(f"--- {process.name} ---\n{tail}")
        return "\n".join(parts)


def assert_exactly_once(outcome: Outcome, scenario: Scenario) -> None:
    """None lost, none duplicated, nothing unexpected, every row settled as sent: the promise
    of every scenario. The row goes into the fault table first, whatever the verdict."""
    record(outcome)
    problems = []
    if outcome.lost:
        problems.append(f"lost {len(outcome.lost)}: {outcome.lost[:10]}")
    if outcome.duplicates:
        problems.append(f"{outcome.duplicates} duplicates")
    if outcome.unexpected:
        problems.append(f"unexpected: {outcome.unexpected[:10]}")
    if outcome.unsettled:
        problems.append(f"rows not recorded as sent: {outcome.unsettled[:10]}")
    assert not problems, "\n".join(problems) + "\n" + scenario.logs()


def assert_within(latencies: list[float], bound: float, what: str) -> None:
    """p99 of ``latencies`` ≤ ``bound`` seconds."""
    assert latencies, f"no {what} measured"
    p99 = percentile(latencies, 0.99)
    assert p99 <= bound, f"{what} p99 {p99:.2f}s > {bound}s (max {max(latencies):.2f}s)"


# --- The fault table -----------------------------------------------------------------------------

COLUMNS = (
    "scenario",
    "alerts expected",
    "emails expected",
    "emails received",
    "duplicates",
    "lost",
    "passed over",
    "unsettled",
    "email p50/p99/max s",
    "alert row p50/p99/max s",
    "note",
)


def record(outcome: Outcome) -> None:
    """Put the scenario's row into ``var/faults/table.json`` and rewrite ``table.md``."""
    TABLE_DIR.mkdir(parents=True, exist_ok=True)
    path = TABLE_DIR / "table.json"
    rows = json.loads(path.read_text()) if path.exists() else {}
    at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows[outcome.scenario] = {**outcome.row(), "at": at}
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows.values():
        lines.append("| " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    (TABLE_DIR / "table.md").write_text("\n".join(lines) + "\n")


__all__ = [
    "Outcome",
    "Scenario",
    "Stack",
    "assert_exactly_once",
    "assert_within",
    "percentile",
    "record",
]
