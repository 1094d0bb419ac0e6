"""Ticket evaluation (``evaluate_pending_tickets``) of the big customer's newest tickets,
beside a ``COPY`` of exactly the timers it writes. Runs in this process, before the server
starts; its peak RSS is this process's (``VmHWM``, reset before each run)."""

from __future__ import annotations

import time
from typing import Any

from bench.common import proc_kb, summary
from bench.rows._copy import columns, copy_in, copy_out


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def run(ctx: Any) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from monitoring.evaluation.tickets import evaluate_pending_tickets
    from monitoring.models import Ticket, TicketTimer

    ids = list(
        Ticket.objects.filter(customer_id=ctx.world["big"]["customer"])
        .order_by("-opened_at")
        .values_list("pk", flat=True)[: ctx.evaluation_tickets]
    )
    timer_table = TicketTimer._meta.db_table
    timer_columns = columns(TicketTimer, without=("id",))
    subject, ceiling, peaks, timers = [], [], [], []
    for _ in range(ctx.runs):
        TicketTimer.objects.filter(ticket_id__in=ids).delete()
        Ticket.objects.filter(pk__in=ids).update(evaluated_at=None)
        _reset_peak()
        started = time.perf_counter()
        evaluated = evaluate_pending_tickets(timezone.now())
        subject.append(time.perf_counter() - started)
        peaks.append(proc_kb(__import__("os").getpid(), "VmHWM") / 1024)
        rows = copy_out(
            f"SELECT {', '.join(timer_columns)} FROM {timer_table} WHERE ticket_id = ANY(%s)",
            [ids],
        )
        timers.append(TicketTimer.objects.filter(ticket_id__in=ids).count())
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {timer_table} WHERE ticket_id = ANY(%s)", [ids])
        ceiling.append(copy_in([(timer_table, timer_columns, rows)]))
    ratio = [c / s for s, c in zip(subject, ceiling, strict=True)]
    return {
        "subject": "ticket evaluation",
        "tickets": len(ids),
        "tickets_evaluated_last_run": evaluated,
        "timers_written": timers,
        "subject_seconds": summary(subject),
        "tickets_per_second": summary([len(ids) / s for s in subject]),
        "ceiling": "COPY of the timers it writes",
        "ceiling_seconds": summary(ceiling),
        "ratio": summary(ratio),
        "peak_rss_mb": summary(peaks),
    }
