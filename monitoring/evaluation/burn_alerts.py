"""Burn-rate alert rows, and what a period's closing does to its burn state.

Kept apart from ``burn_rates`` (which reads the period evaluation's helpers) so the period
evaluation can close a period's burn state in the very update that closes the row: a closed
row can never change again (``0006_closed_periods_frozen``), so whatever it still says about
its rules then is what the API and the pages show for ever.
"""

from __future__ import annotations

from datetime import datetime

from monitoring.evaluation.alerts import max_age
from monitoring.evaluation.bulk import upsert_rows
from monitoring.models import Alert, BurnLevel

ALERT_COLUMNS = (
    "agreement_id",
    "customer_id",
    "target_key",
    "target_label",
    "ticket_id",
    "period_result_id",
    "breach_id",
    "level",
    "burn_rule",
    "reached_at",
    "raised_at",
    "due_at",
    "zone",
    "value_text",
    "emailed",
    "quiet_reason",
    "notified_at",
)
CLOSED_TEXT = "the period ended: its budget burns no more"


def alert_row(
    row, level: str, rule: str, reached: datetime, now: datetime, zone: str, text: str
) -> tuple:
    """One burn alert of period result ``row`` in ``ALERT_COLUMNS`` order; reached before
    the oldest moment alerts still page for (``max_age``), it is recorded quietly."""
    loud = reached >= now - max_age()
    return (
        row.agreement_id,
        row.customer_id,
        row.target_key,
        row.target_label,
        None,
        row.pk,
        None,
        level,
        rule,
        reached,
        now,
        row.period_end,
        zone,
        text[:300],
        loud,
        "" if loud else "Reached long before it was computed: recorded only.",
        None if loud else now,
    )


def insert_alerts(rows: list[tuple]) -> int:
    """Insert burn alerts; the unique constraint (period, level, rule) skips any raised."""
    if not rows:
        return 0
    return upsert_rows(Alert, ALERT_COLUMNS, rows, conflict=())


def close_burn(row, now: datetime, zone: str) -> dict:
    """The burn state a closing period keeps, after raising the recovery (at the period's
    end) of every rule that fired and never recovered: a period that ends burns no more,
    and its people hear that the page is over rather than nothing at all."""
    raised = set(
        Alert.objects.filter(period_result_id=row.pk)
        .exclude(burn_rule="")
        .values_list("burn_rule", "level")
    )
    recovered = {rule for rule, level in raised if level == BurnLevel.RECOVERED}
    open_rules = sorted(
        {rule for rule, level in raised if level != BurnLevel.RECOVERED} - recovered
    )
    insert_alerts(
        [
            alert_row(row, BurnLevel.RECOVERED, rule, row.period_end, now, zone, CLOSED_TEXT)
            for rule in open_rules
        ]
    )
    state = dict(row.burn or {})
    if state.get("rules"):
        state["rules"] = [{**rule, "firing": False} for rule in state["rules"]]
    state["moments"] = {}
    if state:
        state["closed_at"] = now.isoformat()
    return state
