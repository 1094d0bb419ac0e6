"""The deadline loop (``manage.py run_deadlines``): alerts on time from the database alone.

A P1 ticket with a first-response target of seconds crosses its warning point and due time
while the test watches. The loop runs as a real process on the test database; no Celery
worker and no reachable broker are needed for an alert to be raised and its emails recorded
within 2 s of its moment. The loop lives through a database outage (a TCP proxy in front of
PostgreSQL, cut and restored: the shared server is never stopped), logs it once and its end
once, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from monitoring.evaluation.loop import HEARTBEAT_NAME, run_tick
from monitoring.models import Alert
from sla_portal.core.models import WorkerHeartbeat
from tests.support import worker as worker_support
from tests.support.worker import DeadlinesProcess
from tests.test_evaluation_e2e import (
    MISSED,
    WARNING,
    open_p1_ticket,
    response_timer,
    set_escalation_matrix,
    sign_with_fast_p1_response,
    wait_for_timer,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="loop processes and the test write at once: PostgreSQL only",
    ),
]

# The goal: an alert's emails are recorded within this long after its moment.
BOUND = timedelta(seconds=2)
# Where a stopped Redis would be: nothing listens on port 1.
DEAD_BROKER = "redis://127.0.0.1:1/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Loop(DeadlinesProcess):
    """``run_deadlines`` with a broker nobody answers, optionally through another database
    address; its database connection persists between ticks, as in production."""

    def __init__(self, log_path: Path, database_url: str | None = None) -> None:
        super().__init__("deadlines", log_path)
        self.database_url = database_url

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update({"CELERY_BROKER_URL": DEAD_BROKER, "DB_CONN_MAX_AGE": "60"})
        env["LOG_LEVEL"] = "INFO"
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def loops(tmp_path) -> Iterator[list[Loop]]:
    started: list[Loop] = []
    try:
        yield started
    finally:
        for loop in started:
            loop.stop()


def start_loops(loops: list[Loop], tmp_path: Path, count: int, **kwargs) -> list[Loop]:
    new = [Loop(tmp_path / f"deadlines-{len(loops) + i}.log", **kwargs) for i in range(count)]
    for loop in new:
        loop.launch()
        loops.append(loop)
    for loop in new:
        loop.wait_ready()
    return new


def wait_for_alert(level: str, timeout: float) -> Alert:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alert = Alert.objects.filter(ticket__external_id="INC-1", level=level).first()
        if alert is not None and alert.notified_at is not None:
            return alert
        time.sleep(0.05)
    raise AssertionError(f"no {level} alert with its emails recorded within {timeout}s")


def heartbeat_at() -> datetime | None:
    beat = WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).first()
    return beat.beat_at if beat else None


# --- run_tick in this process ------------------------------------------------------------------


def test_a_tick_claims_a_due_timer_once_and_writes_its_heartbeat(
    acme_agreement, acme_desk, alice_manager, tom_team, carol_customer
):
    agreement = sign_with_fast_p1_response(
        acme_agreement, alice_manager, carol_customer, target_seconds=12, threshold_seconds=24
    )
    set_escalation_matrix(agreement, tom_team, alice_manager, carol_customer)
    # Opened 5 s ago: the warning point (6 s) is a second away.
    open_p1_ticket(acme_desk, agreement, "INC-1", datetime.now(UTC) - timedelta(seconds=5))

    first = run_tick(datetime.now(UTC))
    assert first.evaluated == 1 and not first.behind
    timer = response_timer("INC-1")
    assert timer.next_due == timer.warning_at
    assert not Alert.objects.exists()
    assert heartbeat_at() is not None

    time.sleep(max(0.0, (timer.warning_at - datetime.now(UTC)).total_seconds()) + 0.1)
    # Two ticks at once, as two loop processes would run them: one claim, one alert.
    results = []
    threads = [threading.Thread(target=lambda: results.append(_tick_in_thread())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.claimed["ticket timers"] for r in results) == [0, 1]
    alert = Alert.objects.get(ticket__external_id="INC-1")
    assert alert.level == WARNING and alert.reached_at == timer.warning_at
    assert alert.notified_at is not None
    assert response_timer("INC-1").next_due == timer.due_at


def test_a_claimed_ticket_is_evaluated_before_an_older_backlog(
    acme_agreement, acme_desk, alice_manager, tom_team, carol_customer, monkeypatch, settings
):
    """Ingest's backlog of marked tickets, older than the due ticket's last change and more
    than a tick's bound, does not stand between the deadline and its alert."""
    from monitoring.evaluation import tickets
    from monitoring.models import Ticket

    agreement = sign_with_fast_p1_response(
        acme_agreement, alice_manager, carol_customer, target_seconds=12, threshold_seconds=24
    )
    set_escalation_matrix(agreement, tom_team, alice_manager, carol_customer)
    open_p1_ticket(acme_desk, agreement, "INC-1", datetime.now(UTC) - timedelta(seconds=5))
    run_tick(datetime.now(UTC))
    timer = response_timer("INC-1")
    for n in range(3):
        open_p1_ticket(acme_desk, agreement, f"BACKLOG-{n}", datetime.now(UTC))
    backlog = Ticket.objects.filter(external_id__startswith="BACKLOG-")
    backlog.update(changed_at=datetime.now(UTC) - timedelta(hours=1))
    monkeypatch.setattr(tickets, "BATCH_SIZE", 2)
    settings.DEADLINE_LOOP_MAX_BATCHES = 1

    time.sleep(max(0.0, (timer.warning_at - datetime.now(UTC)).total_seconds()) + 0.1)
    result = run_tick(datetime.now(UTC))
    assert result.claimed["ticket timers"] == 1
    assert result.evaluated == 1 + 2 and result.behind  # the claimed one, then one batch
    assert Alert.objects.get(ticket__external_id="INC-1").level == WARNING
    assert backlog.filter(evaluated_at__isnull=True).count() == 1


def _tick_in_thread():
    try:
        return run_tick(datetime.now(UTC))
    finally:
        connection.close()


# --- run_deadlines as real processes -----------------------------------------------------------


@pytest.mark.worker
def test_alerts_are_recorded_within_2s_of_their_moment_with_no_worker_and_no_broker(
    loops, tmp_path, acme_agreement, acme_desk, alice_manager, tom_team, carol_customer
):
    """Two loops, no Celery worker, the broker unreachable (as while Redis is stopped):
    each level's alert is raised once, stamped with its moment, its emails recorded within
    2 s of it."""
    agreement = sign_with_fast_p1_response(
        acme_agreement, alice_manager, carol_customer, target_seconds=12, threshold_seconds=24
    )
    set_escalation_matrix(agreement, tom_team, alice_manager, carol_customer)
    start_loops(loops, tmp_path, 2)

    open_p1_ticket(acme_desk, agreement, "INC-1", datetime.now(UTC))
    timer = wait_for_timer("INC-1")
    warning = wait_for_alert(WARNING, timeout=15)
    missed = wait_for_alert(MISSED, timeout=15)
    time.sleep(1.5)  # time for a second loop to raise anything twice

    for alert, moment in ((warning, timer.warning_at), (missed, timer.due_at)):
        assert alert.reached_at == moment
        assert timedelta(0) <= alert.notified_at - moment <= BOUND, (alert.level, moment)
    assert Alert.objects.filter(ticket__external_id="INC-1").count() == 2
    for loop in loops:
        assert loop.process.poll() is None, loop.log()[-3000:]
        # The broker's outage is one line, not a traceback per alert.
        assert "Traceback" not in loop.log(), loop.log()[-3000:]
        assert loop.log().count("broker unreachable") <= 1, loop.log()[-3000:]


class TcpProxy:
    """A TCP forwarder to PostgreSQL that the test can cut (every connection reset, no new
    ones accepted) and restore on the same port: a database outage for the processes that
    connect through it, while the server itself keeps running for everyone else."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.mark.worker
def test_the_loop_lives_through_a_database_outage_logging_it_once_and_stops_on_sigterm(
    loops, tmp_path
):
    db = connection.settings_dict
    proxy = TcpProxy((db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)))
    proxy.start()
    url = worker_support.test_database_url().replace(
        f"@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/", f"@127.0.0.1:{proxy.port}/"
    )
    assert str(proxy.port) in url
    try:
        (loop,) = start_loops(loops, tmp_path, 1, database_url=url)
        time.sleep(1.5)
        assert heartbeat_at() is not None

        proxy.stop()  # the database goes away: connections reset, new ones refused
        time.sleep(6)
        assert loop.process.poll() is None, loop.log()[-3000:]
        before_return = heartbeat_at()

        proxy.start()  # and comes back
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and heartbeat_at() == before_return:
            time.sleep(0.2)
        assert heartbeat_at() > before_return, "the loop did not tick again"
        time.sleep(2)  # more ticks after the return: nothing more is logged
    finally:
        proxy.stop()

    log = loop.log()
    assert log.count("database unreachable:") == 1, log[-3000:]
    assert log.count("database reachable again") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # Six seconds of outage in a handful of lines, not a line per tick.
    assert len(log.splitlines()) < 15, log[-3000:]

    loop.process.send_signal(signal.SIGTERM)
    assert loop.process.wait(timeout=10) == 0
    assert loop.log().rstrip().endswith("deadline loop stopped")
