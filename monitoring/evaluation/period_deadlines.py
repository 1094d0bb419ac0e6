"""The deadline loop's share for periods: availability alerts at the moment a budget is crossed.

While an outage is open, each evaluation of a period stores in ``PeriodResult.next_due`` the
next moment its downtime crosses the warning share, the target or the threshold
(``monitoring.budget``). Every tick claims the due rows with a conditional UPDATE on the
value it saw (house style point 8, as ``deadlines.claim_due_timers`` does for tickets) and
re-evaluates the agreement's periods at once, which raises the alert stamped with the
crossing moment and stores the next deadline. Alerts are unique per period and level, and a
periodic evaluation stamps a level with the same moment, so whichever comes first raises it
and the other finds it raised.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from agreements.models import Agreement
from agreements.terms import MONITORED_STATES

from ..models import PeriodResult
from .periods import evaluate_agreement_periods


def claim_due_period_deadlines(now: datetime, limit: int = 100) -> int:
    """Claim up to ``limit`` periods whose next crossing has come, re-evaluate their
    agreements at ``now`` (raising the alerts) and return how many periods were claimed.

    Safe with two loops: the agreement is locked first, in the order an evaluation locks
    (``evaluate_agreement_periods`` locks the agreement, then writes its period rows), and
    an agreement being evaluated right now is skipped; that evaluation stores the next
    deadline, and the next tick claims the row if it is still due. The row is then claimed
    with ``UPDATE … WHERE next_due = <seen>``, so only one loop evaluates it. A loop that dies
    after the claim rolls the claim back with its transaction: nothing is lost.
    """
    due = list(
        PeriodResult.objects.filter(next_due__lte=now, closed_at__isnull=True)
        .order_by("next_due")
        .values_list("pk", "agreement_id", "next_due")[:limit]
    )
    claimed = 0
    done: set[int] = set()
    for pk, agreement_id, seen in due:
        with transaction.atomic():
            agreement = (
                Agreement.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=agreement_id)
                .select_related("in_force_version", "created_by")
                .first()
            )
            if agreement is None:
                continue
            if not PeriodResult.objects.filter(pk=pk, next_due=seen).update(next_due=None):
                continue
            claimed += 1
            if agreement_id in done:
                # Evaluated a moment ago in this tick, which stored its rows' deadlines
                # anew; this row was due then too, so it is already taken care of.
                continue
            done.add(agreement_id)
            if agreement.status in MONITORED_STATES and agreement.in_force_version_id:
                evaluate_agreement_periods(agreement, now)
    return claimed
