"""How evaluation results are shown: badges, figures in words, rows for tables.

Pages of monitoring and reporting (and the report PDF) share these, so a state or a value
reads the same everywhere. They take stored rows and plain values and return text or small
dicts for templates; no request, no queries beyond the delivery counts of ``alert_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.evaluation.timer_accounts import timer_accounts
from monitoring.format import STATE_WORDS, duration, number, percent, state_word
from monitoring.models import Alert, BurnLevel, Level, PeriodResult, Status, TicketTimer
from monitoring.selectors.evaluation import Delivery, alert_deliveries


@dataclass(frozen=True)
class Badge:
    """A state as it is shown: never colour alone, always an icon and the word."""

    css: str
    icon: str
    text: str


# Choices for forms, filters and the API schema, in the words of the pages.
STATUS_CHOICES = [(status.value, state_word(status.value)) for status in Status]
LEVEL_CHOICES = [(level.value, state_word(level.value)) for level in (*Level, *BurnLevel)]

STATUS_STYLE = {
    Status.RUNNING: ("text-body-secondary", "bi-play-circle"),
    Status.PAUSED: ("text-body-secondary", "bi-pause-circle"),
    Status.MET: ("state-ok", "bi-check-circle-fill"),
    Status.AT_RISK: ("state-warn", "bi-exclamation-triangle-fill"),
    Status.MISSED_TARGET: ("state-bad", "bi-x-circle"),
    Status.BREACHED: ("state-bad", "bi-x-octagon-fill"),
    Status.NO_DATA: ("text-body-secondary", "bi-dash-circle"),
}
# An alert level looks exactly like the state it announces.
LEVEL_STYLE = {
    Level.WARNING: STATUS_STYLE[Status.AT_RISK],
    Level.MISSED_TARGET: STATUS_STYLE[Status.MISSED_TARGET],
    Level.BREACHED: STATUS_STYLE[Status.BREACHED],
    Level.CLOSED: ("state-ok", "bi-check-circle"),
    Level.PREDICTED_MISS: ("state-warn", "bi-graph-down-arrow"),
    Level.PREDICTED_BREACH: ("state-bad", "bi-graph-down-arrow"),
    # Burn-rate alerts (docs/burn-rates.md).
    BurnLevel.PAGE: ("state-bad", "bi-fire"),
    BurnLevel.WARN: STATUS_STYLE[Status.AT_RISK],
    BurnLevel.RECOVERED: ("state-ok", "bi-check-circle"),
}


def status_badge(status: str) -> Badge:
    css, icon = STATUS_STYLE.get(status, ("text-body-secondary", "bi-question-circle"))
    return Badge(css, icon, STATE_WORDS.get(status, state_word(status)))


def level_badge(level: str) -> Badge:
    css, icon = LEVEL_STYLE.get(level, ("text-body-secondary", "bi-bell"))
    return Badge(css, icon, state_word(level))


def goals(row: PeriodResult) -> tuple[float, float]:
    """The figures a period's value is held against; percentages take their decimals from
    them (``format.percent``)."""
    return (row.goal_target, row.goal_threshold)


def period_value(row: PeriodResult) -> str:
    """The period's value; without one, why (nothing to measure is not missing data)."""
    if row.value is not None:
        return number(row.value, row.value_unit, goals(row))
    details = row.details or {}
    if details.get("incidents") == 0:
        return "no incidents"
    if "met" in details and row.status != Status.NO_DATA:
        return "none decided yet"
    return "no data"


def minutes(seconds: float | None) -> str:
    """Seconds as whole minutes with thousands separators: '44,640 min'."""
    if seconds is None:
        return "–"
    places = 0 if abs(seconds) >= 600 else 1
    return f"{seconds / 60:,.{places}f}\u00a0min"


def goal_text(row: PeriodResult) -> str:
    """What the period's value is held against, in words."""
    unit = row.value_unit
    if row.metric in ("response_time", "resolution_time"):
        within = number(float(row.target_value), row.unit)
        return (
            f"{number(row.goal_target, unit, goals(row))} of tickets within {within} "
            f"(threshold {number(row.goal_threshold, unit, goals(row))})"
        )
    word = "at least" if row.direction == "higher" else "at most"
    target = number(row.goal_target, unit, goals(row))
    return f"{word} {target} (threshold {number(row.goal_threshold, unit, goals(row))})"


def period_facts(row: PeriodResult) -> str:
    """The period's supporting figures in one line (ticket counts, downtime, events)."""
    d = row.details or {}
    if "met" in d:
        return f"{d['met']} met · {d['missed']} missed · {d['pending']} pending"
    if "counted_seconds" in d:
        text = f"down {minutes(d['down_seconds'])} of {minutes(d['counted_seconds'])} counted"
        if d.get("unmeasured_seconds"):
            text += f" · {minutes(d['unmeasured_seconds'])} without data"
        return text
    if "count" in d:
        return f"{d['count']} event{'s' if d['count'] != 1 else ''}"
    if "incidents" in d:
        return f"{d['incidents']} incident{'s' if d['incidents'] != 1 else ''}"
    if "responses" in d:  # CSAT and NPS (monitoring.experience)
        return d.get("reason") or f"{d['responses']} response{'s' if d['responses'] != 1 else ''}"
    if "samples" in d:
        return f"{d['samples']} sample{'s' if d['samples'] != 1 else ''}"
    return d.get("reason", "")


def availability_figures(row: PeriodResult) -> dict | None:
    """The availability formula's terms for one period, formatted (None for other targets)."""
    d = row.details or {}
    if "counted_seconds" not in d:
        return None
    budget_left = d["budget_left_seconds"]
    return {
        "service": minutes(d["service_seconds"]),
        "excluded": minutes(d["excluded_seconds"]),
        # Time after the sources' data stopped arriving (monitoring.silence): not measured.
        "unmeasured": minutes(d["unmeasured_seconds"]) if d.get("unmeasured_seconds") else "",
        "counted": minutes(d["counted_seconds"]),
        "down": minutes(d["down_seconds"]),
        "elapsed": minutes(d["elapsed_seconds"]),
        "budget": minutes(d["budget_seconds"]),
        "budget_left": minutes(abs(budget_left)),
        "budget_spent": budget_left < 0,
        "threshold_budget": minutes(d["threshold_budget_seconds"]),
        "so_far": percent(d["so_far"], goals=goals(row)) if d.get("so_far") is not None else "–",
        "value": number(row.value, "percent", goals(row)),
        "target": percent(row.goal_target, goals=goals(row)),
    }


def delivery_text(alert: Alert, delivery: Delivery) -> str:
    """One line on where the alert's emails are, for the list and screen readers."""
    if not alert.emailed:
        return "Recorded only"
    if alert.notified_at is None:
        return "Waiting to be sent"
    parts = []
    if delivery.sent:
        parts.append(f"{delivery.sent} sent")
    if delivery.pending:
        parts.append(f"{delivery.pending} pending")
    if delivery.failed:
        parts.append(f"{delivery.failed} failed")
    if delivery.digest:
        parts.append(f"{delivery.digest} in daily digest")
    return ", ".join(parts) or "No recipients"


def alert_rows(alerts: list[Alert]) -> list[dict]:
    deliveries = alert_deliveries(alerts)
    return [
        {
            "alert": alert,
            "level": level_badge(alert.level),
            "delivery": deliveries[alert.pk],
            "delivery_text": delivery_text(alert, deliveries[alert.pk]),
        }
        for alert in alerts
    ]


def timer_rows(timers: list[TicketTimer]) -> list[dict]:
    """A ticket's timers for its page: state, deadlines, business time used vs allowed, and
    why the time used is less than the time elapsed (pauses, hours outside the calendar)."""
    accounts = timer_accounts(timers[0].ticket, timers) if timers else {}
    return [
        {
            "account": accounts.get(timer.target_key),
            "timer": timer,
            "state": status_badge(timer.state),
            "used": duration(timer.used_seconds),
            "allowed": duration(timer.target_seconds),
            "threshold": duration(timer.threshold_seconds),
        }
        for timer in timers
    ]


def burn_rows(row: PeriodResult) -> list[dict]:
    """An open period's burn-rate rules as its last burn computation left them: windows in
    service time, each window's rate, the factor and whether the rule fires
    (docs/burn-rates.md). Empty for a closed period or one that never burned."""
    if row.closed_at is not None:
        return []
    found = []
    for rule in (row.burn or {}).get("rules", []):
        rates = []
        for key in ("long_rate", "short_rate"):
            rate = rule.get(key)
            rates.append("∞" if rate is None else f"{rate:.1f}")
        found.append(
            {
                "name": rule["name"],
                "severity": "page" if rule["severity"] == "page" else "warning",
                "windows": " and ".join(
                    duration(rule[key]) for key in ("long_seconds", "short_seconds")
                ),
                "rates": f"{rates[0]} and {rates[1]}",
                "factor": f"{rule['factor']:g}",
                "firing": rule.get("firing", False),
            }
        )
    return found
