"""Applying a finished run's proposals: closed periods take the corrected figures, and every
issued report of an affected month gets a correction revision that says what changed and why.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from agreements.services.audit import record
from reporting.models import PeriodCorrection, RecomputeRun, Report
from reporting.recompute.runs import RecomputeError
from reporting.services.reports import ReportError, report_correct, report_draft_refresh
from reporting.services.schedule import result_month
from sla_portal.core.models import User


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
