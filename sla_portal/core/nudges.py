"""Broker nudges that never hold up their caller while the broker is down.

A nudge is a task message that only says "look at the table now" (``notify()``'s delivery
after commit): the work is in the database, and a sweep finds it without the nudge. With
Redis stopped, each attempt to publish still costs its caller the connection attempts (about
0.6 s, more when the host does not answer), and the deadline loop records the emails of
several alerts in one tick, each with its nudge: a tick would wait seconds for a broker it
does not need. So after a failed nudge, nudges are skipped for ``PAUSE_SECONDS`` in this
process; the outage is logged once, when it is first seen, and its end once.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Task

logger = logging.getLogger(__name__)

# How long nudges are skipped after one failed: short against the sweep's period, long
# against a tick.
PAUSE_SECONDS = 10.0

_lock = threading.Lock()
_paused_until = 0.0
_down = False


def nudge(task: Task, what: str) -> bool:
    """Queue ``task`` (without arguments) unless a nudge failed in the last
    ``PAUSE_SECONDS``; return whether it was queued. Never raises: ``what`` names the work
    in the one log line of an outage."""
    global _paused_until, _down
    if time.monotonic() < _paused_until:
        return False
    try:
        task.delay()
    except Exception as error:
        with _lock:
            _paused_until = time.monotonic() + PAUSE_SECONDS
            first = not _down
            _down = True
        if first:
            summary = " ".join(str(error).split())[:200]
            logger.warning("broker unreachable (%s): %s waits for the sweep", summary, what)
        return False
    if _down:
        with _lock:
            _down = False
        logger.warning("broker reachable again")
    return True
