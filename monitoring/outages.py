"""Outages derived from uptime checks: plain arithmetic over (time, status) pairs.

No Django here (house style, point 2): the ingest feeds this function with checks read from
the database and stores what it returns.

Rules:

* an outage starts at the first ``down`` check after the service was up (or unknown) and ends
  at the first ``up`` check after it;
* ``maintenance`` checks neither start nor end an outage. A monitor paused for planned work
  says nothing about whether the service works, so a failure that runs into maintenance and is
  still failing afterwards is one outage. Whether maintenance time counts as downtime is a
  question for the availability calculation (it knows the agreement's maintenance policy and
  the announced windows), not for the raw outage record;
* an outage that no ``up`` check has ended yet is open: its end is ``None``;
* outages have a positive length, so an ``up`` at the very instant an outage began does not end
  it (the database refuses ``ended_at == started_at``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

__all__ = ["STATUSES", "outages_from_checks"]

STATUSES = frozenset({"up", "down", "maintenance"})


def outages_from_checks(
    checks: Iterable[tuple[datetime, str]],
) -> list[tuple[datetime, datetime | None]]:
    """Return the outages ``(start, end or None)`` the checks describe, oldest first.

    ``checks`` need not be sorted; equal instants keep their given order (a stable sort).
    Raises ``ValueError`` on a status other than ``up``, ``down`` or ``maintenance``."""
    outages: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for at, status in sorted(checks, key=lambda check: check[0]):
        if status not in STATUSES:
            raise ValueError(f"unknown check status {status!r}")
        if status == "down" and started is None:
            started = at
        elif status == "up" and started is not None and at > started:
            outages.append((started, at))
            started = None
    if started is not None:
        outages.append((started, None))
    return outages
