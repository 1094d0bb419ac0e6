"""Asking for a recompute, cancelling it, and the sweep that resumes runs whose next step was
lost: the run rows (``RecomputeRun``) and their scope.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from agreements.models import Agreement, Calendar
from agreements.services.audit import record
from agreements.terms import MONITORED_STATES
from monitoring.models import PeriodResult, Source, Ticket
from reporting.enqueue import recompute_run_enqueue
from reporting.models import RecomputeRun
from sla_portal.core.models import User

# A run that has not moved for this long has lost its next step; asking again resumes it.
STALLED_AFTER = timedelta(minutes=10)


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


def run_agreement_ids(run: RecomputeRun) -> list[int]:
    """The ids of the agreements in the run's scope."""
    return sorted(run.agreements.values_list("pk", flat=True))


def scope_tickets(run: RecomputeRun) -> QuerySet[Ticket]:
    """The tickets a run measures again."""
    tickets = Ticket.objects.filter(agreement_id__in=run_agreement_ids(run))
    if run.scope == RecomputeRun.Scope.SOURCE:
        tickets = tickets.filter(source_id=run.source_id)
    return tickets


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
            transaction.on_commit(lambda: recompute_run_enqueue(busy.pk))
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
    transaction.on_commit(lambda: recompute_run_enqueue(run.pk))
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
                transaction.on_commit(lambda run_id=run_id: recompute_run_enqueue(run_id))
    return stalled


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
    for agreement_id in run_agreement_ids(run):
        record(
            action="recompute cancelled",
            obj=run,
            agreement=agreement_id,
            message=f"{run.scope_text}",
            actor=user,
        )
    return run
