"""Exactly-once email notifications: every email of the portal goes out through here.

Two steps, as in healthchecks' alert loop (house style points 8–10):

1. ``notify()`` runs inside the transaction that records the event. It renders the email for
   each recipient and inserts one ``Notification`` row per recipient under the unique
   (kind, key, recipient) constraint, so announcing the same event again inserts nothing.
   On PostgreSQL it also issues ``NOTIFY`` on ``WAKE_CHANNEL``, which the server delivers
   only when the transaction commits: on rollback there is no row and nobody is woken.
2. The mail process (``manage.py run_mailer``, ``core.mailer``) wakes on that NOTIFY (and
   looks every second anyway), claims due rows one at a time with a conditional UPDATE
   (``claim_next_due``), sends each through ``EmailTransport`` and records the outcome
   (``send_claimed``). ``deliver_due()`` does the same in a loop for one caller (tests, the
   Celery task kept as a manual fallback). Two senders never send one row twice; a failed
   send waits with a growing back-off; a row left in "sending" by a sender that died is
   taken up again after ``SENDING_TIMEOUT``.

What is exactly-once and what is not (docs/reliability.md says it at length): the
decision to email a recipient about an event is exactly-once (the unique constraint); the
handing over to the SMTP server is at-least-once, and a second copy (with the same
Message-ID) can only happen when the sender dies, or loses the database, in the moment
between the server's "250" for the message and the UPDATE that marks the row sent, which
is made before the SMTP session is closed; or when the connection drops after the server
took the message but before its "250" reached us (RFC 1047), which no client can tell
apart from a refusal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from sla_portal.core.emails import EmailTransport, RenderedEmail, render_email
from sla_portal.core.models import EmailAttachment, Notification, User

logger = logging.getLogger(__name__)

Status = Notification.Status

# Back-off between attempts: 30 s, 1 min, 2 min, 4 min … never more than an hour apart.
RETRY_BASE_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(hours=1)
# The longest one SMTP conversation may last, from the TCP connect to the last reply:
# EmailTransport cuts it off after this (each socket operation is bounded by EMAIL_TIMEOUT as
# well), so a slow-dripping server, its greeting included, cannot hold a sender beyond it.
SEND_DEADLINE = timedelta(seconds=60)
# A row still "sending" this long after its claim belongs to a sender that died: no live
# sender is still in its conversation (SEND_DEADLINE, plus CLAIM_MARGIN, plus margin). Short,
# because such a row waits this long; not shorter, because a live sender's row taken up
# again would be sent twice.
SENDING_TIMEOUT = timedelta(minutes=2)
# Time a sender needs beyond its conversation before a claim can be taken from it: loading
# the row's attachments before the connect, and clocks of two hosts that differ a little.
CLAIM_MARGIN = timedelta(seconds=10)
# How long a sender keeps trying to record "sent" when the database fails just after the
# server accepted the message, before it leaves the row to be taken up again (and sent twice).
# It counts from the server's "250", which may come up to SEND_DEADLINE after the claim, so
# it is what is left of SENDING_TIMEOUT after the conversation and the margin: a live sender
# has stopped trying before reclaim_stalled() may hand its row to another sender.
MARK_SENT_PATIENCE = SENDING_TIMEOUT - SEND_DEADLINE - CLAIM_MARGIN
# The PostgreSQL NOTIFY channel that wakes run_mailer when new rows are committed.
WAKE_CHANNEL = "sla_portal_notifications"
# last_error is read by people in the admin; a whole SMTP transcript helps nobody.
MAX_ERROR_LENGTH = 2000


# --- Writes -----------------------------------------------------------------------------------


def notify(
    kind: str,
    key: str,
    recipients: Iterable[User | str],
    template_prefix: str,
    context: Mapping[str, Any],
    agreement_id: int | None = None,
    attachments: Sequence[EmailAttachment] = (),
    headers_for: Callable[[str], Mapping[str, str]] | None = None,
) -> list[Notification]:
    """Record one email per recipient for the event (``kind``, ``key``) and send it after commit.

    Call it inside the transaction that records the event: if that transaction rolls back,
    no row remains and nothing is queued or sent. Calling it again for the same event and
    recipient creates nothing new, so callers need no "already notified?" check.

    ``recipients`` are users or plain addresses. Inactive users and blank addresses are
    skipped; a mailbox named twice (also as both a user and an address) gets one email.
    The triplet under ``template_prefix`` is rendered now, once per recipient, from
    ``context`` plus ``recipient`` (the user, when one was given) and ``recipient_email``;
    every retry later sends exactly what was rendered here.

    ``attachments`` (unsaved ``EmailAttachment`` rows, already rendered to bytes) go with
    every new email of the event. They are stored once, only if a new row is created, and
    shared by the recipients' rows; retries send those stored bytes.

    ``headers_for(address)`` gives extra headers for one recipient's email (a subscriber's
    List-Unsubscribe); they are stored with the row, so every retry sends them too.

    Returns the event's rows for these recipients, new ones and any from earlier calls.
    """
    addresses = _recipients_by_address(recipients)
    if not addresses:
        return []
    event_rows = Notification.objects.filter(kind=kind, key=key, recipient__in=list(addresses))
    # Rendering is the costly part and a repeated event is the common case (a deadline loop
    # re-announcing a breach), so rows that exist already are not rendered again. The unique
    # constraint, not this read, is what guarantees one row when two transactions race.
    existing = set(event_rows.values_list("recipient", flat=True))
    now = timezone.now()
    new_rows = []
    for address, user in addresses.items():
        if address in existing:
            continue
        personal = {**context, "recipient_email": address}
        if user is not None:
            personal["recipient"] = user
        rendered = render_email(template_prefix, personal)
        new_rows.append(
            Notification(
                kind=kind,
                key=key,
                recipient=address,
                user=user,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                created_at=now,
                next_attempt_at=now,
                agreement_id=agreement_id,
                headers=dict(headers_for(address)) if headers_for is not None else {},
            )
        )
    if new_rows:
        Notification.objects.bulk_create(new_rows, ignore_conflicts=True)
        if attachments:
            _attach(event_rows, new_rows, now, attachments)
        wake_mailer()
    return list(event_rows.order_by("id"))


def _attach(
    event_rows: QuerySet[Notification],
    new_rows: list[Notification],
    now: datetime,
    attachments: Sequence[EmailAttachment],
) -> None:
    """Store ``attachments`` once and link them to the rows this call inserted."""
    # bulk_create with ignore_conflicts sets no ids, and a row that lost a race to another
    # transaction was not inserted: the rows that are ours are the new ones carrying our ``now``.
    inserted = list(
        event_rows.filter(recipient__in=[row.recipient for row in new_rows], created_at=now)
    )
    if not inserted:
        return
    for attachment in attachments:
        if attachment.pk is None:
            attachment.save()
    links = Notification.attachments.through
    links.objects.bulk_create(
        links(notification_id=row.pk, emailattachment_id=attachment.pk)
        for row in inserted
        for attachment in attachments
    )


# Notification.recipient's length (RFC 5321's limit on a path).
ADDRESS_MAX_LENGTH = 254


def normalise_address(address: str) -> str:
    """An email address as stored: stripped and lowercased. Check its length after this, not
    before: lowercasing can make it longer."""
    return address.strip().lower()


def _recipients_by_address(recipients: Iterable[User | str]) -> dict[str, User | None]:
    """Normalised address → the user behind it (``None`` for a plain address), in order."""
    found: dict[str, User | None] = {}
    for recipient in recipients:
        if isinstance(recipient, str):
            user, address = None, recipient
        elif not recipient.is_active:
            continue
        else:
            user, address = recipient, recipient.email
        # Mailboxes compare case-insensitively in practice; storing them lowercased makes the
        # unique constraint mean one email per mailbox, not one per spelling of it.
        address = normalise_address(address or "")
        if not address:
            continue
        if len(address) > ADDRESS_MAX_LENGTH:
            # Lowercasing can lengthen an address ("İ" becomes two characters): one that no
            # longer fits the column is skipped, not allowed to fail the whole event's insert.
            logger.warning("Skipping a recipient address of %d characters", len(address))
            continue
        # A person named both as a user and as an address is addressed as the user, so the
        # row links to the account and the template can greet them by name.
        if found.get(address) is None:
            found[address] = user
    return found


def wake_mailer() -> None:
    """Wake run_mailer when the current transaction commits (at once outside one).

    PostgreSQL holds a NOTIFY until commit and drops it on rollback, which is exactly when
    the rows become visible or vanish. Elsewhere (SQLite) the mailer polls every second.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {WAKE_CHANNEL}")


def deliver_due(limit: int = 100) -> int:
    """Send up to ``limit`` notifications that are due; return how many were sent.

    Safe to run in any number of senders at once: each row is claimed with a conditional
    UPDATE before it is sent, and only the sender whose UPDATE changed the row sends it.
    A failed send goes back to pending with ``last_error`` and a later ``next_attempt_at``
    (see ``retry_delay``), or to failed after ``NOTIFY_MAX_ATTEMPTS`` attempts. Call it
    outside a transaction, so that each claim is visible to other senders at once.
    """
    reclaim_stalled()
    transport = EmailTransport()
    sent = 0
    for _ in range(limit):
        notification = claim_next_due()
        if notification is None:
            break
        if send_claimed(notification, transport):
            sent += 1
    return sent


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: doubling, capped at an hour."""
    # The exponent is capped too: the hour is reached long before, and timedelta overflows.
    exponent = min(max(attempts - 1, 0), 16)
    return min(RETRY_BASE_DELAY * 2**exponent, RETRY_MAX_DELAY)


def claim_next_due() -> Notification | None:
    """Claim the oldest due row for this sender, or return ``None`` when nothing is due."""
    while True:
        now = timezone.now()
        due = Notification.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        candidate = due.order_by("next_attempt_at", "id").values_list("id", flat=True).first()
        if candidate is None:
            return None
        # The claim repeats the conditions it was found by. If another sender claimed the row
        # since we read it, its status is no longer pending and this updates nothing (in
        # PostgreSQL the second UPDATE waits for the first and re-checks the WHERE).
        claimed = due.filter(id=candidate).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        if claimed:
            return Notification.objects.get(id=candidate)


def send_claimed(notification: Notification, transport: EmailTransport) -> bool:
    """Send a row claimed by ``claim_next_due`` and record the outcome; True if it was sent.

    The row is marked sent as soon as the server has accepted the message, before the SMTP
    session is closed: the moment in which a sender that dies leaves a delivered email
    looking undelivered is one UPDATE long, not a QUIT round trip to a server that may hang.
    """
    rendered = RenderedEmail(
        subject=notification.subject, text=notification.body_text, html=notification.body_html
    )
    files = [
        (attachment.filename, bytes(attachment.content), attachment.content_type)
        for attachment in notification.attachments.order_by("id")
    ]
    accepted = False

    def mark_sent() -> None:
        nonlocal accepted
        accepted = True
        _mark_sent(notification)

    try:
        transport.notify(
            [notification.recipient],
            rendered,
            headers={**(notification.headers or {}), "Message-ID": _message_id(notification)},
            attachments=files,
            on_accepted=mark_sent,
            deadline=SEND_DEADLINE.total_seconds(),
        )
    except Exception as exc:
        if accepted:
            # Only closing the session failed: the message is out and recorded.
            failure_log.succeeded()
            return True
        # Any failure (refused, unreachable, timed out) is worth another try later; the
        # attempts cap ends it, and the row shows the error meanwhile.
        _record_failure(notification, exc)
        return False
    failure_log.succeeded()
    return True


def _mark_sent(notification: Notification) -> None:
    """Record that the server accepted the message, holding on through a database outage.

    Not conditional on the claim: the email is out, and "sent" is what stops it being sent
    again, even if the row was reclaimed as stalled in the meantime.
    """
    give_up_at = time.monotonic() + MARK_SENT_PATIENCE.total_seconds()
    while True:
        try:
            now = timezone.now()
            Notification.objects.filter(id=notification.id).update(
                status=Status.SENT, sent_at=now, attempted_at=now
            )
            return
        except DatabaseFailure as exc:
            if time.monotonic() >= give_up_at:
                logger.error(
                    "Notification %s to %s was accepted by the mail server but could not be "
                    "marked sent (%s); it will be sent again",
                    notification.id,
                    notification.recipient,
                    exc,
                )
                raise
            # The connection is broken; a new one is made on the next try.
            connection.close()
            time.sleep(1)


def _record_failure(notification: Notification, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    final = notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS
    # Each failed attempt is logged, not only the last: an SMTP server that refuses or hangs
    # shows in the logs at its first failure, an hour before delivery is given up. An error
    # already logged since the last success (an outage: the same "connection refused" for
    # every row) is logged again at INFO, so 1,500 waiting emails do not bury the logs in
    # warnings; a row given up on is an ERROR.
    level = failure_log.failed(error)
    if final:
        level = logging.ERROR
    logger.log(
        level,
        "Email to %s (notification %s) failed, attempt %s of %s: %s; %s",
        notification.recipient,
        notification.id,
        notification.attempts,
        settings.NOTIFY_MAX_ATTEMPTS,
        error,
        "giving up" if final else f"next attempt in {retry_delay(notification.attempts)}",
    )
    if final:
        changes: dict[str, Any] = {"status": Status.FAILED}
    else:
        next_attempt_at = timezone.now() + retry_delay(notification.attempts)
        changes = {"status": Status.PENDING, "next_attempt_at": next_attempt_at}
    # Only while the claim is still ours: a row reclaimed as stalled meanwhile has a new owner.
    Notification.objects.filter(
        id=notification.id, status=Status.SENDING, claimed_at=notification.claimed_at
    ).update(last_error=error, attempted_at=timezone.now(), **changes)


class FailureLog:
    """How loudly to log a failed attempt: WARNING for an error not seen since the last
    success, INFO for a repeat; one WARNING when an email goes out again after failures.

    Shared by the threads of one process (the mailer's senders).
    """

    # Distinct errors remembered per run of failures; beyond it, new ones are warned about
    # still, and merely not remembered (refusals naming each recipient are all distinct).
    MAX_REMEMBERED = 100

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: set[str] = set()
        self._failures = 0
        self._since: float | None = None

    def failed(self, error: str) -> int:
        """Record a failed attempt with ``error``; return the level to log it at."""
        with self._lock:
            self._failures += 1
            if self._since is None:
                self._since = time.monotonic()
            if error in self._errors:
                return logging.INFO
            if len(self._errors) < self.MAX_REMEMBERED:
                self._errors.add(error)
            return logging.WARNING

    def succeeded(self) -> None:
        """Record a sent email; log the end of a run of failures, once."""
        with self._lock:
            if self._since is None:
                return
            failures, lasted = self._failures, time.monotonic() - self._since
            self.reset_unlocked()
        logger.warning(
            "Email delivery works again: an email was sent after %s failed attempt(s) over %.0f s",
            failures,
            lasted,
        )

    def reset(self) -> None:
        with self._lock:
            self.reset_unlocked()

    def reset_unlocked(self) -> None:
        self._errors.clear()
        self._failures = 0
        self._since = None


failure_log = FailureLog()


def reclaim_stalled() -> None:
    """Put rows that a dead sender left in "sending" back in line (or fail them at the cap)."""
    now = timezone.now()
    stalled = Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT
    )
    error = "The process sending this stopped before it finished."
    # At the cap they fail rather than go round again: an email that kills its worker every
    # time would otherwise be retried forever.
    failed = stalled.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error=error, attempted_at=now
    )
    retried = stalled.update(
        status=Status.PENDING, next_attempt_at=now, last_error=error, attempted_at=now
    )
    if failed or retried:
        logger.warning("Reclaimed stalled notifications: %s to retry, %s failed", retried, failed)


def _message_id(notification: Notification) -> str:
    # The same Message-ID on every attempt: should an email ever go out twice (the server took
    # it, then the worker died before recording that), mail systems can recognise the copy.
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<notification.{notification.id}.{notification.created_at:%Y%m%d%H%M%S}@{domain}>"
