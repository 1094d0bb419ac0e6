"""Platform tasks of the worker."""

import socket

from celery import shared_task


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Tell /healthz that a worker is consuming and beat is scheduling."""
    from sla_portal.core.health import record_heartbeat

    record_heartbeat(hostname=socket.gethostname())


@shared_task(
    name="core.deliver_notifications",
    ignore_result=True,
    # Redelivered if the worker is lost mid-run; harmless, because every row is claimed
    # before it is sent and a second run finds nothing left to claim.
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_notifications() -> int:
    """Send the notifications that are due, from a worker.

    Not queued or scheduled by the portal any more: email has its own process
    (``run_mailer``), so a hanging SMTP server never occupies the worker pool. Kept as a
    manual fallback (``deliver_notifications.delay()`` while no mailer runs) and so that a
    message queued by an older version is consumed, not refused. Safe beside a mailer:
    every row is claimed before it is sent.
    """
    from sla_portal.core.notifications import deliver_due

    return deliver_due()
