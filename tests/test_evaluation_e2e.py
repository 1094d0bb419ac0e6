"""The deadline loop end to end: ``run_deadlines``, a real worker, ``celery beat``, Redis,
PostgreSQL and SMTP.

An agreement is signed with a P1 first-response target of seconds instead of minutes, so a
ticket opened "now" crosses its warning point, due time and threshold while the test watches.
The deadline loop claims due timers every second and raises alerts; beat
(``CELERY_BEAT_SCHEDULE``, DatabaseScheduler) sends the periodic jobs to the test's own queue
and the worker sends the alerts' emails to an aiosmtpd server on 127.0.0.1. Each email is
traced back through its Message-ID to its ``Notification`` row and alert, so the assertions
name the ticket, level and recipient.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from agreements.models import Agreement, Target
from agreements.services import lifecycle
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Alert, EscalationContact, Source, TicketTimer
from sla_portal.celery import app
from sla_portal.core.models import Notification, User
from tests.support.agreements import complete_for_proposal
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerAndBeat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="a worker, beat and the test write at once: PostgreSQL only",
    ),
]

ONCALL = "oncall@acme.example"
WARNING, MISSED, BREACHED = "warning", "missed_target", "breached"
# How late an email may arrive after its moment: the tick runs every second, then the
# notification task sends; anything near this bound means the loop is not keeping up.
MAX_LATENESS = timedelta(seconds=5)
MESSAGE_ID = re.compile(r"<notification\.(\d+)\.")


# --- The agreement, its escalation matrix and the ticket ---------------------------------------


def sign_with_fast_p1_response(
    agreement: Agreement,
    alice: User,
    carol: User,
    *,
    target_seconds: int,
    threshold_seconds: int,
) -> Agreement:
    """Give the draft's P1 first-response target seconds (24x7, warning at half the target),
    then propose, accept and sign it as the ``active_acme_agreement`` fixture does."""
    # Response targets are in minutes with three decimals: whole multiples of 3 s are exact.
    assert target_seconds % 3 == 0 and threshold_seconds % 3 == 0
    target = Target.objects.get(agreement=agreement, metric="response_time", priority="P1")
    target.target_value = Decimal(target_seconds) / 60
    target.threshold_value = Decimal(threshold_seconds) / 60
    target.unit = "minutes"
    target.warning_percent = Decimal(50)
    target.calendar = None
    target.save()
    # In force from yesterday: the engine then has a month or two of periods to compute, not
    # eleven, and a ticket opened an hour ago is inside the term even just after midnight (the
    # engine times only tickets opened within the version's term).
    agreement.effective_from = timezone.localdate() - timedelta(days=1)
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)
    lifecycle.accept(agreement, carol, version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, carol)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    # What the periodic job does once an agreement is in force; done here so that the first
    # ingest's evaluation only recomputes the open periods while the deadline ticks wait.
    evaluate_periods(timezone.now(), [agreement.pk])
    return agreement


def set_escalation_matrix(agreement: Agreement, tom: User, alice: User, carol: User) -> dict:
    """An explicit matrix (not the default one), so "the right people" is unambiguous."""
    matrix = {
        WARNING: [tom],
        MISSED: [tom, alice],
        BREACHED: [tom, alice, carol, ONCALL],
    }
    for level, people in matrix.items():
        for person in people:
            if isinstance(person, str):
                EscalationContact.objects.create(agreement=agreement, level=level, email=person)
            else:
                EscalationContact.objects.create(agreement=agreement, level=level, user=person)
    return {
        level: {p if isinstance(p, str) else p.email for p in people}
        for level, people in matrix.items()
    }


def open_p1_ticket(source: Source, agreement: Agreement, external_id: str, opened_at: datetime):
    result = tickets_ingest(
        source,
        [
            {
                "external_id": external_id,
                "agreement": agreement.reference,
                "priority": "P1",
                "opened_at": opened_at.isoformat(),
            }
        ],
    )
    assert result.created == 1, result


def response_timer(external_id: str) -> TicketTimer:
    return TicketTimer.objects.get(ticket__external_id=external_id, metric="response_time")


def wait_for_timer(external_id: str, timeout: float = 15) -> TicketTimer:
    """The ticket's response timer, once the worker has evaluated the ticket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timer = TicketTimer.objects.filter(
            ticket__external_id=external_id, metric="response_time"
        ).first()
        if timer is not None:
            return timer
        time.sleep(0.1)
    raise AssertionError(f"{external_id} was not evaluated within {timeout}s")


# --- The mailbox, traced back to alerts ---------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One email the SMTP server accepted, with what it was about."""

    arrived_at: datetime
    message_id: str
    recipient: str
    kind: str
    ticket: str | None
    level: str | None
    message: EmailMessage


class Mailbox:
    """Watches the SMTP server, stamping each message when first seen (polled every 50 ms).

    Each message is traced by its Message-ID to its ``Notification`` row, and alert emails by
    the row's key (``alert:<id>``) to the alert's ticket and level.
    """

    def __init__(self, server: SMTPServer) -> None:
        self.server = server
        self.deliveries: list[Delivery] = []

    def poll(self) -> None:
        received = list(self.server.received)
        for item in received[len(self.deliveries) :]:
            now = datetime.now(UTC)
            message_id = str(item.message["Message-ID"])
            match = MESSAGE_ID.search(message_id)
            assert match, f"not a notification's Message-ID: {message_id}"
            row = Notification.objects.get(pk=int(match.group(1)))
            ticket = level = None
            if row.kind.startswith("alert."):
                alert = Alert.objects.select_related("ticket").get(pk=row.key.split(":")[1])
                ticket = alert.ticket.external_id if alert.ticket_id else None
                level = alert.level
            assert item.recipients == (row.recipient,)
            self.deliveries.append(
                Delivery(now, message_id, row.recipient, row.kind, ticket, level, item.message)
            )

    def of(self, ticket: str, level: str) -> list[Delivery]:
        self.poll()
        return [d for d in self.deliveries if d.ticket == ticket and d.level == level]

    def wait_for(self, ticket: str, level: str, recipients: set[str], timeout: float) -> None:
        """Until every one of ``recipients`` has had the alert email of ``ticket``/``level``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if {d.recipient for d in self.of(ticket, level)} >= recipients:
                return
            time.sleep(0.05)
        got = sorted(d.recipient for d in self.of(ticket, level))
        raise AssertionError(f"{ticket} {level}: expected {sorted(recipients)}, got {got}")

    def settle(self, seconds: float) -> None:
        """Keep watching a while, so that a duplicate sent late would be seen."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
            time.sleep(0.05)

    def alert_emails(self) -> Counter:
        """(ticket, level, recipient) → how many emails, over every ticket alert email."""
        self.poll()
        return Counter((d.ticket, d.level, d.recipient) for d in self.deliveries if d.ticket)


def assert_one_email_each(mailbox: Mailbox, ticket: str, level: str, recipients: set[str]):
    deliveries = mailbox.of(ticket, level)
    assert Counter(d.recipient for d in deliveries) == Counter(recipients), (ticket, level)
    label = {WARNING: "[At risk]", MISSED: "[Target missed]", BREACHED: "[Threshold breached]"}
    for delivery in deliveries:
        message = delivery.message
        # Python's compat32 folding (Django's EmailMessage) starts a long encoded subject on a
        # continuation line, which the parser unfolds to one leading space.
        subject = str(message["Subject"]).strip()
        assert subject.startswith(label[level]), subject
        assert subject.endswith(f"ticket {ticket}"), subject
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None, "an alert email has text and HTML parts"
        assert f"ticket {ticket}" in text.get_content()
        assert f"ticket {ticket}" in html.get_content()
        assert message["Auto-Submitted"] == "auto-generated"


def assert_arrived_on_time(mailbox: Mailbox, ticket: str, level: str, moment: datetime):
    for delivery in mailbox.of(ticket, level):
        late = delivery.arrived_at - moment
        assert timedelta(0) <= late <= MAX_LATENESS, (ticket, level, delivery.recipient, late)


def assert_nothing_sent_twice(mailbox: Mailbox) -> None:
    mailbox.poll()
    ids = Counter(d.message_id for d in mailbox.deliveries)
    assert [mid for mid, n in ids.items() if n > 1] == []


def assert_alerts_once_and_sent(ticket: str, levels: set[str]) -> None:
    """Every alert of the ticket (any target): one per level, notified, its emails all sent."""
    alerts = list(Alert.objects.filter(ticket__external_id=ticket))
    assert Counter(a.level for a in alerts) == Counter(levels), ticket
    assert {a.target_key for a in alerts} == {response_timer(ticket).target_key}
    assert all(a.notified_at is not None for a in alerts)
    keys = [a.notification_key for a in alerts]
    statuses = Counter(Notification.objects.filter(key__in=keys).values_list("status", flat=True))
    assert set(statuses) == {Notification.Status.SENT}, statuses


def wait_until_sent(ticket: str, level: str, timeout: float = 10) -> None:
    """Until every email of the alert is recorded as sent (not merely accepted by SMTP)."""
    alert = Alert.objects.get(
        ticket__external_id=ticket, level=level, target_key=response_timer(ticket).target_key
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = Notification.objects.filter(key=alert.notification_key)
        if rows.exists() and not rows.exclude(status=Notification.Status.SENT).exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"the {level} emails of {ticket} were not all recorded as sent")


def sleep_until(moment: datetime) -> None:
    remaining = (moment - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)


# --- The tests ---------------------------------------------------------------------------------


def test_a_ticket_warns_misses_and_breaches_on_time_with_one_email_per_level_and_person(
    smtp_server,
    mailer,
    celery_worker_and_beat,
    acme_agreement,
    acme_desk,
    alice_manager,
    tom_team,
    carol_customer,
):
    agreement = sign_with_fast_p1_response(
        acme_agreement, alice_manager, carol_customer, target_seconds=12, threshold_seconds=24
    )
    people = set_escalation_matrix(agreement, tom_team, alice_manager, carol_customer)
    mailbox = Mailbox(smtp_server)

    open_p1_ticket(acme_desk, agreement, "INC-1", datetime.now(UTC))

    timer = wait_for_timer("INC-1")
    assert timer.warning_at == timer.started_at + timedelta(seconds=6)
    assert timer.due_at == timer.started_at + timedelta(seconds=12)
    assert timer.threshold_due_at == timer.started_at + timedelta(seconds=24)
    mailbox.wait_for("INC-1", WARNING, people[WARNING], timeout=15)
    mailbox.wait_for("INC-1", MISSED, people[MISSED], timeout=15)
    mailbox.wait_for("INC-1", BREACHED, people[BREACHED], timeout=15)
    mailbox.settle(2.5)

    assert_arrived_on_time(mailbox, "INC-1", WARNING, timer.warning_at)
    assert_arrived_on_time(mailbox, "INC-1", MISSED, timer.due_at)
    assert_arrived_on_time(mailbox, "INC-1", BREACHED, timer.threshold_due_at)
    for level in (WARNING, MISSED, BREACHED):
        assert_one_email_each(mailbox, "INC-1", level, people[level])
    assert sum(mailbox.alert_emails().values()) == 1 + 2 + 4
    assert_nothing_sent_twice(mailbox)
    assert_alerts_once_and_sent("INC-1", {WARNING, MISSED, BREACHED})
    assert response_timer("INC-1").state == "breached"
    assert response_timer("INC-1").next_due is None


def test_a_worker_killed_mid_way_loses_and_duplicates_nothing(
    smtp_server,
    mailer,
    celery_worker_and_beat: WorkerAndBeat,
    acme_agreement,
    acme_desk,
    alice_manager,
    tom_team,
    carol_customer,
):
    """Killed (SIGKILL: worker, beat and deadline loop) after the warning and before the due
    time; a ticket is ingested meanwhile and its evaluation request lost with the queue;
    restarted after the due time. The late target-missed alert goes out at restart, the
    breach on time, the other ticket is found by the loop's sweep, and every email goes out
    exactly once."""
    processes = celery_worker_and_beat
    # The restart happens between the due time and the threshold, so that gap must hold a
    # boot of the processes with room to spare, however busy the machine is.
    gap = 3 * math.ceil(max(15, 1.5 * processes.boot_seconds + 6) / 3)
    agreement = sign_with_fast_p1_response(
        acme_agreement, alice_manager, carol_customer, target_seconds=15, threshold_seconds=15 + gap
    )
    people = set_escalation_matrix(agreement, tom_team, alice_manager, carol_customer)
    mailbox = Mailbox(smtp_server)

    open_p1_ticket(acme_desk, agreement, "INC-1", datetime.now(UTC))
    timer = wait_for_timer("INC-1")
    mailbox.wait_for("INC-1", WARNING, people[WARNING], timeout=12)
    assert_arrived_on_time(mailbox, "INC-1", WARNING, timer.warning_at)
    # Killed once the warning is recorded as sent: a worker killed between the SMTP server's
    # "250" and that record would send the email again after SENDING_TIMEOUT, by design.
    wait_until_sent("INC-1", WARNING)
    processes.stop(kill=True)
    assert datetime.now(UTC) < timer.due_at, "killed too late: the test proves nothing"

    # While nothing runs: a ticket already past its threshold arrives, and the request to
    # evaluate it is lost with the queue (as in a broker outage). Only the sweep is left.
    open_p1_ticket(acme_desk, agreement, "INC-2", datetime.now(UTC) - timedelta(hours=1))
    with app.connection_for_write() as conn:
        assert conn.default_channel.queue_purge(processes.queue) >= 1
    sleep_until(timer.due_at + timedelta(seconds=0.5))
    assert mailbox.of("INC-1", MISSED) == []

    restarted_at = datetime.now(UTC)
    processes.start()
    ready_at = datetime.now(UTC)
    assert ready_at < timer.threshold_due_at, "restarted too late: no breach to await"
    mailbox.wait_for("INC-1", MISSED, people[MISSED], timeout=15)
    mailbox.wait_for("INC-2", BREACHED, people[BREACHED], timeout=15)
    sleep_until(timer.threshold_due_at)
    mailbox.wait_for("INC-1", BREACHED, people[BREACHED], timeout=15)
    mailbox.settle(2.5)

    # The missed target went out as soon as the worker was back, not before it was killed.
    for delivery in mailbox.of("INC-1", MISSED):
        assert restarted_at < delivery.arrived_at <= ready_at + MAX_LATENESS
    assert Alert.objects.get(ticket__external_id="INC-1", level=MISSED).reached_at == timer.due_at
    for delivery in mailbox.of("INC-2", BREACHED):
        assert restarted_at < delivery.arrived_at <= ready_at + MAX_LATENESS
    assert_arrived_on_time(mailbox, "INC-1", BREACHED, timer.threshold_due_at)
    for level in (WARNING, MISSED, BREACHED):
        assert_one_email_each(mailbox, "INC-1", level, people[level])
    # Found past its threshold at once: only the highest level is raised, once (its email
    # also reaches the people of the levels it passed over; here they are among them).
    assert_one_email_each(mailbox, "INC-2", BREACHED, people[BREACHED])
    assert mailbox.of("INC-2", WARNING) == mailbox.of("INC-2", MISSED) == []
    assert sum(mailbox.alert_emails().values()) == 1 + 2 + 4 + 4
    assert_nothing_sent_twice(mailbox)
    assert_alerts_once_and_sent("INC-1", {WARNING, MISSED, BREACHED})
    assert_alerts_once_and_sent("INC-2", {BREACHED})
