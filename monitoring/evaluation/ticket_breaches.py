"""What a ticket evaluation records of its outcomes: the breaches of its targets (opened,
closed when recovered, withdrawn when found met after all) and the alerts they raise.

Called by ``monitoring.evaluation.tickets`` with one ``(ticket, agreement, target, result)``
outcome per timer it evaluated."""

from __future__ import annotations

from datetime import datetime

from agreements.terms import MeasuredTarget
from monitoring.compliance.states import MISSED_TARGET
from monitoring.compliance.timers import TimerResult
from monitoring.evaluation import alerts
from monitoring.evaluation.bulk import upsert_rows
from monitoring.format import duration
from monitoring.models import Breach, Level


def _value_text(target: MeasuredTarget, result: TimerResult) -> str:
    return (
        f"{duration(result.used_seconds)} of business time used; target "
        f"{duration(target.seconds(target.target_value))}, threshold "
        f"{duration(target.seconds(target.threshold_value))}"
    )


# What an evaluation writes of a ticket's breach; the root-cause note is the reviewers' (an
# upsert never changes it; a new breach starts with none).
BREACH_COLUMNS = (
    "ticket_id",
    "target_key",
    "agreement_id",
    "customer_id",
    "target_label",
    "level",
    "opened_at",
    "closed_at",
    "value_text",
    "root_cause",
    "withdrawn_at",
    "withdrawn_reason",
)
# A target missed again after a withdrawal is a breach again: the upsert clears the withdrawal.
BREACH_UPDATE = (
    "agreement_id",
    "customer_id",
    "target_label",
    "level",
    "opened_at",
    "closed_at",
    "value_text",
    "withdrawn_at",
    "withdrawn_reason",
)
WITHDRAWN_REASON = "Found met on re-evaluation (data corrected or received late)."


def record_outcomes(
    outcomes: list[tuple],
    now: datetime,
    quiet_reason: str | None = None,
    withdrawn_reason: str = WITHDRAWN_REASON,
) -> int:
    """Open or update the breaches of missed ticket targets, withdraw those found met, and
    raise the alerts they earned, in a few statements per batch however many tickets it
    holds; return how many alerts were new."""
    texts = _LazyTexts(outcomes)
    breaches = _upsert_breaches(outcomes, texts)
    breaches.update(_close_recovered_breaches(outcomes, texts))
    _withdraw_met_breaches(outcomes, now, withdrawn_reason)
    requests = []
    for ticket, agreement, target, result in outcomes:
        key = (ticket.pk, target.key)
        breach_id = breaches.get(key)
        levels = [
            (level, moment)
            for level, moment in result.reached
            # A warning about a ticket that is already answered or resolved helps nobody.
            if not (level == Level.WARNING and result.stopped_at is not None)
        ]
        closes = breach_id is not None and result.stopped_at is not None
        if not levels and not closes:
            continue
        text = texts[key]
        candidates = [
            alerts.Candidate(level, moment, _due_for(level, result), text)
            for level, moment in levels
        ]
        if closes:
            candidates.append(alerts.Candidate(Level.CLOSED, result.stopped_at, None, text))
        if candidates:
            requests.append(
                alerts.AlertRequest(
                    agreement=agreement,
                    target_key=target.key,
                    target_label=target.label[:200],
                    candidates=candidates,
                    zone=target.zone,
                    ticket_id=ticket.pk,
                    breach_id=breach_id,
                )
            )
    if not requests:
        return 0
    return alerts.raise_alerts_for(requests, now, quiet_reason=quiet_reason)


class _LazyTexts(dict):
    """The value text of each outcome, formatted only when a breach or an alert needs it
    (most timers of a large batch are met and never show one)."""

    def __init__(self, outcomes: list[tuple]) -> None:
        super().__init__()
        self._of = {(o[0].pk, o[2].key): (o[2], o[3]) for o in outcomes}

    def __missing__(self, key: tuple) -> str:
        target, result = self._of[key]
        text = self[key] = _value_text(target, result)
        return text


def _upsert_breaches(outcomes: list[tuple], texts: dict) -> dict[tuple, int]:
    """One breach per missed ticket target, inserted or brought up to date in one upsert;
    returns the breach id per (ticket, target key)."""
    rows = [
        (
            ticket.pk,
            target.key,
            agreement.pk,
            agreement.customer_id,
            target.label[:200],
            result.state,
            # When the target was missed: the due time, or the next opening when the due
            # time is a closing time (the clock had not moved past it before).
            result.decided_at,
            result.stopped_at,
            texts[(ticket.pk, target.key)][:300],
            "",
            None,
            "",
        )
        for ticket, agreement, target, result in outcomes
        if result.state in (MISSED_TARGET, Level.BREACHED)
    ]
    if not rows:
        return {}
    upsert_rows(
        Breach,
        BREACH_COLUMNS,
        rows,
        conflict=("ticket_id", "target_key"),
        update=BREACH_UPDATE,
    )
    wanted = {(row[0], row[1]) for row in rows}
    return {
        (ticket_id, key): pk
        for ticket_id, key, pk in Breach.objects.filter(
            ticket_id__in={ticket_id for ticket_id, _key in wanted}
        ).values_list("ticket_id", "target_key", "pk")
        if (ticket_id, key) in wanted
    }


def _close_recovered_breaches(outcomes: list[tuple], texts: dict) -> dict[tuple, int]:
    """Data that arrived late (a response sent before the deadline but ingested after the
    breach was opened) can turn a miss into a met target: close that breach rather than leave
    it open for ever; its people hear that it is over."""
    stopped = {
        (ticket.pk, target.key): result.stopped_at
        for ticket, _agreement, target, result in outcomes
        if result.state not in (MISSED_TARGET, Level.BREACHED) and result.stopped_at is not None
    }
    if not stopped:
        return {}
    closed = {}
    candidates = Breach.objects.filter(
        ticket_id__in={ticket_id for ticket_id, _key in stopped}, closed_at__isnull=True
    ).only("id", "ticket_id", "target_key", "closed_at", "value_text")
    for breach in candidates:
        key = (breach.ticket_id, breach.target_key)
        if key in stopped:
            breach.closed_at = stopped[key]
            breach.value_text = texts[key][:300]
            closed[key] = breach
    if closed:
        Breach.objects.bulk_update(list(closed.values()), ["closed_at", "value_text"])
    return {key: breach.pk for key, breach in closed.items()}


def _withdraw_met_breaches(outcomes: list[tuple], now: datetime, reason: str) -> int:
    """Withdraw the breaches of targets this evaluation finds met: the verdict changed (a
    holiday learned late moved the deadline, corrected data). A breach that closes because
    its ticket was resolved late keeps its missed verdict and is not touched here. The row
    stays (it was announced); reports and dashboards leave it out. Returns how many."""
    met = {
        (ticket.pk, target.key)
        for ticket, _agreement, target, result in outcomes
        if result.state not in (MISSED_TARGET, Level.BREACHED)
    }
    if not met:
        return 0
    ids = [
        pk
        for pk, ticket_id, key in Breach.objects.filter(
            ticket_id__in={ticket_id for ticket_id, _key in met}, withdrawn_at__isnull=True
        ).values_list("pk", "ticket_id", "target_key")
        if (ticket_id, key) in met
    ]
    if not ids:
        return 0
    return Breach.objects.filter(pk__in=ids).update(withdrawn_at=now, withdrawn_reason=reason[:200])


def _due_for(level: str, result: TimerResult) -> datetime | None:
    return {
        Level.WARNING: result.due_at,
        Level.MISSED_TARGET: result.due_at,
        Level.BREACHED: result.threshold_due_at,
    }.get(level)
