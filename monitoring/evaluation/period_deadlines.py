"""The deadline loop's share for periods: availability alerts at the moment a budget is crossed.

While an outage is open, each evaluation of a period stores in ``PeriodResult.next_due`` the
next moment its downtime crosses the warning share, the target or the threshold
(``monitoring.budget``). Every tick claims the due rows with a conditional UPDATE on the
value it saw (house style point 8, as ``deadlines.claim_due_timers`` does for tickets) and
re-evaluates the agreement's periods at once, which raises the alert stamped with the
crossing moment and stores the next deadline. Alerts are unique per period and level, and a
periodic evaluation stamps a level with the same moment, so whichever comes first raises it
and the other finds it raised.

A tick evaluates a few agreements only (``TICK_LIMIT``, ``TICK_BUDGET``): a shared probe's
outage makes many cross at once, and ticket deadlines and alert emails must not wait behind
them; the loop ticks again at once for the rest. An agreement whose evaluation fails (a data
bug) is logged with its id and its deadline put off by ``RETRY_AFTER``: it neither stops the
others nor fails again at every tick.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, transaction

from agreements.models import Agreement
from agreements.terms import MONITORED_STATES
from monitoring.evaluation.periods import evaluate_agreement_periods
from monitoring.models import PeriodResult

logger = logging.getLogger(__name__)

# Agreements one tick evaluates, and the time after which it starts no other.
TICK_LIMIT = 10
TICK_BUDGET = 0.5  # seconds
# How long the deadline of a period whose evaluation failed is put off.
RETRY_AFTER = timedelta(seconds=60)
# The database itself is gone: not one agreement's fault, so the tick stops (the loop
# reports the outage) and every deadline stays as it was.
OUTAGE = (OperationalError, InterfaceError)


def claim_due_period_deadlines(now: datetime, limit: int = 100) -> int:
    """Claim periods whose next crossing has come (evaluating at most ``limit``
    agreements), re-evaluate their agreements at ``now`` (raising the alerts) and return
    how many periods were claimed."""
    return claim_period_deadlines(now, limit)[0]


def claim_period_deadlines(
    now: datetime, limit: int | None = None, budget: float | None = None
) -> tuple[int, bool]:
    """Claim due periods as ``claim_due_period_deadlines`` does, evaluating at most
    ``limit`` agreements (``TICK_LIMIT``) and, once one is done, starting none after
    ``budget`` seconds; return how many periods were claimed and whether due ones were
    left for the next tick.

    Safe with two loops: the agreement is locked first, in the order an evaluation locks
    (``evaluate_agreement_periods`` locks the agreement, then writes its period rows), and
    an agreement being evaluated right now is skipped; that evaluation stores the next
    deadline, and the next tick claims the row if it is still due. The row is then claimed
    with ``UPDATE … WHERE next_due = <seen>``, so only one loop evaluates it. A loop that dies
    after the claim rolls the claim back with its transaction: nothing is lost.
    """
    began = time.monotonic()
    limit = TICK_LIMIT if limit is None else limit
    due = list(
        PeriodResult.objects.filter(next_due__lte=now, closed_at__isnull=True)
        .order_by("next_due")
        .values_list("pk", "agreement_id", "next_due")[: limit * 4 + 1]
    )
    claimed = 0
    done: set[int] = set()
    failed: set[int] = set()
    for pk, agreement_id, seen in due:
        if agreement_id in failed:
            _put_off(pk, seen, now)
            continue
        if agreement_id not in done and (
            len(done) >= limit
            or (done and budget is not None and time.monotonic() - began >= budget)
        ):
            return claimed, True
        try:
            with transaction.atomic():
                claimed += _claim_one(pk, agreement_id, seen, now, done)
        except OUTAGE:
            raise
        except Exception:
            logger.exception(
                "evaluating agreement %s for its availability deadline failed; "
                "its deadlines are put off by %d s",
                agreement_id,
                RETRY_AFTER.total_seconds(),
            )
            failed.add(agreement_id)
            _put_off(pk, seen, now)
    return claimed, len(due) > limit * 4


def _put_off(pk: int, seen: datetime, now: datetime) -> None:
    """Move a period's deadline ``RETRY_AFTER`` on, unless another loop took it meanwhile."""
    PeriodResult.objects.filter(pk=pk, next_due=seen).update(next_due=now + RETRY_AFTER)


def _claim_one(pk: int, agreement_id: int, seen: datetime, now: datetime, done: set[int]) -> int:
    """Claim one due period and evaluate its agreement (once a tick); 1 when claimed.

    The agreement is locked FOR NO KEY UPDATE, as ``evaluate_agreement_periods`` locks it:
    a burn computation that holds this agreement's period row (``burn_rates``) takes FOR
    KEY SHARE on the agreement when its new alert's foreign key is checked at commit, and a
    plain FOR UPDATE here, waiting in turn for that period row, would deadlock with it."""
    agreement = (
        Agreement.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
        .filter(pk=agreement_id)
        .select_related("in_force_version", "created_by")
        .first()
    )
    if agreement is None:
        return 0
    if not PeriodResult.objects.filter(pk=pk, next_due=seen).update(next_due=None):
        return 0
    if agreement_id in done:
        # Evaluated a moment ago in this tick, which stored its rows' deadlines anew; this
        # row was due then too, so it is already taken care of.
        return 1
    done.add(agreement_id)
    if agreement.status in MONITORED_STATES and agreement.in_force_version_id:
        # The tick is for crossing moments: the forecast (made by the next full
        # evaluation) is carried over as stored, keeping the tick within its budget.
        evaluate_agreement_periods(agreement, now, forecast=False)
    return 1
