"""The deadline loop: one tick a second, from PostgreSQL alone (house style point 8).

``manage.py run_deadlines`` calls ``run_tick`` about once a second, in a process of its own.
It used to be a Celery task sent by beat through the broker into the one queue, where it
waited behind slow SMTP sends and big evaluations and stopped altogether while Redis was
down. Here nothing stands between a deadline and its alert but the database:

1. claim what has fallen due (ticket timers, then ``CLAIM_STEPS``; each claim is a
   conditional UPDATE on the value it saw, so two loops never claim one row and a crash
   loses nothing);
2. evaluate the claimed tickets, alone, then at most ``DEADLINE_LOOP_MAX_BATCHES`` batches
   of the other marked tickets (ingest's backlog is worked off by the Celery task, a batch
   at a tick here, so a 40,000-ticket ingest neither delays an alert nor holds a tick long);
3. record the emails of new alerts (``deliver_new_alerts``; the mailer sends them);
4. write the heartbeat ``deadlines`` that ``/healthz`` judges the loop by.

``run_forever`` is the loop around it: it sleeps to the next second boundary, runs again at
once when a tick left work behind, and lives through a database outage (logged once when it
starts and once when it ends, reconnecting every second meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections, transaction
from django.utils import timezone

from sla_portal.core.models import WorkerHeartbeat

from . import tickets as ticket_evaluation
from .alerts import deliver_new_alerts
from .deadlines import claim_due_timer_tickets
from .period_deadlines import claim_due_period_deadlines

logger = logging.getLogger(__name__)

HEARTBEAT_NAME = "deadlines"
# Rows one claim step takes per tick; a step that took this many may have left more due,
# so the loop ticks again at once instead of sleeping.
CLAIM_LIMIT = 1000
# Alerts whose emails one tick records (each slice is one transaction).
NOTIFY_LIMIT = 500

# What else falls due, after the ticket timers; each step takes ``now`` and returns how
# many rows it claimed, and evaluates or marks what it claimed itself: availability moments
# (an open outage crossing its budget's warning, target or threshold,
# ``monitoring.evaluation.period_deadlines``).
CLAIM_STEPS: list[tuple[str, Callable[[datetime], int]]] = [
    ("availability moments", claim_due_period_deadlines),
]


@dataclass(frozen=True)
class TickResult:
    """What one tick did; ``behind`` when it stopped at a bound with work left."""

    claimed: dict[str, int] = field(default_factory=dict)
    evaluated: int = 0
    notified: int = 0
    behind: bool = False

    @property
    def idle(self) -> bool:
        return not (any(self.claimed.values()) or self.evaluated or self.notified)


def run_tick(now: datetime) -> TickResult:
    """Claim what is due at ``now``, evaluate the claimed tickets and then a bounded share of
    the other marked ones, record new alerts' emails and write the heartbeat. Safe in any
    number of processes at once."""
    due_tickets = claim_due_timer_tickets(now, limit=CLAIM_LIMIT)
    claimed = {"ticket timers": len(due_tickets)}
    behind = len(due_tickets) >= CLAIM_LIMIT
    for name, step in CLAIM_STEPS:
        claimed[name] = step(now)
        behind |= claimed[name] >= CLAIM_LIMIT
    # The claimed tickets alone first: an ingest's backlog of marked tickets must not stand
    # between a deadline and its alert.
    evaluate_batch = ticket_evaluation.evaluate_batch
    evaluated = evaluate_batch(timezone.now(), only=due_tickets) if due_tickets else 0
    full = False
    for _ in range(settings.DEADLINE_LOOP_MAX_BATCHES):
        done = evaluate_batch(timezone.now())
        evaluated += done
        full = done >= ticket_evaluation.BATCH_SIZE
        if not full:
            break
    behind |= full
    with transaction.atomic():
        notified = deliver_new_alerts(timezone.now(), limit=NOTIFY_LIMIT)
    behind |= notified >= NOTIFY_LIMIT
    write_heartbeat(timezone.now())
    return TickResult(claimed=claimed, evaluated=evaluated, notified=notified, behind=behind)


def write_heartbeat(now: datetime) -> None:
    """Record that the loop ticked at ``now`` (one UPDATE; an INSERT the first time)."""
    host = f"{socket.gethostname()}:{os.getpid()}"
    if not WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).update(beat_at=now, hostname=host):
        WorkerHeartbeat.objects.update_or_create(
            name=HEARTBEAT_NAME, defaults={"beat_at": now, "hostname": host}
        )


def warm_up() -> None:
    """Load now what the first alert would otherwise load on its way out (the URLconf behind
    the links in the email, with every view it imports; the email templates; the Celery app
    that carries the delivery nudge): seconds on a busy machine, which belong before the
    loop starts, not between a deadline and its alert."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    from sla_portal.celery import app

    get_resolver().url_patterns  # noqa: B018  (the import is the point)
    for name in ("subject.txt", "body.txt", "body.html"):
        get_template(f"emails/alert/{name}")
    app.loader.import_default_modules()
    app.finalize(auto=True)


class DeadlineLoop:
    """``run_tick`` about once a second until ``stop`` is set, surviving database outages.

    An outage is logged once when it starts ("database unreachable: …") and once when it
    ends; meanwhile the loop tries again every ``interval`` seconds and says nothing. Any
    other error is logged with its traceback, at most once a minute for the same error, and
    the loop goes on: the rows stay due, so the next tick does the work.
    """

    def __init__(self, stop: threading.Event, interval: float = 1.0) -> None:
        self.stop = stop
        self.interval = interval
        self.outage_since: float | None = None
        self._last_error: tuple[str, float] | None = None

    def run(self) -> None:
        warm_up()
        logger.info("deadline loop started (every %.1f s)", self.interval)
        while not self.stop.is_set():
            started = time.monotonic()
            result = self.tick_once()
            if result is not None and result.behind:
                continue  # work left at a bound: catch up at once
            self.stop.wait(self._until_next_boundary(started))
        logger.info("deadline loop stopped")

    def tick_once(self) -> TickResult | None:
        began = time.monotonic()
        close_old_connections()
        try:
            result = run_tick(timezone.now())
        except DatabaseError as error:
            self._database_down(error)
            return None
        except Exception as error:
            self._unexpected(error)
            return None
        if self.outage_since is not None:
            logger.warning(
                "database reachable again after %.0f s; deadlines resumed",
                time.monotonic() - self.outage_since,
            )
            self.outage_since = None
        logger.debug("tick %s in %.3f s", result, time.monotonic() - began)
        if not result.idle:
            logger.info(
                "tick: claimed %s, evaluated %d tickets, notified %d alerts",
                result.claimed,
                result.evaluated,
                result.notified,
            )
        return result

    def _database_down(self, error: DatabaseError) -> None:
        # The connection may be half-dead; a fresh one is opened at the next tick.
        # Closing a dead connection may raise anything.
        for connection in connections.all():
            with contextlib.suppress(Exception):
                connection.close()
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            summary = " ".join(str(error).split())[:300]
            logger.error("database unreachable: %s; retrying every %.0f s", summary, self.interval)

    def _unexpected(self, error: Exception) -> None:
        key, now = f"{type(error).__name__}: {error}", time.monotonic()
        if self._last_error is None or self._last_error[0] != key or now - self._last_error[1] > 60:
            logger.exception("deadline tick failed; the next tick tries again")
            self._last_error = (key, now)

    def _until_next_boundary(self, started: float) -> float:
        """Seconds to sleep: to the next whole ``interval`` of the wall clock, so ticks land
        on second boundaries, and never longer than ``interval`` after this tick began."""
        wall = time.time()
        to_boundary = self.interval - (wall % self.interval)
        return max(0.0, min(to_boundary, started + self.interval - time.monotonic()))
