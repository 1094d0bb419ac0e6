"""Worker and beat through a broker outage: back within a second of its return, and one line
for the outage, one for its end.

Celery retries a lost broker connection after 2 s, 4 s, 6 s … up to 30 s between attempts,
so a worker found Redis again up to half a minute after it returned (13 s in the tester's
run), and wrote a line or three for every attempt. Both classes here retry every
``RECONNECT_INTERVAL`` instead, for as long as it takes (``broker_connection_max_retries``
is ``None`` in the settings), and say "broker unreachable" when the outage is first seen and
"broker reachable again" when it ends. They are named in the settings
(``CELERY_WORKER_CONSUMER``, ``CELERY_BEAT_SCHEDULER``).

Nothing waits on the broker that matters for a deadline: the deadline loop and the mailer
work from the database alone. What comes back here is the periodic and ingest work.
"""

from __future__ import annotations

import logging
import threading

from celery.worker.consumer import Consumer as CeleryConsumer
from django_celery_beat.schedulers import DatabaseScheduler as CeleryDatabaseScheduler

logger = logging.getLogger(__name__)

# Seconds between attempts to reach the broker while it is down: an attempt to a stopped
# Redis costs a refused connection, nothing worth saving.
RECONNECT_INTERVAL = 1.0


class OutageLog:
    """Says when an outage starts and when it ends, and nothing in between."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.down = False
        self._lock = threading.Lock()

    def failed(self, error: BaseException, _interval: float | None = None) -> None:
        with self._lock:
            first, self.down = not self.down, True
        if first:
            summary = " ".join(str(error).split())[:200]
            logger.error(
                "%s: broker unreachable (%s); trying again every %g s",
                self.who,
                summary,
                RECONNECT_INTERVAL,
            )

    def succeeded(self) -> None:
        with self._lock:
            ended, self.down = self.down, False
        if ended:
            logger.warning("%s: broker reachable again", self.who)


def _ensure(connection, outage: OutageLog, max_retries: int | None, **options):
    """``connection.ensure_connection`` retrying every ``RECONNECT_INTERVAL``, quietly."""
    options.pop("errback", None)
    connection = connection.ensure_connection(
        outage.failed,
        max_retries,
        interval_start=RECONNECT_INTERVAL,
        interval_step=0,
        interval_max=RECONNECT_INTERVAL,
        **options,
    )
    outage.succeeded()
    return connection


class Consumer(CeleryConsumer):
    """The worker's consumer, reconnecting every second and logging the outage once."""

    outage = OutageLog("worker")

    def ensure_connected(self, conn):
        original = conn.ensure_connection

        def ensure_connection(errback=None, max_retries=None, **options):
            conn.ensure_connection = original
            return _ensure(conn, self.outage, max_retries, **options)

        # Celery's own ensure_connected decides whether to retry at all (on start-up, per
        # its settings) and calls this with its own 2-4-6…30 s back-off and loud errback.
        conn.ensure_connection = ensure_connection
        return super().ensure_connected(conn)


class DatabaseScheduler(CeleryDatabaseScheduler):
    """django-celery-beat's scheduler, reconnecting every second and logging the outage
    once; a task it cannot send for want of a broker is one line, not a traceback each."""

    outage = OutageLog("beat")

    def _ensure_connected(self):
        return _ensure(self.connection, self.outage, self.app.conf.broker_connection_max_retries)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        try:
            result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except Exception as error:
            # Celery wraps the cause in a SchedulingError.
            cause = _connection_error(error, self._connection_errors())
            if cause is None:
                raise
            self.outage.failed(cause)
            # Celery's apply_entry logs nothing more: the entry is tried again when due.
            return None
        self.outage.succeeded()
        return result

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        from kombu.exceptions import OperationalError

        return (OperationalError, *self.connection.connection_errors)


def _connection_error(
    error: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """``error`` or the first exception behind it that is one of ``kinds``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
