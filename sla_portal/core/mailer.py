"""The mail process (``manage.py run_mailer``): sends due ``Notification`` rows, and only that.

Email used to be sent by the Celery worker, one message after another in the pool that also
evaluated tickets, so an SMTP server that hangs held up everything behind it. Here it has a
process of its own, needing only the database:

* **Woken, and polling.** ``notify()`` issues a PostgreSQL ``NOTIFY`` that the server delivers
  on commit; the main thread ``LISTEN``s on a connection of its own and wakes the senders at
  once. It also wakes them every ``MAILER_POLL_SECONDS`` regardless, for rows whose retry
  back-off has passed, for a NOTIFY missed while the connection was down, and on SQLite,
  which has no NOTIFY at all.
* **Several senders.** ``MAILER_THREADS`` threads each claim one due row at a time (the
  conditional UPDATE of ``claim_next_due``), send it and record the outcome. A conversation
  with a server that hangs holds up one thread for at most ``EMAIL_TIMEOUT`` per step (and
  ``SEND_DEADLINE`` in all) while the others go on. The trade-off: more threads keep more
  sends going past a stuck one, but open as many SMTP sessions at once, and as many database
  connections; four is plenty for a portal's alert volume. SQLite runs one thread (it admits
  one writer at a time anyway).
* **Heartbeat.** The main thread writes the heartbeat ``mailer`` on every round (at least
  once per poll interval), which ``/healthz`` judges within seconds.
* **Outages.** A database error is logged once when the outage starts and once when it ends;
  every thread keeps trying, reconnecting, and never exits for it.
* **Stopping.** SIGTERM or SIGINT sets ``stop``: no new row is claimed, the sends under way
  get a few seconds to finish, and the process exits. A row cut off mid-send stays "sending"
  and is taken up again after ``SENDING_TIMEOUT`` (see ``core.notifications``).

Any number of mailers (and ``deliver_due`` callers) may run at once: claims are conditional.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from typing import Any

from django.conf import settings

# Django's root database exception: a connection closed under us raises InterfaceError,
# which is not a DatabaseError.
from django.db import Error as DatabaseFailure
from django.db import connection

from sla_portal.core.emails import EmailTransport
from sla_portal.core.health import MAILER_HEARTBEAT, record_heartbeat
from sla_portal.core.notifications import (
    WAKE_CHANNEL,
    claim_next_due,
    reclaim_stalled,
    send_claimed,
)

logger = logging.getLogger(__name__)

# (DatabaseFailure is Django's root database exception: a connection closed under us raises
# InterfaceError, which is not a DatabaseError.)

# The heartbeat is written at most this often (rounds come at least every poll interval).
HEARTBEAT_EVERY_SECONDS = 0.5
# Stalled rows are looked for this often; they are rare, and wait minutes anyway.
RECLAIM_EVERY_SECONDS = 10.0
# On stopping, how long the sends under way may take to finish before the process exits.
STOP_GRACE_SECONDS = 5.0


class Wakeup:
    """A doorbell for the sender threads that a ring between two looks cannot be missed by."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    @property
    def rings(self) -> int:
        with self._condition:
            return self._rings

    def wait(self, seen: int, timeout: float) -> int:
        """Wait until rung after ``seen`` rings (or ``timeout``); return the rings now."""
        with self._condition:
            self._condition.wait_for(lambda: self._rings != seen, timeout)
            return self._rings


class OutageLog:
    """Logs a database outage once when it starts and once when it ends, for all threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        logger.error("Mailer: database unreachable: %s", " ".join(str(exc).split()))

    def succeeded(self) -> None:
        with self._lock:
            if self.down_since is None:
                return
            lasted = time.monotonic() - self.down_since
            self.down_since = None
        logger.warning("Mailer: database reachable again after %.0f s", lasted)


class Mailer:
    """The main loop and its sender threads; ``run(stop)`` returns once ``stop`` is set."""

    def __init__(
        self,
        threads: int | None = None,
        poll_seconds: float | None = None,
        hostname: str | None = None,
    ) -> None:
        self.listens = connection.vendor == "postgresql"
        wanted = threads if threads is not None else settings.MAILER_THREADS
        self.threads = max(1, wanted) if self.listens else 1
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else settings.MAILER_POLL_SECONDS
        )
        self.hostname = hostname or socket.gethostname()
        self.wakeup = Wakeup()
        self.outage = OutageLog()
        self._listener: Any = None

    def run(self, stop: threading.Event) -> None:
        senders = [
            threading.Thread(
                target=self._sender, args=(stop,), name=f"mailer-sender-{number}", daemon=True
            )
            for number in range(self.threads)
        ]
        for sender in senders:
            sender.start()
        how = f"woken by NOTIFY {WAKE_CHANNEL} and" if self.listens else "polling"
        logger.info(
            "Mailer started: %s sender thread(s), %s every %g s",
            self.threads,
            how,
            self.poll_seconds,
        )
        try:
            self._main_loop(stop)
        finally:
            self.wakeup.ring()
            give_up_at = time.monotonic() + STOP_GRACE_SECONDS
            for sender in senders:
                sender.join(timeout=max(0.0, give_up_at - time.monotonic()))
            busy = sum(sender.is_alive() for sender in senders)
            if busy:
                logger.warning("Mailer: stopping with %s send(s) still under way", busy)
            self._close_listener()
            connection.close()
            logger.info("Mailer stopped")

    # --- The main thread: heartbeat, stalled rows, LISTEN ----------------------------------

    def _main_loop(self, stop: threading.Event) -> None:
        next_reclaim = next_beat = 0.0
        while not stop.is_set():
            try:
                # A burst of commits wakes this loop hundreds of times a second; the
                # heartbeat needs writing about once a second, not on every wake.
                if time.monotonic() >= next_beat:
                    record_heartbeat(MAILER_HEARTBEAT, self.hostname)
                    next_beat = time.monotonic() + HEARTBEAT_EVERY_SECONDS
                if time.monotonic() >= next_reclaim:
                    reclaim_stalled()
                    next_reclaim = time.monotonic() + RECLAIM_EVERY_SECONDS
                if self.listens and self._listener is None:
                    self._listener = self._listen()
                self.outage.succeeded()
            except DatabaseFailure as exc:
                self.outage.failed(exc)
                self._close_listener()
                connection.close()
            # Every round wakes the senders: this is the poll, and it follows a NOTIFY too.
            self.wakeup.ring()
            self._wait_for_notify(stop)

    def _listen(self) -> Any:
        """A connection of its own, in autocommit, LISTENing on the wake channel."""
        # Wrapped, so that a refused connection is Django's error like any other here.
        with connection.wrap_database_errors:
            raw = connection.get_new_connection(connection.get_connection_params())
            raw.autocommit = True
            with raw.cursor() as cursor:
                cursor.execute(f"LISTEN {WAKE_CHANNEL}")
        return raw

    def _wait_for_notify(self, stop: threading.Event) -> None:
        """Return on a NOTIFY, or after the poll interval, or soon after ``stop``."""
        listener = self._listener
        if listener is None:
            stop.wait(self.poll_seconds)
            return
        try:
            readable, _, _ = select.select([listener], [], [], self.poll_seconds)
            if readable:
                listener.poll()
                # One wake serves any number of notifications: the senders read the table.
                listener.notifies.clear()
        except Exception as exc:
            self.outage.failed(exc)
            self._close_listener()
            stop.wait(self.poll_seconds)

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                logger.debug("closing the LISTEN connection failed", exc_info=True)
            self._listener = None

    # --- Sender threads --------------------------------------------------------------------

    def _sender(self, stop: threading.Event) -> None:
        transport = EmailTransport()
        seen = self.wakeup.rings
        try:
            while not stop.is_set():
                try:
                    notification = claim_next_due()
                    if notification is not None:
                        send_claimed(notification, transport)
                    self.outage.succeeded()
                except DatabaseFailure as exc:
                    self.outage.failed(exc)
                    # Each thread has its own connection; a broken one is replaced next time.
                    connection.close()
                    stop.wait(self.poll_seconds)
                    continue
                except Exception:
                    # A bug must not silence email for good: log it, keep the thread.
                    logger.exception("Mailer: sending failed unexpectedly")
                    stop.wait(self.poll_seconds)
                    continue
                if notification is None:
                    seen = self.wakeup.wait(seen, self.poll_seconds)
        finally:
            connection.close()
