"""Worker and beat through a broker outage: back within a second of its return, and one line
for the outage, one for its end.

Celery retries a lost broker connection after 2 s, 4 s, 6 s … up to 30 s between attempts,
so a worker found Redis again up to half a minute after it returned (13 s in the tester's
run), and wrote a line or three for every attempt. Both classes here retry every
``RECONNECT_INTERVAL`` instead, for as long as it takes (``broker_connection_max_retries``
is ``None`` in the settings), and say "broker unreachable" when the outage is first seen and
"broker reachable again" when it ends. They are named in the settings
(``CELERY_WORKER_CONSUMER``, ``CELERY_BEAT_SCHEDULER``).

Beat, while the broker is away, tries each due task once with a short publish retry (a tick
must not hang on a dead broker), says nothing per task, and tries the tasks it missed again
every second; the first that goes through ends the outage, within a second of Redis's return,
and each periodic job missed meanwhile is sent once then. Sending a missed one late, once, is
enough: every periodic job is an idempotent sweep of the database (due probes, periods,
reports, heartbeats), so one run after the outage catches up on every run it missed.

Nothing waits on the broker that matters for a deadline: the deadline loop and the mailer
work from the database alone. What comes back here is the periodic and ingest work.
"""

from __future__ import annotations

import logging
import threading
import time

from celery.worker.consumer import Consumer as CeleryConsumer
from django_celery_beat.schedulers import DatabaseScheduler as CeleryDatabaseScheduler

logger = logging.getLogger(__name__)

# Seconds between attempts to reach the broker while it is down: an attempt to a stopped
# Redis costs a refused connection, nothing worth saving.
RECONNECT_INTERVAL = 1.0

# Beat's publish retry: one reconnect attempt, at once. Celery's default (three retries up
# to a second apart) held each tick 0.6 s per due task while Redis was down; the tasks are
# tried again on the next tick anyway.
BEAT_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}


class OutageLog:
    """Says when an outage starts and when it ends, and nothing in between."""

    def __init__(self, who: str, waiting: str = "") -> None:
        self.who = who
        # What waits for the broker meanwhile, said in the first line.
        self.waiting = waiting
        self.down = False
        self.skipped = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def failed(self, error: BaseException, _interval: float | None = None) -> None:
        with self._lock:
            first, self.down = not self.down, True
            if first:
                self._since, self.skipped = time.monotonic(), 0
        summary = " ".join(str(error).split())[:200]
        if not first:
            logger.debug("%s: broker still unreachable: %s", self.who, summary)
            return
        logger.error(
            "%s: broker unreachable: %s; %strying again every %g s",
            self.who,
            summary,
            f"{self.waiting}; " if self.waiting else "",
            RECONNECT_INTERVAL,
        )

    def skip(self) -> None:
        """A send the outage prevented, counted for the line that ends it."""
        with self._lock:
            self.skipped += 1

    def succeeded(self) -> None:
        with self._lock:
            ended, self.down = self.down, False
            lasted, skipped = time.monotonic() - self._since, self.skipped
        if not ended:
            return
        if self.waiting:
            logger.warning(
                "%s: broker reachable again after %.1f s; %d due sends skipped meanwhile, "
                "each job missed is sent once now",
                self.who,
                lasted,
                skipped,
            )
        else:
            logger.warning("%s: broker reachable again after %.1f s", self.who, lasted)


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
    once; a task it cannot send for want of a broker is counted, not a traceback each."""

    outage = OutageLog("beat", waiting="due tasks wait for it")

    def __init__(self, *args, **kwargs) -> None:
        # Periodic jobs whose send failed during the outage, by name: each is sent once
        # when the broker is back.
        self._missed: dict[str, object] = {}
        super().__init__(*args, **kwargs)

    def _ensure_connected(self):
        return _ensure(self.connection, self.outage, self.app.conf.broker_connection_max_retries)

    def tick(self, *args, **kwargs) -> float:
        if self._missed:
            self._send_missed()
        interval = super().tick(*args, **kwargs)
        # Through an outage, come back every second to try the missed tasks again.
        return min(interval, RECONNECT_INTERVAL) if self._missed else interval

    def _send_missed(self) -> None:
        for name, entry in list(self._missed.items()):
            try:
                sent = self.apply_async(entry, producer=self.producer, advance=False)
            except Exception:
                logger.exception("Scheduler: could not send %s", name)
                sent = True  # not the broker: it is due again at its next time anyway
            if sent is None:
                return  # still down: the rest would fail the same way
            self._missed.pop(name, None)
            logger.debug("Scheduler: sent %s, missed during the outage", name)

    def apply_entry(self, entry, producer=None) -> None:
        # Celery's own says "Sending due task" for every entry, also those that wait for the
        # broker, and logs any failure with a traceback and the stack.
        if self.outage.down or self._missed:
            self.outage.skip()
            self._missed[entry.name] = entry
            logger.debug("Scheduler: %s waits for the broker", entry.name)
            return
        logger.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            result = self.apply_async(entry, producer=producer, advance=False)
        except Exception:
            logger.exception("Scheduler: could not send %s", entry.name)
            return
        if result is None:
            self.outage.skip()
            self._missed[entry.name] = entry

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        options = getattr(entry, "options", None)
        if isinstance(options, dict):
            options.setdefault("retry_policy", BEAT_PUBLISH_RETRY_POLICY)
        try:
            result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except Exception as error:
            # Celery wraps the cause in a SchedulingError.
            cause = _connection_error(error, self._connection_errors())
            if cause is None:
                raise
            self.outage.failed(cause)
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
