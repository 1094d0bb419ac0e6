"""Exactly-once email notifications: every email of the portal goes out through here.

Two steps, as in healthchecks' alert loop (house style points 8–10):

1. ``notify()`` runs inside the transaction that records the event. It renders the email for
   each recipient and inserts one ``Notification`` row per recipient under the unique
   (kind, key, recipient) constraint, so announcing the same event again inserts nothing.
   After commit it queues ``core.deliver_notifications``; on rollback there is no row and
   nothing is queued.
2. ``deliver_due()`` (run by that task, and by the beat sweep every 30 s) claims due rows one
   at a time with a conditional UPDATE, sends each through ``EmailTransport`` and records the
   outcome. Two workers never send one row twice; a failed send waits with a growing back-off;
   a row left in "sending" by a worker that died is taken up again after ten minutes.

The broker only carries "look at the table now" nudges. The work itself is in the database,
so a broker outage or a killed worker delays an email but never loses or doubles it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .emails import EmailTransport, RenderedEmail, render_email
from .models import EmailAttachment, Notification, User
from .nudges import nudge
from .tasks import deliver_notifications

logger = logging.getLogger(__name__)

Status = Notification.Status

# Back-off between attempts: 30 s, 1 min, 2 min, 4 min … never more than an hour apart.
RETRY_BASE_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(hours=1)
# Far longer than one SMTP conversation can take (EMAIL_TIMEOUT bounds each socket operation),
# so a row still "sending" after this long belongs to a worker that died mid-send.
SENDING_TIMEOUT = timedelta(minutes=10)
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
            )
        )
    if new_rows:
        Notification.objects.bulk_create(new_rows, ignore_conflicts=True)
        if attachments:
            _attach(event_rows, new_rows, now, attachments)
        # The rows are committed by then, so a broker outage must not turn the caller's
        # successful request into an error (nor hold it up): the sweep sends them.
        transaction.on_commit(lambda: nudge(deliver_notifications, "the delivery of emails"))
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
        address = (address or "").strip().lower()
        if not address:
            continue
        # A person named both as a user and as an address is addressed as the user, so the
        # row links to the account and the template can greet them by name.
        if found.get(address) is None:
            found[address] = user
    return found


def deliver_due(limit: int = 100) -> int:
    """Send up to ``limit`` notifications that are due; return how many were sent.

    Safe to run in any number of workers at once: each row is claimed with a conditional
    UPDATE before it is sent, and only the worker whose UPDATE changed the row sends it.
    A failed send goes back to pending with ``last_error`` and a later ``next_attempt_at``
    (see ``retry_delay``), or to failed after ``NOTIFY_MAX_ATTEMPTS`` attempts. Call it
    outside a transaction, so that each claim is visible to other workers at once.
    """
    _reclaim_stalled()
    transport = EmailTransport()
    sent = 0
    for _ in range(limit):
        notification = _claim_next_due()
        if notification is None:
            break
        if _send(notification, transport):
            sent += 1
    return sent


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: doubling, capped at an hour."""
    # The exponent is capped too: the hour is reached long before, and timedelta overflows.
    exponent = min(max(attempts - 1, 0), 16)
    return min(RETRY_BASE_DELAY * 2**exponent, RETRY_MAX_DELAY)


def _claim_next_due() -> Notification | None:
    """Claim the oldest due row for this worker, or return ``None`` when nothing is due."""
    while True:
        now = timezone.now()
        due = Notification.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        candidate = due.order_by("next_attempt_at", "id").values_list("id", flat=True).first()
        if candidate is None:
            return None
        # The claim repeats the conditions it was found by. If another worker claimed the row
        # since we read it, its status is no longer pending and this updates nothing (in
        # PostgreSQL the second UPDATE waits for the first and re-checks the WHERE).
        claimed = due.filter(id=candidate).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        if claimed:
            return Notification.objects.get(id=candidate)


def _send(notification: Notification, transport: EmailTransport) -> bool:
    rendered = RenderedEmail(
        subject=notification.subject, text=notification.body_text, html=notification.body_html
    )
    files = [
        (attachment.filename, bytes(attachment.content), attachment.content_type)
        for attachment in notification.attachments.order_by("id")
    ]
    try:
        transport.notify(
            [notification.recipient],
            rendered,
            headers={"Message-ID": _message_id(notification)},
            attachments=files,
        )
    except Exception as exc:
        # Any failure (refused, unreachable, timed out) is worth another try later; the
        # attempts cap ends it, and the row shows the error meanwhile.
        _record_failure(notification, exc)
        return False
    # Not conditional on the claim: the email is out, and "sent" is what stops it being sent
    # again, even if the row was reclaimed as stalled in the meantime.
    Notification.objects.filter(id=notification.id).update(
        status=Status.SENT, sent_at=timezone.now()
    )
    return True


def _record_failure(notification: Notification, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    if notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        logger.warning(
            "Giving up on notification %s to %s after %s attempts: %s",
            notification.id,
            notification.recipient,
            notification.attempts,
            error,
        )
        changes: dict[str, Any] = {"status": Status.FAILED}
    else:
        next_attempt_at = timezone.now() + retry_delay(notification.attempts)
        changes = {"status": Status.PENDING, "next_attempt_at": next_attempt_at}
    # Only while the claim is still ours: a row reclaimed as stalled meanwhile has a new owner.
    Notification.objects.filter(
        id=notification.id, status=Status.SENDING, claimed_at=notification.claimed_at
    ).update(last_error=error, **changes)


def _reclaim_stalled() -> None:
    """Put rows that a dead worker left in "sending" back in line (or fail them at the cap)."""
    now = timezone.now()
    stalled = Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT
    )
    error = "The worker sending this stopped before it finished."
    # At the cap they fail rather than go round again: an email that kills its worker every
    # time would otherwise be retried forever.
    failed = stalled.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error=error
    )
    retried = stalled.update(status=Status.PENDING, next_attempt_at=now, last_error=error)
    if failed or retried:
        logger.warning("Reclaimed stalled notifications: %s to retry, %s failed", retried, failed)


def _message_id(notification: Notification) -> str:
    # The same Message-ID on every attempt: should an email ever go out twice (the server took
    # it, then the worker died before recording that), mail systems can recognise the copy.
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<notification.{notification.id}.{notification.created_at:%Y%m%d%H%M%S}@{domain}>"


# --- Reads ------------------------------------------------------------------------------------


def notifications_for_agreement(agreement_id: int) -> QuerySet[Notification]:
    """The emails about one agreement and their delivery status, newest first.

    The agreement is the scope: take ``agreement_id`` from an agreement the acting user may
    see (the agreements app's selectors), never from the request as it stands.
    """
    return (
        Notification.objects.filter(agreement_id=agreement_id)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def pending_problems() -> QuerySet[Notification]:
    """Emails that failed for good or wait for a retry after an error, newest first.

    Spans every organisation: for provider staff watching delivery, not for customers.
    """
    return (
        Notification.objects.filter(
            Q(status=Status.FAILED) | Q(status=Status.PENDING, attempts__gt=0)
        )
        .select_related("user")
        .order_by("-created_at", "-id")
    )
