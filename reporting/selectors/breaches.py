"""Tickets and breaches on the dashboards: open ticket deadlines as rows, the open breaches a
user may see and an agreement's breach history, each list bounded (a count says how many
more there are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from agreements.models import Agreement
from monitoring.format import duration
from monitoring.models import Breach, TicketTimer
from reporting.selectors.stamps import Stamp, stamp
from reporting.selectors.states import State, state_of
from sla_portal.core.models import User

# The dashboards' lists are bounded: the newest breaches of each agreement, the nearest open
# deadlines of each agreement, the newest open breaches and the nearest tickets at risk; a
# count says how many more there are and a link leads to the paginated list of them.
BREACH_HISTORY = 10

OPEN_TICKETS = 20

TICKETS_AT_RISK = 20

OPEN_BREACHES = 25


@dataclass(frozen=True)
class TicketRow:
    """An open ticket target with the time left before its threshold (negative: past it)."""

    timer: TicketTimer
    state: State
    deadline: datetime | None
    left_seconds: float | None
    left_text: str
    due_text: str
    deadline_at: Stamp | None = None  # the deadline as printed
    due_at: Stamp | None = None  # the target's due time as printed


def ticket_row(timer: TicketTimer, now: datetime) -> TicketRow:
    """An open ticket timer as a dashboard row: its threshold deadline and the time left."""
    deadline = timer.threshold_due_at
    left = (deadline - now).total_seconds() if deadline else None
    if left is None:
        left_text = "clock paused"
    elif left >= 0:
        left_text = f"{duration(left)} left"
    else:
        left_text = f"breached {duration(-left)} ago"
    if timer.due_at is None:
        due_text = "–"
    elif timer.due_at >= now:
        due_text = f"target in {duration((timer.due_at - now).total_seconds())}"
    else:
        due_text = f"target missed {duration((now - timer.due_at).total_seconds())} ago"
    return TicketRow(
        timer,
        state_of(timer.state),
        deadline,
        left,
        left_text,
        due_text,
        stamp(deadline) if deadline else None,
        stamp(timer.due_at) if timer.due_at else None,
    )


def open_breaches(user: User) -> QuerySet[Breach]:
    """Breaches the user may see whose ticket or period is still running (the partial
    ``breach_open`` index holds exactly these)."""
    return Breach.objects.visible_to(user).filter(closed_at__isnull=True, withdrawn_at__isnull=True)


def breach_history(user: User, agreement: Agreement) -> QuerySet[Breach]:
    """Every breach of the agreement the user may see, newest first (the paginated history
    behind the dashboard's newest few), through the ``(agreement, -opened_at)`` index."""
    return (
        Breach.objects.visible_to(user)
        .filter(agreement_id=agreement.pk, withdrawn_at__isnull=True)
        .select_related("ticket", "period_result")
        .order_by("-opened_at", "-id")
    )
