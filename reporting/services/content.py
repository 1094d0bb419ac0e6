"""What a report says: its frozen ``content``, built from the facts as they are now, and what
changed between two revisions of it.

The content is plain JSON (figures, breaches with root causes, service credits, earlier
periods to compare with); the page, the PDF, the CSV and the email all show it, so every
rendering of one revision agrees. Closed periods take the figure of their latest applied
correction (``reporting.recompute``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from agreements.models import Agreement, AgreementVersion
from monitoring.models import Breach, PeriodResult, Status
from monitoring.presentation import goals, level_badge, number, period_value, status_badge
from reporting.credits import CreditResult, compute_credits, schedule_from_snapshot
from reporting.formatting import money
from reporting.models import PeriodCorrection
from reporting.services.schedule import (
    first_report_month,
    month_bounds,
    month_results,
    report_zone,
    result_month,
)

# How many earlier periods of each target the comparison shows.
COMPARISON_PERIODS = 12

METRIC_LABELS = {
    "availability": "Availability",
    "response_time": "Response time",
    "resolution_time": "Resolution time",
    "performance": "Performance",
    "error_count": "Error count",
    "recovery_time": "Recovery time",
    "security_notification": "Security notification",
}


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
    results = _with_corrections(list(month_results(agreement, month)))
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
