"""History in bulk, for tests and measurements that need a dashboard behind a lot of data.

``fill_history`` clones one evaluated ticket of an agreement (its row and its timer) into
``tickets`` more tickets with ``INSERT … SELECT generate_series``: every clone gets a
stopped timer, ``breaches`` of them a closed breach, and the newest ``open_timers`` an open
timer whose threshold lies ahead (nearest first) — the shape of a service desk with years of
history and a few thousand tickets open. Thousands of rows take a fraction of a second,
a million a few minutes.
"""

from __future__ import annotations

from django.db import connection

from monitoring.models import Breach, Ticket, TicketTimer


def _columns(model: type, replace: dict[str, str]) -> tuple[str, str]:
    """The insert column list and the select list copying row ``s``, with some replaced."""
    names = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    values = [replace.get(name, f"s.{name}") for name in names]
    return ", ".join(names), ", ".join(values)


def fill_history(
    ticket: Ticket, tickets: int, breaches: int, open_timers: int, prefix: str = "FILL"
) -> None:
    """Clone ``ticket`` and its first timer ``tickets`` times (see the module docstring)."""
    timer = TicketTimer.objects.filter(ticket=ticket).order_by("id").first()
    assert timer is not None, "the ticket to clone must have been evaluated"
    t_cols, t_vals = _columns(
        Ticket,
        {
            "external_id": f"'{prefix}-' || g",
            "opened_at": "s.opened_at - g * interval '1 minute'",
            "state": "CASE WHEN g <= %(open)s THEN 'open' ELSE 'closed' END",
            "resolved_at": "CASE WHEN g <= %(open)s THEN NULL"
            " ELSE s.opened_at - g * interval '1 minute' + interval '1 hour' END",
            "closed_at": "CASE WHEN g <= %(open)s THEN NULL"
            " ELSE s.opened_at - g * interval '1 minute' + interval '1 hour' END",
        },
    )
    later = "n.opened_at + interval '1 hour'"
    timer_cols, timer_vals = _columns(
        TicketTimer,
        {
            "ticket_id": "n.id",
            "started_at": "n.opened_at",
            "stopped_at": f"CASE WHEN n.g <= %(open)s THEN NULL ELSE {later} END",
            "decided_at": f"CASE WHEN n.g <= %(open)s THEN NULL ELSE {later} END",
            # Open ones: the threshold ahead, further for older tickets, so the nearest
            # deadlines belong to the newest clones.
            "threshold_due_at": "CASE WHEN n.g <= %(open)s"
            " THEN now() + interval '1 day' + n.g * interval '1 minute'"
            " ELSE n.opened_at + interval '4 hours' END",
            "due_at": "n.opened_at + interval '2 hours'",
            "state": "CASE WHEN n.g <= %(open)s THEN 'running' ELSE 'met' END",
            "next_due": "NULL",
        },
    )
    b_cols, b_vals = _columns(
        Breach,
        {
            "agreement_id": "n.agreement_id",
            "customer_id": "n.customer_id",
            "target_key": "%(target_key)s",
            "target_label": "%(target_label)s",
            "ticket_id": "n.id",
            "period_result_id": "NULL",
            "level": "'breached'",
            "opened_at": "n.opened_at + interval '30 minutes'",
            "closed_at": "n.opened_at + interval '1 hour'",
            "value_text": "'clone'",
            "root_cause": "''",
            "root_cause_by_id": "NULL",
            "root_cause_at": "NULL",
            "withdrawn_at": "NULL",
            "withdrawn_reason": "''",
        },
    )
    params = {
        "pk": ticket.pk,
        "timer": timer.pk,
        "n": tickets,
        "open": open_timers,
        "breaches": breaches,
        "target_key": timer.target_key,
        "target_label": timer.target_label,
        "prefix": f"{prefix}-%",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO monitoring_ticket ({t_cols}) SELECT {t_vals}"
            " FROM monitoring_ticket s CROSS JOIN generate_series(1, %(n)s) g WHERE s.id = %(pk)s",
            params,
        )
        new = (
            "SELECT t.id, t.opened_at, t.agreement_id, t.customer_id,"
            " substr(t.external_id, length(%(prefix)s))::int AS g"
            " FROM monitoring_ticket t WHERE t.external_id LIKE %(prefix)s"
        )
        cursor.execute(
            f"INSERT INTO monitoring_tickettimer ({timer_cols}) SELECT {timer_vals}"
            f" FROM monitoring_tickettimer s CROSS JOIN ({new}) n WHERE s.id = %(timer)s",
            params,
        )
        cursor.execute(
            f"INSERT INTO monitoring_breach ({b_cols}) SELECT {b_vals}"
            f" FROM ({new}) n WHERE n.g > %(open)s AND n.g <= %(open)s + %(breaches)s",
            params,
        )
        cursor.execute("ANALYZE monitoring_ticket, monitoring_tickettimer, monitoring_breach")
