"""run_mailer, a real process, through a real SMTP server: email leaves within two seconds of
its commit, a hanging conversation holds up no other email, failures show in the log and in
/healthz, SIGTERM stops it cleanly, and a killed mailer loses and doubles nothing."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from sla_portal.core.models import Notification, WorkerHeartbeat
from sla_portal.core.notifications import SENDING_TIMEOUT, wake_mailer
from tests.support.mailer import MailerProcess

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
    smtp_server, tmp_path, client
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
