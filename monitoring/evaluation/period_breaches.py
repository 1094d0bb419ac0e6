"""What a period evaluation records of its outcome: a warning while the period is at risk, a
breach (opened, updated, closed) and its alerts when a miss is final, and the end of a breach
that corrected data shows was met after all. Called by ``monitoring.evaluation.periods``."""

from __future__ import annotations

from datetime import datetime

from agreements.models import Agreement
from agreements.terms import MeasuredTarget
from monitoring.budget import WARNING
from monitoring.compliance.states import AT_RISK, BREACHED, MISSED_TARGET
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.evaluation import alerts
from monitoring.format import percent
from monitoring.models import Breach, Level, PeriodResult


def value_text(value: float | None, unit: str, goal: Goal) -> str:
    """ "99.12 % against target 99.50 % (threshold 99.00 %)", in the value's unit."""

    def show(number: float | None) -> str:
        if number is None:
            return "no data"
        if unit == "percent":
            return percent(number, goals=(goal.target, goal.threshold))
        if unit in ("count", "score"):  # "3 against target 2", not "3 count against target 2"
            return f"{number:g}"
        return f"{number:g} {unit}"

    return f"{show(value)} against target {show(goal.target)} (threshold {show(goal.threshold)})"


def record_outcome(
    agreement: Agreement,
    target: MeasuredTarget,
    row: PeriodResult,
    verdict: Verdict,
    unit: str,
    goal: Goal,
    now: datetime,
) -> None:
    """Warn about a period at risk; open a breach and alert when a miss is final.

    A level is stamped with the moment it was reached: for availability the moment its
    budget was crossed (``Verdict.crossings``), whichever evaluation notices it first (the
    deadline loop at that moment, or a later periodic evaluation); otherwise the evaluation
    time, at most the period's end."""
    text = value_text(verdict.value, unit, goal)
    if target.is_ticket_timer:
        text = f"{text} of tickets within the time target"
    reached_at = min(now, row.period_end)

    def moment(level: str) -> datetime:
        crossed = verdict.crossings.get(level)
        return crossed if crossed is not None and crossed <= reached_at else reached_at

    candidates = []
    breach = None
    missed = verdict.status in (MISSED_TARGET, BREACHED)
    if not row.is_closed and (verdict.status == AT_RISK or (missed and not verdict.final)):
        candidates.append(alerts.Candidate(Level.WARNING, moment(WARNING), row.period_end, text))
    if missed and verdict.final:
        breach = Breach.objects.filter(period_result=row).first()
        if breach is not None and breach.closed_at is None and row.is_closed:
            # A miss that became final during the period (the outage budget ran out) closes
            # with the period: its people hear the final figure once.
            candidates.append(alerts.Candidate(Level.CLOSED, row.period_end, None, text))
        if breach is None:
            breach = Breach.objects.create(
                agreement=agreement,
                customer_id=agreement.customer_id,
                target_key=target.key,
                target_label=target.label[:200],
                period_result=row,
                level=verdict.status,
                opened_at=moment(MISSED_TARGET),
                closed_at=row.closed_at,
                value_text=text[:300],
            )
        else:
            Breach.objects.filter(pk=breach.pk).update(
                level=verdict.status, closed_at=row.closed_at, value_text=text[:300]
            )
        candidates.append(
            alerts.Candidate(verdict.status, moment(verdict.status), row.period_end, text)
        )
    elif not missed:
        # Data corrected since a final miss was recorded (checks re-sent without the outage):
        # the period meets its target after all, so its breach must not stay open for ever,
        # and the people who heard of it hear that it is over.
        breach = Breach.objects.filter(period_result=row, closed_at__isnull=True).first()
        if breach is not None:
            breach.closed_at = now
            breach.value_text = text[:300]
            breach.save(update_fields=["closed_at", "value_text"])
            candidates.append(alerts.Candidate(Level.CLOSED, reached_at, None, text))
    if candidates:
        alerts.raise_alerts(
            agreement=agreement,
            target_key=target.key,
            target_label=target.label[:200],
            candidates=candidates,
            now=now,
            zone=target.zone,
            period_result_id=row.pk,
            breach=breach,
        )
