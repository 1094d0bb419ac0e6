"""When an availability budget runs out: a period's next deadline, known in advance.

While an outage is open its downtime grows with every counted second, so the moments at
which the period's downtime passes the warning share of the budget, the budget itself (the
target is missed) and the threshold's allowance (the threshold is breached) are known now,
like a ticket's due time. ``monitoring.compliance.verdicts.availability_verdict`` computes them with
the verdict (``Verdict.crossings``), over the very time it counts: service hours and the
calendar's holidays, excluded maintenance and unmeasured silence all stop the downtime from
growing, and a budget used up at a closing time is crossed when service resumes. This module
picks the next of them for the deadline column, so the deadline loop alerts at that moment
instead of waiting for the next periodic evaluation.

Pure, no Django (house style point 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from monitoring.compliance.states import AT_RISK, BREACHED, MISSED_TARGET

__all__ = ["LEVELS", "WARNING", "next_crossing"]

WARNING = "warning"
# The alert level of each crossing, in the order an outage reaches them.
LEVELS = (WARNING, MISSED_TARGET, BREACHED)
# How far a period status has gone, in the levels above.
_STATUS_RANK = {AT_RISK: 1, MISSED_TARGET: 2, BREACHED: 3}
# A crossing that has come but that the verdict does not show yet is looked at again this
# much later. Only a safety net: a moment is the first microsecond past the allowance, so
# the verdict at the moment itself shows it.
RETRY = timedelta(seconds=1)


def next_crossing(crossings: Mapping[str, datetime], status: str, now: datetime) -> datetime | None:
    """The period's next deadline: the earliest crossing of a level above what ``status``
    already shows (``None``: nothing more is crossed within the period). A moment that has
    come although the status does not show it yet is retried shortly, never dropped."""
    reached = _STATUS_RANK.get(status, 0)
    pending = [
        crossings[level]
        for rank, level in enumerate(LEVELS, start=1)
        if rank > reached and level in crossings
    ]
    if not pending:
        return None
    return min(pending) if min(pending) > now else now + RETRY
