"""The deadline loop: one tick a second, from PostgreSQL alone (house style point 8).

``manage.py run_deadlines`` calls ``run_tick`` about once a second, in a process of its own.
It used to be a Celery task sent by beat through the broker into the one queue, where it
waited behind slow SMTP sends and big evaluations and stopped altogether while Redis was
down. Here nothing stands between a deadline and its alert but the database:

1. claim the ticket timers that have fallen due (a conditional UPDATE on the value it saw,
   so two loops never claim one row and a crash loses nothing);
2. evaluate the claimed tickets, alone, then at most ``DEADLINE_LOOP_MAX_BATCHES`` batches
   of the other marked tickets (ingest's backlog is worked off by the Celery task, a batch
   at a tick here, so a 40,000-ticket ingest neither delays an alert nor holds a tick long);
3. record the emails of new alerts (``deliver_new_alerts``; the mailer sends them);
4. claim the availability moments that have come and evaluate their agreements, a few a
   tick (``period_deadlines``; their alerts' emails are recorded by that evaluation), after
   the ticket alerts, so a shared probe's outage that crosses many budgets at once does
   not hold them up;
5. compute the burn rates of the periods whose burn moment came (``burn_rates``), raising
   multi-window burn-rate alerts at that second, and record their emails at once;
6. write the heartbeat ``deadlines`` that ``/healthz`` judges the loop by.

Each step runs whatever the others did: an error in one (a data bug) is logged with its
traceback, at most once a minute for the same error, and the rest of the tick and the
heartbeat go on. Only a lost database connection stops a tick.

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
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    transaction,
)
from django.utils import timezone

from monitoring.evaluation import tickets as ticket_evaluation
from monitoring.evaluation.alert_emails import deliver_new_alerts
from monitoring.evaluation.burn_rates import claim_burn_deadlines
from monitoring.evaluation.deadlines import claim_due_timer_tickets
from monitoring.evaluation.period_deadlines import TICK_BUDGET, claim_period_deadlines
from sla_portal.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_NAME = "deadlines"
# Ticket timers one tick claims; a tick that took this many may have left more due, so the
# loop ticks again at once instead of sleeping.
CLAIM_LIMIT = 1000
# Alerts whose emails one tick records (each slice is one transaction).
NOTIFY_LIMIT = 500
# The database connection is gone: the tick stops and the loop reports an outage. Any other
# error belongs to one step and is logged while the others go on.
OUTAGE = (OperationalError, InterfaceError)
# The same error of a step is logged again after this many seconds, not at every tick.
ERROR_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class TickResult:
    """What one tick did; ``behind`` when it stopped at a bound with work left; ``failed``
    names the steps that raised."""

    claimed: dict[str, int] = field(default_factory=dict)
    evaluated: int = 0
    notified: int = 0
    behind: bool = False
    failed: tuple[str, ...] = ()

    @property
    def idle(self) -> bool:
        return not (any(self.claimed.values()) or self.evaluated or self.notified)


class ErrorLog:
    """Logs an error with its traceback, the same one (step, type, text) at most once per
    ``interval`` seconds: a data bug that fails every tick fills no disk."""

    def __init__(self, interval: float = ERROR_LOG_INTERVAL) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def report(self, what: str, error: BaseException) -> None:
        key, now = f"{what}: {type(error).__name__}: {error}", time.monotonic()
        last = self._last.get(key)
        if last is None or now - last > self.interval:
            self._last[key] = now
            logger.error("%s failed; the next tick tries again", what, exc_info=error)


errors = ErrorLog()


def run_tick(now: datetime) -> TickResult:
    """Claim what is due at ``now``, evaluate marked tickets (bounded), record new alerts'
    emails, evaluate a few agreements whose availability moment came, and write the
    heartbeat. Safe in any number of processes at once."""
    failed: list[str] = []

    def step(name: str, work: Callable[[], tuple[int, bool]]) -> tuple[int, bool]:
        try:
            return work()
        except OUTAGE:
            raise
        except Exception as error:
            errors.report(f"deadline step {name!r}", error)
            failed.append(name)
            return 0, False

    due: list[int] = []

    def claim_timers() -> tuple[int, bool]:
        due[:] = claim_due_timer_tickets(now, limit=CLAIM_LIMIT)
        return len(due), len(due) >= CLAIM_LIMIT

    timers, timers_behind = step("ticket timers", claim_timers)
    evaluated, tickets_behind = step("ticket evaluation", lambda: _evaluate_tickets(due))
    notified, notify_behind = step("alert emails", _record_emails)
    moments, moments_behind = step(
        "availability moments", lambda: claim_period_deadlines(now, budget=TICK_BUDGET)
    )
    burns, burns_behind = step("burn rates", lambda: claim_burn_deadlines(now))
    # The burn alerts just raised are emailed in this tick, not the next.
    if burns:
        more, more_behind = step("alert emails", _record_emails)
        notified, notify_behind = notified + more, notify_behind or more_behind
    write_heartbeat(timezone.now())
    return TickResult(
        claimed={"ticket timers": timers, "availability moments": moments, "burn rates": burns},
        evaluated=evaluated,
        notified=notified,
        behind=timers_behind or tickets_behind or notify_behind or moments_behind or burns_behind,
        failed=tuple(failed),
    )


def _evaluate_tickets(due: list[int]) -> tuple[int, bool]:
    # The claimed tickets alone first: an ingest's backlog of marked tickets must not stand
    # between a deadline and its alert.
    # Through the module, read at each call: its batch size is the one evaluate_batch uses.
    evaluate_batch = ticket_evaluation.evaluate_batch
    evaluated = evaluate_batch(timezone.now(), only=due) if due else 0
    for _ in range(settings.DEADLINE_LOOP_MAX_BATCHES):
        done = evaluate_batch(timezone.now())
        evaluated += done
        if done < ticket_evaluation.BATCH_SIZE:
            return evaluated, False
    return evaluated, True


def _record_emails() -> tuple[int, bool]:
    with transaction.atomic():
        notified = deliver_new_alerts(timezone.now(), limit=NOTIFY_LIMIT)
    return notified, notified >= NOTIFY_LIMIT


def write_heartbeat(now: datetime) -> None:
    """Record that the loop ticked at ``now`` (one UPDATE; an INSERT the first time)."""
    host = f"{socket.gethostname()}:{os.getpid()}"
    if not WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).update(beat_at=now, hostname=host):
        WorkerHeartbeat.objects.update_or_create(
            name=HEARTBEAT_NAME, defaults={"beat_at": now, "hostname": host}
        )


def warm_up() -> None:
    """Load now what the first alert would otherwise load on its way out (the URLconf behind
    the links in the email, with every view it imports; the email templates): seconds on a
    busy machine, which belong before the loop starts, not between a deadline and its
    alert. The loop sends nothing through the broker, so the Celery app is left alone."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (the import is the point)
    for name in ("subject.txt", "body.txt", "body.html"):
        get_template(f"emails/alert/{name}")


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
        except OUTAGE as error:
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

    def _database_down(self, error: Exception) -> None:
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
        errors.report("deadline tick", error)

    def _until_next_boundary(self, started: float) -> float:
        """Seconds to sleep: to the next whole ``interval`` of the wall clock, so ticks land
        on second boundaries, and never longer than ``interval`` after this tick began."""
        wall = time.time()
        to_boundary = self.interval - (wall % self.interval)
        return max(0.0, min(to_boundary, started + self.interval - time.monotonic()))
