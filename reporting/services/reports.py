"""Drafting, reviewing and issuing periodic reports, and their corrections.

**The month.** A report covers one calendar month in the zone of the support calendar the
signed version names (``reporting.services.schedule``), from the month monitoring started.

**When.** A month is due once all its results are closed (``evaluate_periods`` closes them
within a minute of their end) and every target of their version has one. ``issue_due_reports``
makes the due months' *drafts*, oldest first, and issues drafts whose review window
(``REPORT_REVIEW_DAYS`` after the draft) has ended.

**Review.** A draft is seen by provider staff only; its content is rebuilt from the current
facts (``report_draft_refresh``) until it is issued, so root causes recorded during the review
are in it. ``report_issue`` issues it, by a provider manager or admin or automatically,
recording who and when. Only an issued report reaches the customer.

**Once.** Drafting locks the agreement row, re-checks, and inserts under the unique
(agreement, month, revision) constraint, so two workers make one draft; issuing locks the
draft row. An issued report never changes (a database trigger refuses it); ``report_correct``
issues revision N+1, recomputed from current facts, with the reason and an automatic list of
what changed (``reporting.services.content``).

**Email.** An issued report is emailed (``report.issued``, key ``report:<id>``) to the
customer's contacts (its signatories and approvers) and the agreement's service manager, but
only when its month ended within ``EMAIL_MAX_AGE`` of its draft: reports caught up for older
months (the portal was down for weeks) are issued quietly and say so. Corrections are always
emailed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from agreements.models import Agreement, AgreementVersion
from monitoring.evaluation.alerts import service_manager, signatories
from reporting.formatting import period_label
from reporting.models import Report
from reporting.services.content import build_content, content_changes, content_hash
from reporting.services.rendering import render_report_pdf, report_csv_bytes
from reporting.services.schedule import (
    due_months,
    month_bounds,
    month_is_due,
    month_results,
    review_window,
)
from sla_portal.core.models import EmailAttachment, Role, User
from sla_portal.core.notifications import notify

# Older months are reported without email (history backfilled or imported late).
EMAIL_MAX_AGE = timedelta(days=7)


class ReportError(Exception):
    """A report action that cannot be done, with the reason for the person asking."""


def issue_due_reports(now: datetime, agreement_ids: Iterable[int] | None = None) -> int:
    """Draft every month that is due and issue the drafts whose review window has ended
    (idempotent); return how many reports were drafted or issued."""
    return draft_due_reports(now, agreement_ids) + issue_due_drafts(now, agreement_ids)


def issue_due_drafts(now: datetime, agreement_ids: Iterable[int] | None = None) -> int:
    """Issue (automatically, no user) every draft older than the review window."""
    drafts = Report.objects.filter(
        status=Report.Status.DRAFT, drafted_at__lte=now - review_window()
    ).order_by("drafted_at", "pk")
    if agreement_ids is not None:
        drafts = drafts.filter(agreement_id__in=list(agreement_ids))
    issued = 0
    for draft in drafts.select_related("agreement", "agreement__customer"):
        try:
            report_issue(draft, now)
        except ReportError:
            continue  # issued by someone else meanwhile
        issued += 1
    return issued


def draft_due_reports(now: datetime, agreement_ids: Iterable[int] | None = None) -> int:
    """Draft every report that is due (idempotent); return how many drafts were made."""
    agreements = Agreement.objects.filter(in_force_version__isnull=False).select_related(
        "customer", "in_force_version", "created_by"
    )
    if agreement_ids is not None:
        agreements = agreements.filter(pk__in=list(agreement_ids))
    drafted = 0
    for agreement in agreements:
        for month in due_months(agreement, now):
            if report_draft(agreement, month, now) is not None:
                drafted += 1
    return drafted


def report_draft(agreement: Agreement, month: date, now: datetime) -> Report | None:
    """Make the draft (revision 1) of ``agreement``'s report for ``month`` unless a report of
    that month exists (then None). With a review window of 0 days it is issued at once.

    Safe to call from several workers at once: the agreement row is locked and the unique
    (agreement, month, revision) constraint stands behind the check."""
    with transaction.atomic():
        Agreement.objects.select_for_update().filter(pk=agreement.pk).values_list("pk").first()
        if Report.objects.filter(agreement=agreement, month=month).exists():
            return None
        if not month_is_due(agreement, month, now):
            return None
        version, content = build_content(agreement, month)
        try:
            with transaction.atomic():
                report = Report.objects.create(
                    agreement=agreement,
                    customer_id=agreement.customer_id,
                    month=month,
                    revision=1,
                    status=Report.Status.DRAFT,
                    drafted_at=now,
                    **_content_fields(version, content),
                )
        except IntegrityError:
            return None
    if review_window() <= timedelta(0):
        return report_issue(report, now)
    return report


def _content_fields(version: AgreementVersion, content: dict) -> dict[str, Any]:
    credits = content["credits"]
    return {
        "version": version,
        "zone": content["zone"],
        "period_start": datetime.fromisoformat(content["period_start"]),
        "period_end": datetime.fromisoformat(content["period_end"]),
        "content": content,
        "content_hash": content_hash(content),
        "credit_percent": Decimal(credits["percent"]),
        "credit_amount": Decimal(credits["amount"]),
        "currency": credits["currency"],
    }


def report_draft_refresh(report: Report) -> Report:
    """Rebuild a draft's content from the current facts (a root cause recorded during the
    review); an issued report is returned as it is. Writes only when something changed."""
    if not report.is_draft or not month_results(report.agreement, report.month).exists():
        return report
    version, content = build_content(report.agreement, report.month)
    if content_hash(content) == report.content_hash and version.pk == report.version_id:
        return report
    Report.objects.filter(pk=report.pk, status=Report.Status.DRAFT).update(
        **_content_fields(version, content)
    )
    report.refresh_from_db()
    return report


def report_issue(report: Report, now: datetime, user: User | None = None) -> Report:
    """Issue a draft: its content is rebuilt from the current facts one last time, frozen,
    and emailed to the customer's contacts. ``user`` is the provider manager or admin who
    issued it; ``None`` when the review window ended (the beat task)."""
    if user is not None and not user.can_draft_agreements:
        raise ReportError("Only the provider's service managers and admins issue reports.")
    with transaction.atomic():
        draft = (
            Report.objects.select_for_update()
            .filter(pk=report.pk, status=Report.Status.DRAFT)
            .select_related("agreement", "agreement__customer")
            .first()
        )
        if draft is None:
            raise ReportError("This report is issued already.")
        version, content = build_content(draft.agreement, draft.month)
        month_end = month_bounds(draft.month, content["zone"])[1]
        recent = month_end >= (draft.drafted_at or now) - EMAIL_MAX_AGE
        Report.objects.filter(pk=draft.pk, status=Report.Status.DRAFT).update(
            status=Report.Status.ISSUED,
            issued_at=now,
            issued_by=user,
            emailed=recent,
            quiet_reason=""
            if recent
            else "Issued for a month that ended more than 7 days before its draft: not emailed.",
            **_content_fields(version, content),
        )
        draft.refresh_from_db()
        if recent:
            _announce(draft)
    return draft


def report_correct(report: Report, user: User, note: str, now: datetime) -> Report:
    """Issue the next revision of ``report``'s month, recomputed from current facts (root
    causes recorded since, a breach found late), with ``note`` and what changed."""
    note = (note or "").strip()
    if not note:
        raise ReportError("Say why the report is corrected.")
    if not user.can_draft_agreements:
        raise ReportError("Only service managers correct reports.")
    if report.is_draft:
        raise ReportError("A draft follows the current facts until it is issued: issue it instead.")
    agreement = report.agreement
    with transaction.atomic():
        Agreement.objects.select_for_update().filter(pk=agreement.pk).values_list("pk").first()
        latest = (
            Report.objects.filter(agreement=agreement, month=report.month)
            .order_by("-revision")
            .first()
        )
        if latest.pk != report.pk:
            raise ReportError(
                f"Revision {latest.revision} supersedes this one; correct that revision instead."
            )
        version, content = build_content(agreement, report.month)
        changes = content_changes(latest.content, content)
        if not changes:
            raise ReportError(
                "Nothing changed since this revision was issued: the figures, breaches, root "
                "causes and credits are the same."
            )
        correction = Report.objects.create(
            agreement=agreement,
            customer_id=agreement.customer_id,
            month=report.month,
            revision=latest.revision + 1,
            status=Report.Status.ISSUED,
            drafted_at=now,
            issued_at=now,
            issued_by=user,
            supersedes=latest,
            change_note=note,
            changes=changes,
            **_content_fields(version, content),
        )
        _announce(correction)
    return correction


def report_recipients(agreement: Agreement) -> list[User | str]:
    """The customer's contacts (signatories and approvers) and the service manager."""
    approvers = User.objects.filter(
        organisation_id=agreement.customer_id, role=Role.CUSTOMER_APPROVER, is_active=True
    ).order_by("pk")
    return [*signatories(agreement, "customer"), *approvers, *service_manager(agreement)]


def report_links(report: Report) -> dict[str, str]:
    base = settings.SITE_URL
    return {
        "url": base + reverse("reporting:report-detail", args=[report.pk]),
        "pdf_url": base + reverse("reporting:report-pdf", args=[report.pk]),
        "csv_url": base + reverse("reporting:report-csv", args=[report.pk]),
    }


def report_attachments(report: Report) -> list[EmailAttachment]:
    """The report's PDF and CSV, rendered now, for its email (unsaved; ``notify`` stores them
    once for all recipients). The bytes are the downloads' bytes."""
    pdf = render_report_pdf(report, base_url=settings.SITE_URL + "/")
    return [
        EmailAttachment(
            filename=f"{report.filename}.pdf", content_type="application/pdf", content=pdf
        ),
        EmailAttachment(
            filename=f"{report.filename}.csv",
            content_type="text/csv",
            content=report_csv_bytes(report),
        ),
    ]


def _announce(report: Report) -> None:
    agreement = report.agreement
    notify(
        "report.issued",
        f"report:{report.pk}",
        report_recipients(agreement),
        "emails/report_issued",
        {
            "report": report,
            "agreement": agreement,
            "content": report.content,
            "month_label": f"{report.month:%B %Y}",
            "period_label": period_label(report.month, report.zone),
            **report_links(report),
        },
        agreement_id=agreement.pk,
        attachments=report_attachments(report),
    )
