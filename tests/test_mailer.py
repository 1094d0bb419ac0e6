"""run_mailer, a real process, through a real SMTP server: email leaves within two seconds of
its commit, a hanging conversation holds up no other email, failures show in the log and in
/healthz, SIGTERM stops it cleanly, and a killed mailer loses and doubles nothing."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from sla_portal.core.models import Notification, WorkerHeartbeat
from sla_portal.core.notifications import SENDING_TIMEOUT, wake_mailer
from tests.support.mailer import MailerProcess
from tests.support.smtp import free_port
from tests.support.worker import test_database_url as database_url_of_tests

Status = Notification.Status

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="measures the PostgreSQL NOTIFY wake-up (SQLite polls every second)",
    ),
]


def wait_until(predicate: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def queue_emails(*recipients: str, key: str = "incident:1", **fields: Any) -> list[Notification]:
    """Rows as notify() stores them, committed in one transaction that wakes the mailer."""
    with transaction.atomic():
        now = timezone.now()
        rows = Notification.objects.bulk_create(
            Notification(
                kind="test.alert",
                key=key,
                recipient=recipient,
                subject=f"Alert for {recipient}",
                body_text="Target missed.",
                body_html="<p>Target missed.</p>",
                created_at=now,
                next_attempt_at=now,
                **fields,
            )
            for recipient in recipients
        )
        wake_mailer()
    return rows


def test_the_mailer_sends_a_committed_email_within_two_seconds(smtp_server, mailer):
    beat = wait_until(lambda: WorkerHeartbeat.objects.filter(name="mailer").first())
    assert timezone.now() - beat.beat_at < timedelta(seconds=2)

    latencies = []
    for number in range(5):
        committed = time.monotonic()
        (row,) = queue_emails(f"desk{number}@acme.example", key=f"incident:{number}")
        smtp_server.wait_for(number + 1, timeout=10)
        latencies.append(time.monotonic() - committed)
        time.sleep(0.3)  # each email woken on its own, not found by a poll that was due

    assert max(latencies) <= 2.0, latencies
    # The NOTIFY wakes the mailer at once; the one-second poll alone would average 0.5 s.
    assert sorted(latencies)[2] < 0.5, latencies
    row = wait_until(lambda: Notification.objects.filter(pk=row.pk, status=Status.SENT).first())
    assert row.attempts == 1
    message = smtp_server.to("desk4@acme.example")[0]
    assert re.fullmatch(rf"<notification\.{row.pk}\.\d{{14}}@[^>]+>", message["Message-ID"])


def test_a_hanging_conversation_holds_up_no_other_email_and_shows_as_failing(
    smtp_server, tmp_path, client, ada_admin
):
    smtp_server.hang("stuck@acme.example")
    mailer = MailerProcess(tmp_path / "mailer.log", extra_env={"EMAIL_TIMEOUT": "3"})
    mailer.start()
    try:
        (stuck,) = queue_emails("stuck@acme.example", key="incident:stuck")
        wait_until(lambda: Notification.objects.filter(pk=stuck.pk, status=Status.SENDING).exists())
        committed = time.monotonic()
        others = [f"person{number}@acme.example" for number in range(6)]
        queue_emails(*others, key="incident:others")

        smtp_server.wait_for(len(others), timeout=10)
        assert time.monotonic() - committed <= 2.0
        assert Notification.objects.get(pk=stuck.pk).status == Status.SENDING

        # The stuck conversation times out (EMAIL_TIMEOUT) and waits for its retry.
        stuck = wait_until(
            lambda: Notification.objects.filter(pk=stuck.pk, status=Status.PENDING).first()
        )
        assert stuck.attempts == 1
        assert "timed out" in stuck.last_error
        log_line = wait_until(
            lambda: re.search(r"WARNING .*Email to stuck@acme\.example .*", mailer.log())
        )
    finally:
        mailer.stop()

    assert (
        f"Email to stuck@acme.example (notification {stuck.pk}) failed, attempt 1 of 8: "
        in log_line.group(0)
    )
    assert "next attempt in 0:00:30" in log_line.group(0)
    assert {message["To"] for message in smtp_server.messages} == set(others)

    WorkerHeartbeat.objects.filter(name="mailer").update(beat_at=timezone.now())
    client.force_login(ada_admin)  # the error text is a detail for provider staff
    smtp = client.get("/healthz").json()["checks"]["smtp"]
    assert smtp["ok"] is False
    assert smtp["reason"].startswith("the latest attempt failed: ")
    assert "timed out" in smtp["reason"]
    assert (smtp["pending"], smtp["failing"]) == (1, 1)


def test_sigterm_stops_the_mailer_cleanly(mailer):
    wait_until(lambda: WorkerHeartbeat.objects.filter(name="mailer").exists())
    mailer.process.send_signal(signal.SIGTERM)

    assert mailer.process.wait(timeout=10) == 0
    assert "Mailer stopped" in mailer.log()
    assert "Traceback" not in mailer.log()


def test_a_killed_mailer_loses_nothing_and_sends_nothing_twice(smtp_server, mailer, tmp_path):
    mailer.stop(kill=True)
    (row,) = queue_emails("carol@acme.example")
    time.sleep(1.5)
    assert smtp_server.messages == []
    row.refresh_from_db()
    assert row.status == Status.PENDING  # waiting in the database, not lost

    replacement = MailerProcess(tmp_path / "replacement.log")
    replacement.start()
    try:
        smtp_server.wait_for(1, timeout=10)
        wait_until(lambda: Notification.objects.filter(pk=row.pk, status=Status.SENT).exists())
        time.sleep(1.5)  # a few more rounds: nothing goes out again
    finally:
        replacement.stop()

    assert len(smtp_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)


def test_a_row_a_dead_mailer_left_sending_goes_out_after_the_sending_timeout(smtp_server, mailer):
    queue_emails("fresh@acme.example", key="incident:fresh")
    smtp_server.wait_for(1)
    now = timezone.now()
    # As a sender killed mid-send leaves them: one claimed a moment ago (its sender may still
    # be in the conversation), one claimed longer ago than any send can last.
    (recent,) = queue_emails(
        "recent@acme.example", key="claimed", status=Status.SENDING, claimed_at=now, attempts=1
    )
    queue_emails(
        "stalled@acme.example",
        key="claimed",
        status=Status.SENDING,
        claimed_at=now - SENDING_TIMEOUT - timedelta(seconds=1),
        attempts=1,
    )

    # The mailer looks for stalled rows every ten seconds.
    smtp_server.wait_for(2, timeout=15)
    time.sleep(1)

    assert [message["To"] for message in smtp_server.messages] == [
        "fresh@acme.example",
        "stalled@acme.example",
    ]
    assert Notification.objects.get(pk=recent.pk).status == Status.SENDING


class DatabaseLink:
    """A TCP relay between the mailer and PostgreSQL that the test can cut and restore: a
    database outage as the mailer sees it, without stopping the shared server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def up(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.settimeout(0.2)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and drop every open one."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_a_database_outage_is_logged_once_survived_and_mail_flows_again(smtp_server, tmp_path):
    database = connection.settings_dict
    link = DatabaseLink(int(database.get("PORT") or 5432))
    link.up()
    url = database_url_of_tests().replace(f":{database.get('PORT') or 5432}/", f":{link.port}/")
    assert f":{link.port}/" in url
    mailer = MailerProcess(tmp_path / "mailer.log", extra_env={"DATABASE_URL": url})
    mailer.start()
    try:
        queue_emails("before@acme.example", key="incident:before")
        smtp_server.wait_for(1)

        link.down()
        wait_until(lambda: "database unreachable" in mailer.log(), timeout=10)
        # Rows committed during the outage (the portal's own connection is not cut).
        queue_emails("during@acme.example", key="incident:during")
        time.sleep(3)  # three poll rounds of failing threads: still one line
        assert mailer.process.poll() is None, "the mailer exited"
        assert smtp_server.to("during@acme.example") == []

        restored = time.monotonic()
        link.up()
        smtp_server.wait_for(2, timeout=15)
        back_after = time.monotonic() - restored
        wait_until(lambda: "reachable again" in mailer.log(), timeout=5)
        # And the NOTIFY wake-up works again: a new email is not left to the poll alone.
        time.sleep(1.5)
        committed = time.monotonic()
        queue_emails("after@acme.example", key="incident:after")
        smtp_server.wait_for(3, timeout=10)
        after_latency = time.monotonic() - committed
    finally:
        mailer.stop()
        link.down()

    log = mailer.log()
    assert log.count("database unreachable") == 1, log
    assert log.count("database reachable again") == 1, log
    assert "Traceback" not in log
    assert back_after < 5
    assert after_latency < 2
    assert [message["To"] for message in smtp_server.messages] == [
        "before@acme.example",
        "during@acme.example",
        "after@acme.example",
    ]
