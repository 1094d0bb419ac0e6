"""Fault injection: the portal's processes against private PostgreSQL, Redis and SMTP servers
that are stopped, restarted, refuse, hang, or lose the mailer mid-send.

Every scenario opens P1 tickets whose alert moments are known (opened + 6 s warning, + 12 s
target missed, + 24 s threshold breached; ``tests.support.fault_driver``), breaks something
while those moments fall due, and then counts what the SMTP server accepted per (alert,
recipient): none lost, none duplicated, every email row recorded as sent. Latency is measured
from each moment to the alert row (``raised_at``) and to the email's arrival, and each
scenario's row goes into the fault table (``var/faults/table.md``; docs/reliability.md).

The services that are stopped are private to this module (``tests.support.faults``): the
shared PostgreSQL and Redis of the test run are never touched. A missing ``initdb`` or
``redis-server`` is an error, not a skip.

The portal runs as ``run_portal`` supervises it: a Celery worker (prefork, two processes),
beat, the deadline loop (``run_deadlines``, PostgreSQL only) and the mailer (``run_mailer``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sla_portal.core.notifications import SENDING_TIMEOUT
from tests.support.fault_scenario import (
    Outcome,
    Scenario,
    Stack,
    assert_exactly_once,
    assert_within,
)
from tests.support.faults import ROOT

pytestmark = [pytest.mark.fault, pytest.mark.slow]

# The goal of issue 16: an alert within 2 s of its moment.
ALERT_BOUND = 2.0
# Its email follows through the mailer (woken by NOTIFY on the alert's commit); the bound the
# end-to-end test of the deadline loop holds emails to (tests/test_evaluation_e2e.py).
EMAIL_BOUND = 5.0
# The breach moment is 24 s after opening; what follows it is retries and settling.
ALL_DONE = 60.0


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory) -> Iterator[Stack]:
    """Private PostgreSQL (template migrated and seeded) and Redis, for the whole module."""
    stack = Stack(tmp_path_factory.mktemp("faults"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def sleep_until(moment: datetime) -> None:
    remaining = (moment - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)


def latency_after(outcome: Outcome, outages: list[tuple[datetime, datetime]]) -> list[float]:
    """Alert-row latency counted from the moment, or from the end of the outage the moment
    fell into (nothing can be written while the database is down)."""
    latencies = []
    for moment, raised in outcome.alert_times:
        start = moment
        for down, up in outages:
            if down <= moment <= up:
                start = up
        latencies.append((raised - start).total_seconds())
    return latencies


def test_mailer_sigkill_mid_send_loses_and_duplicates_nothing(fault_stack):
    """The mailer is SIGKILLed twice while it sends: once after the server accepted a
    message (at the sender's QUIT), once while the server holds a message's DATA. A new
    mailer is started each time.

    Rows a killed mailer left ``sending`` are taken up again after ``SENDING_TIMEOUT``
    (2 minutes); the test moves their claim back by that much instead of waiting, so what
    is proved is that the reclaim sends each such email once, and that an email the server
    accepted before the kill is not sent again."""
    with Scenario(fault_stack, "mailer SIGKILL mid-send") as scenario:
        processes = scenario.portal()
        mailer = processes[-1]
        # One sender thread, so that each kill lands exactly where this test says. With
        # several, the kill at one session's QUIT can also land in another session's
        # milliseconds between the server's 250 and the UPDATE that marks its row sent: the
        # at-least-once window docs/reliability.md ("Email") names, which repeats that email
        # with the same Message-ID (seen once in CI: 15 emails for 14).
        mailer.env["MAILER_THREADS"] = "1"
        scenario.start(*processes)
        killed = threading.Event()

        def kill_mailer() -> None:
            scenario.smtp.on_quit = None
            os.killpg(mailer.process.pid, signal.SIGKILL)
            killed.set()

        scenario.smtp.on_quit = kill_mailer
        opened_at = scenario.open_tickets("KILL", 2)
        assert killed.wait(20), "no email was sent: nothing to kill mid-send"
        assert scenario.smtp.arrivals, "killed before the server accepted anything"
        mailer.process.wait(10)
        reclaimed = scenario.age_claims(SENDING_TIMEOUT)
        mailer.start()

        scenario.smtp.held.clear()
        scenario.smtp.mode = "hang"
        assert scenario.smtp.held.wait(20), "no email was sent: nothing to kill mid-DATA"
        os.killpg(mailer.process.pid, signal.SIGKILL)
        mailer.process.wait(10)
        scenario.smtp.mode = "accept"
        reclaimed += scenario.age_claims(SENDING_TIMEOUT)
        assert reclaimed, "no row was left sending: the kill mid-DATA proved nothing"
        mailer.start()

        sleep_until(opened_at + timedelta(seconds=24))
        scenario.wait_for_all(ALL_DONE)
        outcome = scenario.outcome(
            note=f"killed at QUIT after 250, and during DATA; {reclaimed} claims aged 2 min"
        )
        assert_exactly_once(outcome, scenario)


def test_redis_stopped_and_back(fault_stack):
    """Redis (the broker) stops 2.5 s after the tickets open and comes back after 16 s: the
    warning and target-missed moments fall into the outage."""
    with Scenario(fault_stack, "Redis stopped 13.5 s") as scenario:
        processes = scenario.portal()
        scenario.start(*processes)
        opened_at = scenario.open_tickets("REDIS", 3)
        sleep_until(opened_at + timedelta(seconds=2.5))
        logged_before = {p.name: len(p.output().splitlines()) for p in processes}
        fault_stack.redis.stop()
        sleep_until(opened_at + timedelta(seconds=16))
        logged_during = ", ".join(
            f"{p.name} {len(p.output().splitlines()) - logged_before[p.name]}" for p in processes
        )
        fault_stack.redis.start()
        scenario.wait_for_all(ALL_DONE)
        assert all(process.alive() for process in processes), scenario.logs()
        outcome = scenario.outcome(note=f"log lines during the outage: {logged_during}")
        assert_exactly_once(outcome, scenario)
        assert_within(outcome.alert_latency, ALERT_BOUND, "alert rows")


def test_smtp_refusing_then_accepting(fault_stack):
    """The SMTP server answers 451 to every message until 15 s after the tickets open."""
    with Scenario(fault_stack, "SMTP refusing 15 s") as scenario:
        scenario.smtp.mode = "refuse"
        processes = scenario.portal()
        scenario.start(*processes)
        opened_at = scenario.open_tickets("REFUSE", 2)
        sleep_until(opened_at + timedelta(seconds=15))
        scenario.smtp.mode = "accept"
        scenario.wait_for_all(ALL_DONE)
        assert scenario.smtp.refusals > 0, "the server refused nothing: no fault happened"
        outcome = scenario.outcome(note=f"{scenario.smtp.refusals} refusals")
        assert_exactly_once(outcome, scenario)
        assert_within(outcome.alert_latency, ALERT_BOUND, "alert rows")


def test_smtp_hanging(fault_stack):
    """The SMTP server holds every message's DATA without answering until 25 s after the
    tickets open (the sender times out after 20 s, as in production); alerts are still
    raised on time."""
    with Scenario(fault_stack, "SMTP hanging 25 s") as scenario:
        scenario.smtp.mode = "hang"
        processes = scenario.portal()
        scenario.start(*processes)
        opened_at = scenario.open_tickets("HANG", 3)
        sleep_until(opened_at + timedelta(seconds=25))
        scenario.smtp.mode = "accept"
        scenario.wait_for_all(ALL_DONE)
        assert scenario.smtp.hangs > 0, "the server held nothing: no fault happened"
        outcome = scenario.outcome(note=f"{scenario.smtp.hangs} sends held")
        assert_exactly_once(outcome, scenario)
        assert_within(outcome.alert_latency, ALERT_BOUND, "alert rows")


def test_postgres_restarted(fault_stack):
    """PostgreSQL restarts around the warning moment (fast shutdown) and again around the
    target-missed moment (immediate: a crash); the processes carry on by themselves."""
    with Scenario(fault_stack, "PostgreSQL restarted twice") as scenario:
        processes = scenario.portal()
        scenario.start(*processes)
        opened_at = scenario.open_tickets("PG", 3)
        outages = []
        for at, mode in ((5.5, "fast"), (11.5, "immediate")):
            sleep_until(opened_at + timedelta(seconds=at))
            down = datetime.now(UTC)
            fault_stack.pg.restart(mode)
            outages.append((down, datetime.now(UTC)))
        scenario.wait_for_all(ALL_DONE)
        assert all(process.alive() for process in processes), scenario.logs()
        outcome = scenario.outcome(
            note="down " + ", ".join(f"{(up - down).total_seconds():.1f} s" for down, up in outages)
        )
        assert_exactly_once(outcome, scenario)
        latencies = latency_after(outcome, outages)
        assert_within(latencies, ALERT_BOUND, "alert rows after restart")


def test_two_of_every_process(fault_stack):
    """Two workers, two beats, two deadline loops and two mailers on one database and queue:
    every due deadline and every email row is reached by two at once; each alert is still
    raised once and each email sent once."""
    with Scenario(fault_stack, "two workers, beats, deadline loops, mailers") as scenario:
        processes = scenario.portal("-1") + scenario.portal("-2")
        scenario.start(*processes)
        scenario.open_tickets("TWO", 4)
        scenario.wait_for_all(ALL_DONE)
        outcome = scenario.outcome()
        assert_exactly_once(outcome, scenario)
        assert_within(outcome.alert_latency, ALERT_BOUND, "alert rows")


# The volume. The bulk upload runs in batches, as a service desk's export would send it.
INGEST_TICKETS = int(os.environ.get("SLA_FAULT_INGEST_TICKETS", "40000"))
INGEST_BATCH = 5000


def test_deadlines_on_time_during_a_large_ingest(fault_stack):
    """While INGEST_TICKETS P4 tickets arrive in batches (and are evaluated), P1 tickets fall
    due: their alerts within 2 s of the moment, their emails within 5 s."""
    with Scenario(fault_stack, f"{INGEST_TICKETS:,} tickets ingested") as scenario:
        processes = scenario.portal()
        scenario.start(*processes)
        command = [sys.executable, "-m", "tests.support.fault_driver", "bulk", "BULK"]
        bulk = subprocess.Popen(
            [*command, str(INGEST_TICKETS), str(INGEST_BATCH)],
            cwd=ROOT,
            env=scenario.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)
            scenario.open_tickets("LOAD", 3)
            scenario.wait_for_all(ALL_DONE)
            stdout, stderr = bulk.communicate(timeout=300)
        finally:
            if bulk.poll() is None:
                bulk.kill()
        assert bulk.returncode == 0, stderr[-3000:]
        outcome = scenario.outcome(note=f"ingest {stdout.strip()}")
        assert_exactly_once(outcome, scenario)
        assert_within(outcome.alert_latency, ALERT_BOUND, "alert rows")
        assert_within(outcome.email_latency, EMAIL_BOUND, "emails")
