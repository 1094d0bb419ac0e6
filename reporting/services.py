"""Drafting, reviewing and issuing periodic reports, and their corrections.

**The month.** A report covers one calendar month in the zone of the support calendar the
signed version names (UTC when it names none). It takes every closed ``PeriodResult`` of the
agreement whose period ends at that month's end: every monthly target each month, quarterly
targets in March, June, September and December, yearly ones in December. A result "ends in"
month M when ``period_end - 1 day`` (in UTC) lies in M; a period end is midnight in its
target's own zone, at most 14 hours from UTC, so this holds for targets in any zone.

**From when.** Reports start with the month monitoring started: the later of the agreement's
effective date and the day it was put in force (``activated_at``, in the report's zone). An
agreement put in force in December with an effective date in January gets its first report
for December, never eleven back-dated "no data" months before anyone measured anything.

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
what changed.

**Email.** An issued report is emailed (``report.issued``, key ``report:<id>``) to the
customer's contacts (its signatories and approvers) and the agreement's service manager, but
only when its month ended within ``EMAIL_MAX_AGE`` of its draft: reports caught up for older
months (the portal was down for weeks) are issued quietly and say so. Corrections are always
emailed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from agreements.models import Agreement, AgreementVersion
from agreements.terms import terms_from_snapshot
from monitoring.evaluation.alerts import service_manager, signatories
from monitoring.models import Breach, PeriodResult, Status
from monitoring.presentation import goals, level_badge, number, period_value, status_badge
from reporting.credits import CreditResult, compute_credits, schedule_from_snapshot
from reporting.formatting import money, period_label
from reporting.models import PeriodCorrection, Report
from sla_portal.core.models import EmailAttachment, Role, User
from sla_portal.core.notifications import notify

# Older months are reported without email (history backfilled or imported late).
EMAIL_MAX_AGE = timedelta(days=7)
# How many earlier periods of each target the comparison shows.
COMPARISON_PERIODS = 12
# A first run for an agreement in force for years reports at most this many months.
MAX_BACKFILL_MONTHS = 120
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
METRIC_LABELS = {
    "availability": "Availability",
    "response_time": "Response time",
    "resolution_time": "Resolution time",
    "performance": "Performance",
    "error_count": "Error count",
    "recovery_time": "Recovery time",
    "security_notification": "Security notification",
}


class ReportError(Exception):
    """A report action that cannot be done, with the reason for the person asking."""


# --- Months -----------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The month in ``zone`` as aware UTC datetimes ``[start, end)``."""
    tz = ZoneInfo(zone)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end_month = next_month(month)
    end = datetime(end_month.year, end_month.month, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def result_month(period_end: datetime) -> date:
    """The month a period result is reported in (see the module docstring)."""
    return month_start((period_end.astimezone(UTC) - timedelta(days=1)).date())


def _results_window(month: date) -> tuple[datetime, datetime]:
    """``period_end`` range of the results reported in ``month``."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC) + timedelta(days=1)
    end_month = next_month(month)
    end = datetime(end_month.year, end_month.month, 1, tzinfo=UTC) + timedelta(days=1)
    return start, end


def report_zone(snapshot: dict) -> str:
    """The zone of the support calendar the version names, else UTC."""
    name = snapshot.get("sections", {}).get("support", {}).get("fields", {}).get("support_calendar")
    for calendar in snapshot.get("calendars", []):
        if name and calendar.get("name") == name and calendar.get("timezone"):
            return calendar["timezone"]
    return "UTC"


def _ends_in(period: str, month: date) -> bool:
    return month.month % PERIOD_MONTHS.get(period, 1) == 0


# --- Issuing ----------------------------------------------------------------------------------


def issue_due_reports(now: datetime, agreement_ids: Iterable[int] | None = None) -> int:
    """Draft every month that is due and issue the drafts whose review window has ended
    (idempotent); return how many reports were drafted or issued."""
    return draft_due_reports(now, agreement_ids) + issue_due_drafts(now, agreement_ids)


def review_window() -> timedelta:
    """How long a draft waits for the provider's review before it is issued automatically."""
    return timedelta(days=settings.REPORT_REVIEW_DAYS)


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


def first_report_month(agreement: Agreement) -> date:
    """The month monitoring started: the later of the effective date and the day the
    agreement was put in force, in the zone of the version in force."""
    start = agreement.effective_from or date.min
    if agreement.activated_at is not None:
        version = agreement.in_force_version
        zone = report_zone(version.snapshot) if version is not None else "UTC"
        start = max(start, agreement.activated_at.astimezone(ZoneInfo(zone)).date())
    return month_start(start)


def due_months(agreement: Agreement, now: datetime) -> list[date]:
    """Months of ``agreement`` not reported yet whose results are all closed, oldest first,
    from the month monitoring started (``first_report_month``)."""
    last = agreement.reports.order_by("-month").values_list("month", flat=True).first()
    start = first_report_month(agreement)
    first = max(next_month(last), start) if last else start
    results = PeriodResult.objects.filter(
        agreement=agreement, period_end__gte=_results_window(first)[0]
    )
    ends = results.values_list("period_end", flat=True).distinct()
    candidates = sorted({result_month(end) for end in ends})
    due = []
    for month in [m for m in candidates if m >= first]:
        # Strictly in order: a month that is not due yet holds back the later ones, so a
        # report is never skipped over and left behind.
        if len(due) >= MAX_BACKFILL_MONTHS or not _month_is_due(agreement, month, now):
            break
        due.append(month)
    return due


def _month_results(agreement: Agreement, month: date):
    low, high = _results_window(month)
    return PeriodResult.objects.filter(
        agreement=agreement, period_end__gte=low, period_end__lt=high
    ).select_related("version")


def _month_is_due(agreement: Agreement, month: date, now: datetime) -> bool:
    results = list(_month_results(agreement, month))
    if not results or any(r.closed_at is None for r in results):
        return False
    version = max((r.version for r in results), key=lambda v: v.number)
    if now < month_bounds(month, report_zone(version.snapshot))[1]:
        return False
    expected = {
        t.key
        for t in terms_from_snapshot(version.pk, version.snapshot).targets
        if _ends_in(t.period, month)
    }
    return expected <= {r.target_key for r in results}


def report_draft(agreement: Agreement, month: date, now: datetime) -> Report | None:
    """Make the draft (revision 1) of ``agreement``'s report for ``month`` unless a report of
    that month exists (then None). With a review window of 0 days it is issued at once.

    Safe to call from several workers at once: the agreement row is locked and the unique
    (agreement, month, revision) constraint stands behind the check."""
    with transaction.atomic():
        Agreement.objects.select_for_update().filter(pk=agreement.pk).values_list("pk").first()
        if Report.objects.filter(agreement=agreement, month=month).exists():
            return None
        if not _month_is_due(agreement, month, now):
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
    if not report.is_draft or not _month_results(report.agreement, report.month).exists():
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


# --- Content ----------------------------------------------------------------------------------


def canonical_json(content: dict) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: dict) -> str:
    """SHA-256 of the report's canonical JSON, as 64 hex digits."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    normal = format(value.normalize(), "f")
    return "0" if normal in {"-0", ""} else normal


def build_content(agreement: Agreement, month: date) -> tuple[AgreementVersion, dict]:
    """What the report of ``month`` says, from the facts as they are now."""
    results = _with_corrections(list(_month_results(agreement, month)))
    version = max((r.version for r in results), key=lambda v: v.number)
    snapshot = version.snapshot
    zone = report_zone(snapshot)
    start, end = month_bounds(month, zone)
    order = {row["key"]: index for index, row in enumerate(snapshot.get("targets", []))}
    results.sort(key=lambda r: (order.get(r.target_key, len(order)), r.target_key))
    # Earlier periods are compared only from the month monitoring started: before it the
    # results say "no data" for months nobody measured.
    since = month_bounds(first_report_month(agreement), zone)[0]
    lines = [_line(r, since) for r in results]
    credits = compute_credits(
        schedule_from_snapshot(snapshot),
        _values_by_metric(results),
    )
    return version, {
        "schema": 1,
        "agreement": {
            "reference": agreement.reference,
            "title": agreement.title,
            "customer": agreement.customer.name,
        },
        "version": {"number": version.number, "content_hash": version.content_hash},
        "month": month.isoformat(),
        "zone": zone,
        "period_start": _iso(start),
        "period_end": _iso(end),
        "lines": lines,
        "summary": _summary(lines),
        "breaches": _breaches(agreement, results, start, end),
        "credits": _credits_content(snapshot, credits),
    } | _withdrawn(agreement, start, end)


def applied_corrections(result_ids: list[int]) -> dict[int, PeriodCorrection]:
    """The latest applied correction of each closed period that has one."""
    latest: dict[int, PeriodCorrection] = {}
    rows = PeriodCorrection.objects.filter(
        period_result_id__in=result_ids, applied_at__isnull=False
    ).order_by("applied_at", "pk")
    for correction in rows:
        latest[correction.period_result_id] = correction
    return latest


def _with_corrections(results: list[PeriodResult]) -> list[PeriodResult]:
    """Closed periods take the figure of their latest applied correction (a recompute found
    them wrong, and a manager applied it: ``reporting.recompute``). In memory only: the
    frozen row keeps what was known at period close, the correction row says what changed."""
    latest = applied_corrections([r.pk for r in results])
    for result in results:
        correction = latest.get(result.pk)
        if correction is not None:
            result.value, result.status = correction.new_value, correction.new_status
            result.final, result.details = correction.new_final, correction.new_details
            result.corrected = True
    return results


def _values_by_metric(results: list[PeriodResult]) -> dict[str, list[float | None]]:
    values: dict[str, list[float | None]] = {}
    for result in results:
        values.setdefault(result.metric, []).append(result.value)
    return values


def _line(result: PeriodResult, since: datetime) -> dict[str, Any]:
    previous = (
        PeriodResult.objects.filter(
            agreement_id=result.agreement_id,
            target_key=result.target_key,
            period_start__lt=result.period_start,
            period_end__gt=since,
            closed_at__isnull=False,
        )
        .order_by("-period_start")
        .values("period_start", "period_end", "value", "value_unit", "status", "details")[
            :COMPARISON_PERIODS
        ]
    )
    comparison = [
        {
            "period_start": _iso(p["period_start"]),
            "period_end": _iso(p["period_end"]),
            "month": result_month(p["period_end"]).isoformat(),
            "value": p["value"],
            "value_text": _value_text(
                p["value"], p["value_unit"], p["status"], p["details"], goals(result)
            ),
            "status": p["status"],
        }
        for p in reversed(list(previous))
    ]
    return {
        "target_key": result.target_key,
        "label": result.target_label,
        "metric": result.metric,
        "period": result.period,
        "period_start": _iso(result.period_start),
        "period_end": _iso(result.period_end),
        "unit": result.unit,
        "direction": result.direction,
        "target_value": _dec(result.target_value),
        "threshold_value": _dec(result.threshold_value),
        "value": result.value,
        "value_unit": result.value_unit,
        "value_text": period_value(result),
        "goal_target": result.goal_target,
        "goal_threshold": result.goal_threshold,
        "goal_target_text": number(result.goal_target, result.value_unit, goals(result)),
        "goal_threshold_text": number(result.goal_threshold, result.value_unit, goals(result)),
        "status": result.status,
        "status_label": status_badge(result.status).text,
        "details": result.details,
        "closed_at": _iso(result.closed_at),
        "comparison": comparison,
    }


def _value_text(
    value: float | None, unit: str, status: str, details: dict, held: tuple = ()
) -> str:
    if value is not None:
        return number(value, unit, held)
    if (details or {}).get("incidents") == 0:
        return "no incidents"
    return "no data"


def _summary(lines: list[dict]) -> dict[str, int]:
    counts = {status: 0 for status in (Status.MET, Status.MISSED_TARGET, Status.BREACHED)}
    counts[Status.NO_DATA] = 0
    for line in lines:
        if line["status"] in counts:
            counts[line["status"]] += 1
    return {str(key): value for key, value in counts.items()}


def _withdrawn(agreement: Agreement, start: datetime, end: datetime) -> dict:
    """The ticket breaches of the month a later evaluation withdrew (found met after all),
    by id with the reason: left out of the list, named in a correction's what-changed.
    Absent when there are none, so the content of an unaffected month is as before."""
    rows = Breach.objects.filter(
        agreement=agreement,
        ticket__isnull=False,
        opened_at__gte=start,
        opened_at__lt=end,
        withdrawn_at__isnull=False,
    ).values_list("pk", "withdrawn_reason")
    found = {str(pk): reason for pk, reason in rows}
    return {"withdrawn_breaches": found} if found else {}


def _breaches(
    agreement: Agreement, results: list[PeriodResult], start: datetime, end: datetime
) -> list[dict]:
    """The period breaches of the month's results and the ticket breaches opened in it. A
    period that an applied correction found met after all has no breach any more."""
    withdrawn = {
        r.pk
        for r in results
        if getattr(r, "corrected", False)
        and r.status not in (Status.MISSED_TARGET, Status.BREACHED)
    }
    rows = (
        Breach.objects.filter(agreement=agreement)
        .exclude(period_result__in=withdrawn)
        .filter(withdrawn_at__isnull=True)
        .filter(
            Q(period_result__in=[r.pk for r in results])
            | Q(ticket__isnull=False, opened_at__gte=start, opened_at__lt=end)
        )
        .select_related("ticket", "period_result")
        .order_by("opened_at", "id")
    )
    return [
        {
            "id": breach.pk,
            "target_key": breach.target_key,
            "label": breach.target_label,
            "level": breach.level,
            "level_label": level_badge(breach.level).text,
            "subject": breach.subject,
            "opened_at": _iso(breach.opened_at),
            "closed_at": _iso(breach.closed_at),
            "value_text": breach.value_text,
            "root_cause": breach.root_cause,
            "root_cause_at": _iso(breach.root_cause_at),
        }
        for breach in rows
    ]


def _credits_content(snapshot: dict, credits: CreditResult) -> dict[str, Any]:
    schedule = schedule_from_snapshot(snapshot)
    return {
        "bands": [
            {
                "metric": band.metric,
                "metric_label": METRIC_LABELS.get(band.metric, band.metric),
                "achieved_below": _dec(band.achieved_below),
                "credit_percent": _dec(band.credit_percent),
            }
            for metric in schedule.metrics()
            for band in schedule.bands_of(metric)
        ],
        "cap_percent": _dec(schedule.cap_percent),
        "fee_amount": str(schedule.fee_amount),
        "fee_period": schedule.fee_period,
        "monthly_fee": str(credits.monthly_fee),
        "currency": credits.currency,
        "exclusions": schedule.exclusions,
        "lines": [
            {
                "metric": line.metric,
                "metric_label": METRIC_LABELS.get(line.metric, line.metric),
                "achieved": _dec(line.achieved),
                "band_below": _dec(line.band.achieved_below) if line.band else None,
                "percent": _dec(line.percent),
                "note": line.note,
            }
            for line in credits.lines
        ],
        "uncapped_percent": _dec(credits.uncapped_percent),
        "percent": _dec(credits.percent),
        "capped": credits.capped,
        "amount": str(credits.amount),
        "notes": list(credits.notes),
    }


# --- What changed -----------------------------------------------------------------------------


def content_changes(old: dict, new: dict) -> list[str]:
    """What a correction changes, in sentences: figures, breaches, root causes, credits."""
    changes: list[str] = []
    old_lines = {line["target_key"]: line for line in old.get("lines", [])}
    new_lines = {line["target_key"]: line for line in new.get("lines", [])}
    for key, line in new_lines.items():
        before = old_lines.get(key)
        if before is None:
            changes.append(f"{line['label']}: added ({line['value_text']}).")
            continue
        if before["value_text"] != line["value_text"]:
            changes.append(f"{line['label']}: {before['value_text']} → {line['value_text']}.")
        if before["status"] != line["status"]:
            changes.append(
                f"{line['label']}: status {before['status_label']} → {line['status_label']}."
            )
    for key, line in old_lines.items():
        if key not in new_lines:
            changes.append(f"{line['label']}: removed.")
    old_breaches = {b["id"]: b for b in old.get("breaches", [])}
    for breach in new.get("breaches", []):
        name = f"{breach['label']} ({breach['subject']})"
        before = old_breaches.pop(breach["id"], None)
        if before is None:
            changes.append(f"Breach added: {name}, {breach['level_label'].lower()}.")
            continue
        if before["level"] != breach["level"]:
            changes.append(f"Breach {name}: {before['level_label']} → {breach['level_label']}.")
        if before["root_cause"] != breach["root_cause"]:
            if not before["root_cause"]:
                changes.append(f"Root cause of {name} recorded: {breach['root_cause']}")
            elif not breach["root_cause"]:
                changes.append(f"Root cause of {name} removed.")
            else:
                changes.append(f"Root cause of {name} changed to: {breach['root_cause']}")
    withdrawn = new.get("withdrawn_breaches", {})
    for breach in old_breaches.values():
        reason = withdrawn.get(str(breach["id"]))
        if reason is not None:
            changes.append(f"Breach withdrawn: {breach['label']} ({breach['subject']}): {reason}")
        else:
            changes.append(f"Breach removed: {breach['label']} ({breach['subject']}).")
    old_credits, new_credits = old.get("credits", {}), new.get("credits", {})
    if (old_credits.get("percent"), old_credits.get("amount")) != (
        new_credits.get("percent"),
        new_credits.get("amount"),
    ):
        changes.append(
            f"Service credit: {old_credits.get('percent')} % "
            f"({money(old_credits.get('amount'), old_credits.get('currency', ''))}) → "
            f"{new_credits.get('percent')} % "
            f"({money(new_credits.get('amount'), new_credits.get('currency', ''))})."
        )
    return changes


# --- Email ------------------------------------------------------------------------------------


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
    # The rendering lives beside the download views, which import this module.
    from reporting.views.reports import render_report_pdf, report_csv_bytes

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


# --- The review page --------------------------------------------------------------------------


class ReviewReports(list):
    """The current revisions of the reports of a review period, oldest month first, with
    ``targets``: one row per target with its value and status in each of those months and
    whether it got better or worse over the period, and ``credit_total`` per currency."""

    targets: list[dict[str, Any]]
    credit_total: dict[str, Decimal]


def review_reports(agreement: Agreement, first_day: date, last_day: date) -> ReviewReports:
    """Reports of ``agreement`` whose month lies in ``first_day``–``last_day`` (a review's
    period), with each target's trend over them."""
    reports = ReviewReports(
        Report.objects.filter(
            agreement=agreement,
            month__gte=month_start(first_day),
            month__lte=last_day,
            superseded_by__isnull=True,
            # Drafts are the provider's work in progress; a review looks at issued reports.
            status=Report.Status.ISSUED,
        ).order_by("month")
    )
    rows: dict[str, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for line in report.content.get("lines", []):
            row = rows.setdefault(
                line["target_key"],
                {
                    "label": line["label"],
                    "cells": [None] * len(reports),
                    "higher_is_better": line["goal_target"] > line["goal_threshold"]
                    or (
                        line["goal_target"] == line["goal_threshold"]
                        and line.get("direction") == "higher"
                    ),
                },
            )
            row["cells"][index] = {
                "value": line["value"],
                "value_text": line["value_text"],
                "status": line["status"],
                "status_label": line["status_label"],
            }
    for row in rows.values():
        values = [c["value"] for c in row["cells"] if c and c["value"] is not None]
        row["trend"] = None
        if len(values) >= 2:
            first, last = values[0], values[-1]
            if abs(last - first) < 1e-9:
                row["trend"] = "unchanged"
            elif (last > first) == row["higher_is_better"]:
                row["trend"] = "better"
            else:
                row["trend"] = "worse"
        row["missed"] = sum(
            1 for c in row["cells"] if c and c["status"] in (Status.MISSED_TARGET, Status.BREACHED)
        )
    reports.targets = list(rows.values())
    totals: dict[str, Decimal] = {}
    for report in reports:
        totals[report.currency] = totals.get(report.currency, Decimal(0)) + report.credit_amount
    reports.credit_total = totals
    return reports
