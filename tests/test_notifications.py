"""Exactly-once email notifications: a row per event and recipient, sent once, retried, swept."""

from __future__ import annotations

import logging
import re
import select
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from sla_portal.core.models import EmailAttachment, Notification
from sla_portal.core.notifications import (
    CLAIM_MARGIN,
    MARK_SENT_PATIENCE,
    SEND_DEADLINE,
    SENDING_TIMEOUT,
    WAKE_CHANNEL,
    deliver_due,
    notify,
    retry_delay,
)
from sla_portal.core.selectors import notifications_for_agreement, pending_problems
from sla_portal.core.tasks import deliver_notifications
from tests.support.smtp import free_port
from tests.support.worker import WorkerProcess

Status = Notification.Status

SUBJECT = "Agreement {{ reference }} is waiting for {{ recipient.first_name|default:'you' }}"
BODY_TXT = """Hello {{ recipient.first_name|default:"there" }},

{{ reference }} was proposed to {{ recipient_email }}.
Review it at {{ site_url }}/agreements/{{ reference }}/
"""
BODY_HTML = """<p>Hello {{ recipient.first_name|default:"there" }},</p>
<p><a href="{{ site_url }}/agreements/{{ reference }}/">{{ reference }}</a> was proposed.</p>
"""
CONTEXT = {"reference": "SLA-2026-0007"}

only_on_postgresql = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
    reason="SQLite admits one writer at a time, so transactions cannot race there: PostgreSQL only",
)


@pytest.fixture
def email_templates(settings, tmp_path: Path) -> str:
    """The triplet ``test_notifications/proposed`` in a temporary template directory."""
    folder = tmp_path / "templates" / "test_notifications" / "proposed"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text(SUBJECT)
    (folder / "body.txt").write_text(BODY_TXT)
    (folder / "body.html").write_text(BODY_HTML)
    engine = {**django_settings.TEMPLATES[0]}
    engine["DIRS"] = [tmp_path / "templates", *engine["DIRS"]]
    settings.TEMPLATES = [engine]
    settings.SITE_URL = "https://sla.example.test"
    return "test_notifications/proposed"


def notify_proposal(
    template: str, recipients: list, key: str = "version:42", **extra
) -> list[Notification]:
    return notify("agreement.proposal_sent", key, recipients, template, CONTEXT, **extra)


def advance_past_backoff() -> None:
    """Let the clock run past every retry's back-off, as if the wait had passed."""
    Notification.objects.filter(status=Status.PENDING).update(
        next_attempt_at=F("next_attempt_at") - timedelta(hours=2)
    )


def waits_after_failure(row: Notification) -> int:
    """The back-off in whole seconds, from the attempt's start (the send itself takes a moment)."""
    return int((row.next_attempt_at - row.claimed_at).total_seconds())


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


# --- notify(): one row per event and recipient ------------------------------------------------


def test_notifying_the_same_event_twice_stores_one_row_and_sends_one_email(
    email_templates, smtp_server, carol_customer
):
    first = notify_proposal(email_templates, [carol_customer])
    second = notify_proposal(email_templates, [carol_customer])

    assert [row.pk for row in first] == [row.pk for row in second]
    assert Notification.objects.count() == 1
    assert deliver_due() == 1
    assert deliver_due() == 0
    assert len(smtp_server.messages) == 1


def test_attachments_are_stored_once_per_event_and_sent_to_every_recipient(
    email_templates, smtp_server, carol_customer, alice_manager
):
    def terms() -> list[EmailAttachment]:
        return [EmailAttachment(filename="terms.csv", content_type="text/csv", content=b"a,b\r\n")]

    rows = notify_proposal(email_templates, [carol_customer, alice_manager], attachments=terms())
    # The same event again stores nothing: no second row, and no second copy of the file.
    notify_proposal(email_templates, [carol_customer, alice_manager], attachments=terms())
    assert EmailAttachment.objects.count() == 1
    assert [list(row.attachments.all()) for row in rows] == [[EmailAttachment.objects.get()]] * 2

    assert deliver_due() == 2
    for message in smtp_server.messages:
        (part,) = message.iter_attachments()
        assert (part.get_filename(), part.get_content_type()) == ("terms.csv", "text/csv")
        assert part.get_payload(decode=True) == b"a,b\r\n"


def test_an_email_without_attachments_is_sent_without_any(
    email_templates, smtp_server, carol_customer
):
    notify_proposal(email_templates, [carol_customer])
    deliver_due()
    (message,) = smtp_server.messages
    assert list(message.iter_attachments()) == []
    assert EmailAttachment.objects.count() == 0


def test_a_new_event_of_the_same_kind_is_a_new_notification(email_templates, carol_customer):
    notify_proposal(email_templates, [carol_customer], key="version:42")
    notify_proposal(email_templates, [carol_customer], key="version:43")

    assert Notification.objects.count() == 2


def test_notify_renders_the_email_once_per_recipient_with_the_user_in_context(
    email_templates, carol_customer
):
    carol_row, plain_row = notify_proposal(email_templates, [carol_customer, "desk@acme.example"])

    assert carol_row.user == carol_customer
    assert carol_row.recipient == "carol_customer@acme.example"
    assert carol_row.subject == "Agreement SLA-2026-0007 is waiting for Carol"
    assert "Hello Carol," in carol_row.body_text
    assert "proposed to carol_customer@acme.example" in carol_row.body_text
    assert "https://sla.example.test/agreements/SLA-2026-0007/" in carol_row.body_html
    assert plain_row.user is None
    assert plain_row.subject == "Agreement SLA-2026-0007 is waiting for you"
    assert "Hello there," in plain_row.body_text
    assert carol_row.status == plain_row.status == Status.PENDING


def test_notify_skips_inactive_users_and_blank_addresses_and_names_each_mailbox_once(
    email_templates, carol_customer, victor_viewer, tom_team
):
    victor_viewer.is_active = False
    victor_viewer.save()
    tom_team.email = ""
    tom_team.save()

    rows = notify_proposal(
        email_templates,
        ["CAROL_customer@Acme.example ", victor_viewer, tom_team, "  ", carol_customer],
    )

    assert [(row.recipient, row.user) for row in rows] == [
        ("carol_customer@acme.example", carol_customer)
    ]


def test_delivery_sends_what_was_rendered_at_notify_time_without_templates(
    email_templates, smtp_server, carol_customer, settings
):
    notify_proposal(email_templates, [carol_customer])
    # Like a worker process, which has none of these templates: delivery must not render.
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]

    assert deliver_due() == 1
    assert str(smtp_server.messages[0]["Subject"]) == "Agreement SLA-2026-0007 is waiting for Carol"


# --- notify(): only committed events are sent -------------------------------------------------


@pytest.fixture
def listener(db) -> Iterator[Callable[[float], int]]:
    """A connection of its own LISTENing as run_mailer does; call it to count the wake-ups
    that arrive within the given seconds."""
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute(f"LISTEN {WAKE_CHANNEL}")

    def received(within: float) -> int:
        count = 0
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            if select.select([raw], [], [], remaining)[0]:
                raw.poll()
                count += len(raw.notifies)
                raw.notifies.clear()
        return count

    try:
        yield received
    finally:
        raw.close()


@only_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_leaves_no_row_wakes_nobody_and_sends_nothing(
    email_templates, smtp_server, carol_customer, listener
):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify_proposal(email_templates, [carol_customer])
        raise RuntimeError("the agreement could not be proposed")

    assert listener(0.5) == 0
    assert not Notification.objects.exists()
    assert deliver_due() == 0
    assert smtp_server.messages == []


@only_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_committed_event_wakes_the_mailer_on_commit_and_not_before(
    email_templates, smtp_server, carol_customer, listener
):
    with transaction.atomic():
        notify_proposal(email_templates, [carol_customer])
        assert listener(0.5) == 0  # nothing before the commit

    assert listener(0.5) == 1
    assert deliver_due() == 1
    assert len(smtp_server.messages) == 1
    assert Notification.objects.get().status == Status.SENT


@only_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_notifying_nobody_new_wakes_nobody(email_templates, carol_customer, listener):
    notify_proposal(email_templates, [carol_customer])
    assert listener(0.5) == 1

    notify_proposal(email_templates, [carol_customer])
    notify_proposal(email_templates, [""])

    assert listener(0.5) == 0


# --- deliver_due(): retries, back-off, giving up ----------------------------------------------


def test_back_off_doubles_from_thirty_seconds_up_to_an_hour():
    delays = [retry_delay(attempts) for attempts in range(1, 10)]

    assert [delay.total_seconds() for delay in delays] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert retry_delay(500) == timedelta(hours=1)


def test_a_refused_email_is_retried_with_back_off_then_sent_once_accepted(
    email_templates, smtp_server, carol_customer
):
    smtp_server.refuse(carol_customer.email)
    (row,) = notify_proposal(email_templates, [carol_customer])

    assert deliver_due() == 0
    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert row.attempts == 1
    assert "550" in row.last_error
    assert waits_after_failure(row) == 30
    assert list(pending_problems()) == [row]

    assert deliver_due() == 0  # not due yet: the back-off holds
    row.refresh_from_db()
    assert row.attempts == 1

    advance_past_backoff()
    deliver_due()
    row.refresh_from_db()
    assert row.attempts == 2
    assert waits_after_failure(row) == 60

    smtp_server.refused.clear()  # the mailbox is back
    advance_past_backoff()
    assert deliver_due() == 1

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 3
    assert row.sent_at is not None
    assert list(pending_problems()) == []
    (message,) = smtp_server.to(carol_customer.email)
    assert str(message["Subject"]) == row.subject
    assert re.fullmatch(
        rf"<notification\.{row.pk}\.\d{{14}}@sla\.example\.test>", message["Message-ID"]
    )


def test_each_failed_attempt_is_logged_with_recipient_notification_and_attempt(
    email_templates, smtp_server, carol_customer, caplog
):
    smtp_server.refuse(carol_customer.email)
    (row,) = notify_proposal(email_templates, [carol_customer])

    with caplog.at_level(logging.INFO, logger="sla_portal.core.notifications"):
        deliver_due()
        advance_past_backoff()
        deliver_due()

    first, second = (r for r in caplog.records if r.name == "sla_portal.core.notifications")
    # The same error again since the last success: logged, but not warned about twice.
    assert (first.levelno, second.levelno) == (logging.WARNING, logging.INFO)
    assert first.getMessage().startswith(
        f"Email to carol_customer@acme.example (notification {row.pk}) failed, attempt 1 of 8: "
        "SMTPRecipientsRefused: "
    )
    assert "550" in first.getMessage()
    assert first.getMessage().endswith("; next attempt in 0:00:30")
    assert "attempt 2 of 8" in second.getMessage()


def test_an_smtp_outage_is_warned_about_once_repeats_are_info_and_recovery_is_logged_once(
    email_templates, smtp_server, carol_customer, victor_viewer, alice_manager, caplog, settings
):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    smtp_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # the server is down: connection refused for every row
    notify_proposal(email_templates, [carol_customer, victor_viewer, alice_manager])

    def lines() -> list[tuple[int, str]]:
        records = [r for r in caplog.records if r.name == "sla_portal.core.notifications"]
        caplog.clear()
        return [(r.levelno, r.getMessage()) for r in records]

    with caplog.at_level(logging.INFO, logger="sla_portal.core.notifications"):
        assert deliver_due() == 0
        first_round = lines()
        advance_past_backoff()
        assert deliver_due() == 0  # the last attempt of each: given up
        last_round = lines()
        notify_proposal(email_templates, [carol_customer], key="version:43")
        settings.EMAIL_PORT = smtp_port  # the server is back
        assert deliver_due() == 1
        assert deliver_due() == 0
        recovery = lines()

    # Every attempt has its line; only the first of the outage is a warning.
    assert [level for level, _ in first_round] == [logging.WARNING, logging.INFO, logging.INFO]
    assert all("ConnectionRefusedError" in text for _, text in first_round)
    assert "attempt 1 of 2" in first_round[1][1]
    assert [level for level, _ in last_round] == [logging.ERROR] * 3
    assert all(text.endswith("giving up") for _, text in last_round)
    assert recovery == [
        (
            logging.WARNING,
            recovery[0][1],
        )
    ]
    assert recovery[0][1].startswith(
        "Email delivery works again: an email was sent after 6 failed attempt(s) over "
    )


def test_an_email_that_keeps_failing_is_marked_failed_after_the_last_attempt(
    email_templates, carol_customer, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 5
    settings.NOTIFY_MAX_ATTEMPTS = 3
    (row,) = notify_proposal(email_templates, [carol_customer])

    for _ in range(5):
        assert deliver_due() == 0
        advance_past_backoff()

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.attempts == 3
    assert "ConnectionRefusedError" in row.last_error
    assert list(pending_problems()) == [row]


# --- deliver_due(): claims -------------------------------------------------------------------


def test_a_row_another_sender_is_sending_is_left_alone(
    email_templates, smtp_server, carol_customer
):
    (row,) = notify_proposal(email_templates, [carol_customer])
    # Claimed almost two minutes ago: that sender may still be in its conversation (each
    # conversation is cut off after a minute, SEND_DEADLINE).
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=110), attempts=1
    )

    assert deliver_due() == 0
    assert smtp_server.messages == []


def test_a_live_sender_stops_trying_to_mark_sent_before_its_row_can_be_reclaimed():
    # "Mark sent" is retried for MARK_SENT_PATIENCE from the server's "250", which may come
    # SEND_DEADLINE after the claim; reclaim_stalled() hands the row to another sender
    # SENDING_TIMEOUT after the claim. The first must end before the second, with a margin,
    # or a live sender could still record its send while another sends the row again.
    latest_mark_sent_attempt = SEND_DEADLINE + MARK_SENT_PATIENCE
    assert latest_mark_sent_attempt + CLAIM_MARGIN <= SENDING_TIMEOUT
    assert timedelta(seconds=5) <= CLAIM_MARGIN
    # And it still rides out a short database outage.
    assert timedelta(seconds=30) <= MARK_SENT_PATIENCE


def test_a_row_left_sending_by_a_dead_sender_is_sent_after_the_sending_timeout(
    email_templates, smtp_server, carol_customer
):
    (row,) = notify_proposal(email_templates, [carol_customer])
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING,
        claimed_at=timezone.now() - timedelta(minutes=2, seconds=1),
        attempts=1,
    )

    assert deliver_due() == 1

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 2
    assert "stopped before it finished" in row.last_error
    assert len(smtp_server.messages) == 1


def test_a_row_that_stalls_at_the_last_attempt_fails_instead_of_going_round_again(
    email_templates, smtp_server, carol_customer, settings
):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    (row,) = notify_proposal(email_templates, [carol_customer])
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=11), attempts=2
    )

    assert deliver_due() == 0

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert smtp_server.messages == []


@only_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_each_email_once(smtp_server):
    addresses = [f"customer{number}@acme.example" for number in range(30)]
    # Rows as notify() leaves them, but without its wake-up: a mailer listening would take
    # them before the two below could race for them.
    Notification.objects.bulk_create(
        Notification(
            kind="agreement.proposal_sent",
            key="version:42",
            recipient=address,
            subject="Agreement SLA-2026-0007 proposed",
            body_text="Review it.",
            body_html="<p>Review it.</p>",
        )
        for address in addresses
    )
    start = threading.Barrier(2)
    sent_by_worker: list[int] = []

    def worker() -> None:
        try:
            start.wait()
            sent_by_worker.append(deliver_due())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(sent_by_worker) == 30
    assert all(sent_by_worker), "one worker sent everything: the two did not really race"
    assert sorted(r.recipients[0] for r in smtp_server.received) == sorted(addresses)
    assert set(Notification.objects.values_list("status", "attempts")) == {(Status.SENT, 1)}


@only_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_transactions_announcing_the_same_event_store_one_row(email_templates, carol_customer):
    first_inserted = threading.Event()
    errors: list[BaseException] = []

    def announce(wait_for: threading.Event | None, then_signal: threading.Event | None) -> None:
        try:
            if wait_for is not None:
                wait_for.wait(timeout=10)
            with transaction.atomic():
                notify_proposal(email_templates, [carol_customer])
                if then_signal is not None:
                    then_signal.set()
                    # Still uncommitted while the other transaction looks and inserts.
                    time.sleep(0.5)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=announce, args=(None, first_inserted)),
        threading.Thread(target=announce, args=(first_inserted, None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Notification.objects.count() == 1


# --- Reads and admin --------------------------------------------------------------------------


def test_an_agreements_notifications_list_its_emails_only(email_templates, carol_customer):
    notify_proposal(email_templates, [carol_customer], key="version:42", agreement_id=7)
    notify_proposal(email_templates, [carol_customer], key="version:43", agreement_id=8)
    notify_proposal(email_templates, ["desk@acme.example"], key="version:44", agreement_id=7)

    assert [row.key for row in notifications_for_agreement(7)] == ["version:44", "version:42"]


def test_delivery_problems_are_failed_and_retrying_rows_only(db, email_templates):
    statuses = {
        "fresh@acme.example": (Status.PENDING, 0),
        "retrying@acme.example": (Status.PENDING, 2),
        "failed@acme.example": (Status.FAILED, 8),
        "sent@acme.example": (Status.SENT, 1),
    }
    notify_proposal(email_templates, list(statuses))
    for address, (status, attempts) in statuses.items():
        Notification.objects.filter(recipient=address).update(
            status=status, attempts=attempts, sent_at=timezone.now()
        )

    assert {row.recipient for row in pending_problems()} == {
        "retrying@acme.example",
        "failed@acme.example",
    }


def test_admin_lists_notifications_by_status_and_kind_read_only(
    client, ada_admin, email_templates, carol_customer
):
    (row,) = notify_proposal(email_templates, [carol_customer])
    client.force_login(ada_admin)

    listing = client.get("/admin/core/notification/?status__exact=pending")
    detail = client.get(f"/admin/core/notification/{row.pk}/change/")

    assert listing.status_code == 200
    assert "carol_customer@acme.example" in listing.text
    assert "agreement.proposal_sent" in listing.text
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text
    assert client.get("/admin/core/notification/add/").status_code == 403
    assert client.post(f"/admin/core/notification/{row.pk}/delete/").status_code == 403


# --- End to end: the real mail process, a real worker and a real SMTP server ---------------


def notify_and_commit(template: str, recipients: list) -> Notification:
    with transaction.atomic():
        (row,) = notify_proposal(template, recipients)
    return row


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_mailer_sends_a_committed_notification_as_text_and_html(
    email_templates, smtp_server, mailer, carol_customer
):
    row = notify_and_commit(email_templates, [carol_customer])

    (message,) = smtp_server.wait_for(1, timeout=10)

    assert message["To"] == "carol_customer@acme.example"
    assert str(message["Subject"]) == "Agreement SLA-2026-0007 is waiting for Carol"
    assert message.get_content_type() == "multipart/alternative"
    assert "Hello Carol," in message.get_body(("plain",)).get_content()
    assert "<p>Hello Carol,</p>" in message.get_body(("html",)).get_content()
    row = wait_until(lambda: Notification.objects.filter(pk=row.pk, status=Status.SENT).first())
    assert row.attempts == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_celery_task_still_sends_what_is_due_when_asked(
    email_templates, smtp_server, celery_worker, carol_customer
):
    """No mailer runs here: the task, kept as a manual fallback, sends the row once."""
    row = notify_and_commit(email_templates, [carol_customer])
    time.sleep(1)
    assert smtp_server.messages == []  # nothing queues the task any more

    deliver_notifications.delay()
    deliver_notifications.delay()
    smtp_server.wait_for(1, timeout=30)
    wait_until(lambda: worker_log_count(celery_worker, "succeeded") >= 2)

    assert len(smtp_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)


def worker_log_count(worker: WorkerProcess, outcome: str) -> int:
    log = worker.log_path.read_text()
    return len(re.findall(rf"Task core\.deliver_notifications\[[^\]]+\] {outcome}", log))
