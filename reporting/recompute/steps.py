"""One bounded step of a recompute run, in one transaction with the run row locked: a batch
of tickets (``TICKET_STEP``), then the periods of one agreement; closed periods get
``PeriodCorrection`` proposals instead of changes.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from agreements.models import Agreement, Service
from agreements.terms import (
    MONITORED_STATES,
    MeasuredTarget,
    MeasuredTerms,
    forget_measured_terms,
    terms_from_snapshot,
)
from monitoring.evaluation.measure import measure
from monitoring.evaluation.periods import evaluate_agreement_periods
from monitoring.evaluation.tickets import evaluate_tickets
from monitoring.models import PeriodResult, Ticket, TicketTimer
from reporting.models import PeriodCorrection, RecomputeRun
from reporting.recompute.runs import run_agreement_ids, scope_tickets
from reporting.services.content import applied_corrections

logger = logging.getLogger(__name__)

# Tickets per step: one transaction each, a few seconds of work, a visible progress tick.
TICKET_STEP = 1000

# How many changed timers the run keeps to show (the counts cover them all).
KEPT_TIMER_CHANGES = 50

QUIET_REASON = "Found by recompute #{run} (a correction of the past): recorded, not emailed."

WITHDRAWN_REASON = "Found met by recompute #{run} after a correction: {reason}"

MISSED = {"missed_target", "breached"}


def recompute_step(run_id: int, now: datetime | None = None) -> bool:
    """Do one bounded step of a run; return whether there is more to do."""
    with transaction.atomic():
        run = RecomputeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or not run.is_active:
            return False
        now = now or timezone.now()
        if run.cancel_requested:
            _finish(run, RecomputeRun.Status.CANCELLED, now)
            return False
        if run.status == RecomputeRun.Status.QUEUED:
            run.status, run.started_at = RecomputeRun.Status.RUNNING, now
        # Terms and holidays are read afresh: the correction may be in them.
        forget_measured_terms()
        try:
            with transaction.atomic():
                if run.stage == RecomputeRun.Stage.TICKETS:
                    _tickets_step(run, now)
                else:
                    _periods_step(run, now)
        except Exception as exc:  # recorded on the run, not lost in a worker log
            logger.exception("recompute #%s failed", run.pk)
            run.refresh_from_db()
            run.error = f"{type(exc).__name__}: {exc}"[:2000]
            _finish(run, RecomputeRun.Status.FAILED, now)
            return False
        run.save()
        return run.is_active


def recompute_run_to_end(run_id: int, now: datetime | None = None) -> RecomputeRun:
    """Every step of a run in this process (tests, the management shell, the benchmark)."""
    while recompute_step(run_id, now):
        pass
    return RecomputeRun.objects.get(pk=run_id)


def _finish(run: RecomputeRun, status: str, now: datetime) -> None:
    run.status, run.finished_at = status, now
    if status == RecomputeRun.Status.SUCCEEDED:
        run.stage = RecomputeRun.Stage.DONE
    run.save()


def _timer_states(ticket_ids: list[int]) -> dict[tuple[int, str], tuple]:
    rows = TicketTimer.objects.filter(ticket_id__in=ticket_ids).values_list(
        "ticket_id", "target_key", "state", "due_at", "target_label"
    )
    return {(t, k): (state, due, label) for t, k, state, due, label in rows}


def _tickets_step(run: RecomputeRun, now: datetime) -> None:
    ids = list(
        scope_tickets(run)
        .filter(pk__gt=run.ticket_cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[:TICKET_STEP]
    )
    if not ids:
        run.stage = RecomputeRun.Stage.PERIODS
        run.tickets_total = run.tickets_done
        return
    # Locked by id only: the engine reads what it needs set-wise (loading the version's
    # snapshot JSON with every ticket row would cost more than the evaluation).
    tickets = list(
        Ticket.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    before = _timer_states(ids)
    # Alerts about ticket targets are about the past: recorded, not emailed. A breach found
    # met after all is withdrawn, saying by which run.
    run.alerts_recorded += evaluate_tickets(
        tickets,
        now,
        quiet_reason=QUIET_REASON.format(run=run.pk),
        withdrawn_reason=WITHDRAWN_REASON.format(run=run.pk, reason=run.reason),
    )
    after = _timer_states(ids)
    names = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "external_id"))
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old[:2] == new[:2]:
            continue
        run.timers_changed += 1
        old_state, new_state = (old or (None,))[0], (new or (None,))[0]
        if old_state in MISSED and new_state == "met":
            run.missed_to_met += 1
        elif old_state == "met" and new_state in MISSED:
            run.met_to_missed += 1
        if len(run.timer_changes) < KEPT_TIMER_CHANGES:
            run.timer_changes.append(_timer_change(key, names.get(key[0], ""), old, new))
    run.ticket_cursor = ids[-1]
    run.tickets_done += len(ids)
    run.tickets_total = max(run.tickets_total, run.tickets_done)


def _timer_change(key: tuple, external_id: str, old: tuple | None, new: tuple | None) -> dict:
    def due(row: tuple | None) -> str | None:
        return row[1].isoformat() if row and row[1] else None

    return {
        "ticket_id": key[0],
        "ticket": external_id,
        "target_key": key[1],
        "target": (new or old)[2],
        "old_state": old[0] if old else None,
        "new_state": new[0] if new else None,
        "old_due_at": due(old),
        "new_due_at": due(new),
    }


def _periods_step(run: RecomputeRun, now: datetime) -> None:
    """The periods of the next agreement: open ones in place, closed ones as proposals."""
    remaining = [pk for pk in run_agreement_ids(run) if pk not in run.agreements_done]
    if not remaining:
        _finish(run, RecomputeRun.Status.SUCCEEDED, now)
        return
    agreement = Agreement.objects.select_related("in_force_version", "created_by").get(
        pk=remaining[0]
    )
    results = PeriodResult.objects.filter(agreement=agreement)
    counted = results.count()
    before = {
        pk: (value, status)
        for pk, value, status in results.filter(closed_at__isnull=True).values_list(
            "pk", "value", "status"
        )
    }
    if agreement.status in MONITORED_STATES:
        evaluate_agreement_periods(agreement, now)
    for pk, value, status in results.filter(pk__in=before).values_list("pk", "value", "status"):
        if not _same(before[pk], (value, status)):
            run.open_periods_changed += 1
    _propose_closed(run, agreement)
    total = results.count()
    run.periods_total = max(run.periods_total + total - counted, run.periods_done + total)
    run.periods_done += total
    run.agreements_done = [*run.agreements_done, agreement.pk]


def _same(old: tuple, new: tuple) -> bool:
    (old_value, old_status), (new_value, new_status) = old, new
    if old_status != new_status:
        return False
    if old_value is None or new_value is None:
        return old_value is new_value
    return math.isclose(old_value, new_value, rel_tol=1e-9, abs_tol=1e-9)


def _window(terms: MeasuredTerms, target: MeasuredTarget, result: PeriodResult) -> tuple:
    """The part of the period within the version's term, as the period evaluation cuts it."""
    zone = ZoneInfo(target.zone)
    term_start = datetime.combine(terms.effective_from, time(0), tzinfo=zone)
    end = result.period_end
    if terms.effective_to is not None:
        term_end = datetime.combine(terms.effective_to + timedelta(days=1), time(0), tzinfo=zone)
        end = min(end, term_end)
    return max(result.period_start, term_start), end


def _propose_closed(run: RecomputeRun, agreement: Agreement) -> None:
    """Measure each closed period again as of its close and propose what differs from the
    figure in force (the frozen one, or its latest applied correction)."""
    closed = list(
        PeriodResult.objects.filter(agreement=agreement, closed_at__isnull=False)
        .select_related("version")
        .order_by("period_start", "target_key")
    )
    corrected = applied_corrections([r.pk for r in closed])
    terms_of: dict[int, MeasuredTerms] = {}
    services: dict[int, dict[str, int]] = {}
    proposals = []
    for result in closed:
        version = result.version
        if version.pk not in terms_of:
            terms_of[version.pk] = terms_from_snapshot(version.pk, version.snapshot)
            services[version.pk] = dict(
                Service.objects.filter(name__in=terms_of[version.pk].services).values_list(
                    "name", "pk"
                )
            )
        terms = terms_of[version.pk]
        target = next((t for t in terms.targets if t.key == result.target_key), None)
        if target is None:
            continue
        named = services[version.pk]
        service_ids = [named[target.service]] if target.service in named else list(named.values())
        verdict, _unit, _goal = measure(
            agreement,
            terms,
            target,
            service_ids,
            _window(terms, target, result),
            result.closed_at,
            True,
        )
        current = corrected.get(result.pk)
        old = (current.new_value, current.new_status) if current else (result.value, result.status)
        if _same(old, (verdict.value, verdict.status)):
            continue
        proposals.append(
            PeriodCorrection(
                run=run,
                period_result=result,
                agreement=agreement,
                customer_id=agreement.customer_id,
                target_label=result.target_label,
                period_start=result.period_start,
                period_end=result.period_end,
                value_unit=result.value_unit,
                old_value=old[0],
                old_status=old[1],
                new_value=verdict.value,
                new_status=verdict.status,
                new_final=verdict.final,
                new_details=verdict.details,
            )
        )
    # A redelivered step finds its proposals already there.
    PeriodCorrection.objects.bulk_create(proposals, ignore_conflicts=True)
