"""Recompute on demand: measure an agreement's tickets and periods again after a correction.

Why: timers and periods are computed once from what was known then. When that changes after
the fact (the ``holidays`` package learned a public holiday, a source re-sent corrected
tickets or checks), a provider manager asks for a recompute of one agreement, of every
agreement measured in a calendar, or of one source's tickets (``docs/recompute.md``).

How: a ``RecomputeRun`` row holds the scope, the reason, the progress and where to resume.
``recompute_step`` does one bounded step in one transaction (``TICKET_STEP`` tickets, or the
periods of one agreement) with the run row locked, and the Celery task re-queues itself until
the run is done. A worker that dies mid-step loses nothing: the step rolls back, the task is
redelivered (``acks_late``) and starts again from the stored cursor; a second delivery waits
for the lock and then finds the cursor moved on.

The engine is called only through its public entry points (``evaluate_tickets``,
``evaluate_agreement_periods``, ``measure``), so it can change inside without this module.

Rules:

* Open periods and ticket timers are recomputed in place.
* Closed periods are frozen (a database trigger refuses changes). What they would say now is a
  ``PeriodCorrection`` proposal (old → new value and status); nothing changes until a manager
  applies them (``recompute_apply``): reports then take the new figures, and every issued
  report of an affected month gets a correction revision that lists what changed and why.
* Alerts: levels already raised are never raised again (the engine's rule). Alerts a recompute
  raises about ticket targets are about the past: they are recorded quietly (no email) and
  counted in the run's summary. Open periods are the present and alert as usual.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agreements.models import Agreement, Calendar, Service
from agreements.services.audit import record
from agreements.terms import (
    MONITORED_STATES,
    MeasuredTarget,
    MeasuredTerms,
    forget_measured_terms,
    terms_from_snapshot,
)
from monitoring.evaluation.periods import evaluate_agreement_periods, measure
from monitoring.evaluation.tickets import evaluate_tickets
from monitoring.models import PeriodResult, Source, Ticket, TicketTimer
from reporting.models import PeriodCorrection, RecomputeRun, Report
from reporting.services import (
    ReportError,
    applied_corrections,
    report_correct,
    report_draft_refresh,
    result_month,
)
from sla_portal.core.models import User

logger = logging.getLogger(__name__)

# Tickets per step: one transaction each, a few seconds of work, a visible progress tick.
TICKET_STEP = 1000
# How many changed timers the run keeps to show (the counts cover them all).
KEPT_TIMER_CHANGES = 50
# A run that has not moved for this long has lost its next step; asking again resumes it.
STALLED_AFTER = timedelta(minutes=10)
QUIET_REASON = "Found by recompute #{run} (a correction of the past): recorded, not emailed."
WITHDRAWN_REASON = "Found met by recompute #{run} after a correction: {reason}"
MISSED = {"missed_target", "breached"}


class RecomputeError(Exception):
    """A request the portal refuses, with the reason to show."""


class RecomputeBusy(RecomputeError):
    """Another run is measuring one of the agreements; it is named, so the caller can follow
    it instead of starting a duplicate."""

    def __init__(self, run: RecomputeRun) -> None:
        self.run = run
        super().__init__(
            f"Recompute #{run.pk} ({run.scope_text}) is already {run.get_status_display().lower()}"
            f" at {run.percent} %: one recompute at a time per agreement. Follow it, or cancel it"
            " first."
        )


# --- Selectors --------------------------------------------------------------------------------


def recompute_runs_visible_to(user: User) -> QuerySet[RecomputeRun]:
    """Runs the user may see: provider staff only (customers get none, hence 404)."""
    return RecomputeRun.objects.visible_to(user).select_related(
        "agreement", "calendar", "source", "requested_by", "applied_by"
    )


def monitored_agreements() -> QuerySet[Agreement]:
    return Agreement.objects.filter(status__in=MONITORED_STATES, in_force_version__isnull=False)


def agreements_in_scope(
    scope: str,
    *,
    agreement: Agreement | None = None,
    calendar: Calendar | None = None,
    source: Source | None = None,
) -> list[Agreement]:
    """The measured agreements a recompute of this scope covers, by id."""
    monitored = monitored_agreements()
    if scope == RecomputeRun.Scope.AGREEMENT and agreement is not None:
        found = monitored.filter(pk=agreement.pk)
    elif scope == RecomputeRun.Scope.CALENDAR and calendar is not None:
        # The signed snapshot names the calendar its targets run in; the live relations
        # catch the agreements that chose it.
        found = monitored.filter(
            Q(service_calendars=calendar)
            | Q(support_calendar=calendar)
            | Q(targets__calendar=calendar)
            | Q(in_force_version__snapshot__calendars__contains=[{"name": calendar.name}])
        )
    elif scope == RecomputeRun.Scope.SOURCE and source is not None:
        found = monitored.filter(
            pk__in=Ticket.objects.filter(source=source, agreement__isnull=False)
            .values("agreement_id")
            .distinct()
        )
    else:
        raise RecomputeError("Choose what to recompute: an agreement, a calendar or a source.")
    return list(found.distinct().order_by("pk"))


def _agreement_ids(run: RecomputeRun) -> list[int]:
    return sorted(run.agreements.values_list("pk", flat=True))


def scope_tickets(run: RecomputeRun) -> QuerySet[Ticket]:
    """The tickets a run measures again."""
    tickets = Ticket.objects.filter(agreement_id__in=_agreement_ids(run))
    if run.scope == RecomputeRun.Scope.SOURCE:
        tickets = tickets.filter(source_id=run.source_id)
    return tickets


# --- Request ----------------------------------------------------------------------------------


def recompute_request(
    user: User,
    *,
    scope: str,
    reason: str,
    now: datetime,
    agreement: Agreement | None = None,
    calendar: Calendar | None = None,
    source: Source | None = None,
) -> RecomputeRun:
    """Start a recompute (queued; the task runs it after commit), recorded in the audit trail
    of every agreement it covers with the reason. Refused while another run covers one of
    the agreements (``RecomputeBusy``)."""
    if not user.can_draft_agreements:
        raise RecomputeError("Only the provider's service managers and admins recompute.")
    reason = (reason or "").strip()
    if not reason:
        raise RecomputeError("Say why: what was corrected (a holiday, re-sent data).")
    agreements = agreements_in_scope(scope, agreement=agreement, calendar=calendar, source=source)
    if not agreements:
        raise RecomputeError("No agreement in force is measured in this scope: nothing to do.")
    ids = [a.pk for a in agreements]
    with transaction.atomic():
        # Locking the agreements in id order serialises two requests for the same ones.
        list(Agreement.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        busy = (
            RecomputeRun.objects.filter(status__in=RecomputeRun.ACTIVE, agreements__in=ids)
            .order_by("pk")
            .first()
        )
        if busy is None:
            run = _create_run(user, scope, reason, now, agreements, agreement, calendar, source)
    if busy is not None:
        if busy.updated_at < now - STALLED_AFTER:
            # Its next step was lost (the broker was flushed): send it again, outside the
            # refused request's transaction. A step is safe to repeat, so a run that was
            # only slow loses nothing either.
            transaction.on_commit(lambda: _enqueue(busy.pk))
        raise RecomputeBusy(busy)
    return run


def _create_run(
    user: User,
    scope: str,
    reason: str,
    now: datetime,
    agreements: list[Agreement],
    agreement: Agreement | None,
    calendar: Calendar | None,
    source: Source | None,
) -> RecomputeRun:
    """The run row, its agreements and totals, and its audit events; queued after commit."""
    ids = [a.pk for a in agreements]
    run = RecomputeRun.objects.create(
        scope=scope,
        agreement=agreement if scope == RecomputeRun.Scope.AGREEMENT else None,
        calendar=calendar if scope == RecomputeRun.Scope.CALENDAR else None,
        source=source if scope == RecomputeRun.Scope.SOURCE else None,
        reason=reason,
        requested_by=user,
        requested_at=now,
    )
    run.agreements.set(agreements)
    run.tickets_total = scope_tickets(run).count()
    run.periods_total = PeriodResult.objects.filter(agreement_id__in=ids).count()
    run.save(update_fields=["tickets_total", "periods_total"])
    for item in agreements:
        record(
            action="recompute requested",
            obj=run,
            agreement=item,
            message=f"{run.scope_text}: {reason}",
            actor=user,
        )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def recompute_resume_stalled(now: datetime) -> list[int]:
    """Send again the next step of every run that has not moved for ``STALLED_AFTER`` (its
    step was lost: a broker flushed or restarted without persistence); return their ids.

    A step is safe to repeat, so a run that was only slow loses nothing. Each run found is
    touched, so the sweep sends its step again at most once per ``STALLED_AFTER``."""
    with transaction.atomic():
        stalled = list(
            RecomputeRun.objects.select_for_update(skip_locked=True)
            .filter(status__in=RecomputeRun.ACTIVE, updated_at__lt=now - STALLED_AFTER)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if stalled:
            RecomputeRun.objects.filter(pk__in=stalled).update(updated_at=now)
            for run_id in stalled:
                transaction.on_commit(lambda run_id=run_id: _enqueue(run_id))
    return stalled


def _enqueue(run_id: int) -> None:
    from reporting.tasks import recompute_run

    recompute_run.delay(run_id)


def recompute_cancel(run: RecomputeRun, user: User) -> RecomputeRun:
    """Stop a run at its next step; what it already recomputed stays (it was correct)."""
    if not user.can_draft_agreements:
        raise RecomputeError("Only the provider's service managers and admins recompute.")
    updated = RecomputeRun.objects.filter(pk=run.pk, status__in=RecomputeRun.ACTIVE).update(
        cancel_requested=True
    )
    if not updated:
        raise RecomputeError(f"{run} is {run.get_status_display().lower()}: nothing to cancel.")
    run.refresh_from_db()
    for agreement_id in _agreement_ids(run):
        record(
            action="recompute cancelled",
            obj=run,
            agreement=agreement_id,
            message=f"{run.scope_text}",
            actor=user,
        )
    return run


# --- Steps ------------------------------------------------------------------------------------


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
    remaining = [pk for pk in _agreement_ids(run) if pk not in run.agreements_done]
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


# --- Apply ------------------------------------------------------------------------------------


def recompute_apply(run: RecomputeRun, user: User, note: str, now: datetime) -> list[Report]:
    """Apply a finished run's closed-period proposals: reports take the new figures from now
    on, a draft follows them, and each issued report of an affected month gets a correction
    revision (``report_correct``) with ``note`` and the list of what changed. Returns the
    correction revisions issued."""
    if not user.can_draft_agreements:
        raise RecomputeError("Only the provider's service managers and admins apply corrections.")
    note = (note or "").strip()
    if not note:
        raise RecomputeError("Say why the reports are corrected.")
    issued: list[Report] = []
    with transaction.atomic():
        locked = RecomputeRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != RecomputeRun.Status.SUCCEEDED:
            raise RecomputeError("Only a finished recompute's corrections can be applied.")
        pending = list(locked.corrections.filter(applied_at__isnull=True))
        if not pending:
            raise RecomputeError("This recompute has no correction left to apply.")
        PeriodCorrection.objects.filter(pk__in=[c.pk for c in pending]).update(
            applied_at=now, applied_by=user
        )
        months = sorted({(c.agreement_id, result_month(c.period_end)) for c in pending})
        for agreement_id, month in months:
            latest = (
                Report.objects.filter(agreement_id=agreement_id, month=month)
                .order_by("-revision")
                .first()
            )
            if latest is None:
                continue  # the month's report, when made, takes the corrected figures
            if latest.is_draft:
                report_draft_refresh(latest)
                continue
            try:
                revision = report_correct(latest, user, f"{note} (recompute #{run.pk})", now)
            except ReportError:
                continue  # the report shows nothing of what changed (a figure it rounds)
            issued.append(revision)
            PeriodCorrection.objects.filter(
                pk__in=[
                    c.pk
                    for c in pending
                    if (c.agreement_id, result_month(c.period_end)) == (agreement_id, month)
                ]
            ).update(report=revision)
        locked.applied_at, locked.applied_by = now, user
        locked.save(update_fields=["applied_at", "applied_by", "updated_at"])
        for agreement_id in sorted({c.agreement_id for c in pending}):
            count = sum(1 for c in pending if c.agreement_id == agreement_id)
            record(
                action="recompute applied",
                obj=locked,
                agreement=agreement_id,
                message=f"{count} closed period(s) corrected: {note}",
                actor=user,
            )
    run.refresh_from_db()
    return issued
