"""How a report is shown: the page's and the PDF's context, the PDF (WeasyPrint) and the CSV.

Everything comes from the report's frozen ``content``, so the page, the PDF and the CSV of
one revision always agree; except the experience section (CSAT/NPS with their response
counts, the watermelon flag and the customers' comments), which is not part of the content
and is read when rendered, the same way for all three (``report_experience``,
docs/reports.md). The download views, the API and the report email
(``reporting.services.reports``) all render through here, so an attachment's bytes are the
download's bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string

from agreements.pdf import StaticFilesFetcher
from monitoring.presentation import level_badge, status_badge
from reporting.formatting import money, period_label
from reporting.models import Report
from reporting.selectors.experience import Experience, report_experience
from reporting.services.schedule import review_window
from sla_portal.core.csvsafe import SafeDictWriter

# The PDF page is narrower than the screen: it compares with fewer earlier periods.
PDF_COMPARISON_PERIODS = 6

TREND_WORDS = {
    "better": ("bi-arrow-up-right", "↗", "better"),
    "worse": ("bi-arrow-down-right", "↘", "worse"),
    "same": ("bi-arrow-right", "→", "unchanged"),
}

PDF_SYMBOLS = {
    "met": "✔",
    "missed_target": "✖",
    # DejaVu (the PDF's fonts) has no ⛔; the circled slash reads as "stop" as well.
    "breached": "⊘",
    "no_data": "–",
    "at_risk": "⚠",
}


@dataclass(frozen=True)
class Trend:
    key: str
    icon: str
    symbol: str
    text: str


def _higher_is_better(line: dict) -> bool:
    if line["goal_target"] != line["goal_threshold"]:
        return line["goal_target"] > line["goal_threshold"]
    return line.get("direction") == "higher" or line.get("value_unit") == "percent"


def trend(line: dict) -> Trend | None:
    """This period against the one before (None without both values)."""
    earlier = [p for p in line.get("comparison", []) if p["value"] is not None]
    if line["value"] is None or not earlier:
        return None
    before, now = earlier[-1]["value"], line["value"]
    if abs(now - before) < 1e-9:
        key = "same"
    elif (now > before) == _higher_is_better(line):
        key = "better"
    else:
        key = "worse"
    icon, symbol, text = TREND_WORDS[key]
    return Trend(key, icon, symbol, text)


def _local(value: str | None, zone: ZoneInfo) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(zone) if value else None


def report_context(report: Report, comparison_periods: int = 12) -> dict[str, Any]:
    """What the page and the PDF show, from the report's frozen content, and the experience
    of its month as it reads now."""
    content = report.content
    zone = ZoneInfo(report.zone)
    lines = []
    for line in content["lines"]:
        comparison = line.get("comparison", [])[-comparison_periods:]
        lines.append(
            {
                **line,
                "badge": status_badge(line["status"]),
                "symbol": PDF_SYMBOLS.get(line["status"], ""),
                "trend": trend(line),
                "comparison": comparison,
                "period_start_local": _local(line["period_start"], zone),
                "period_end_local": _local(line["period_end"], zone),
            }
        )
    # The comparison table: one column per earlier month that any target has a value for.
    months = sorted({p["month"] for line in lines for p in line["comparison"]})[
        -comparison_periods:
    ]
    for line in lines:
        by_month = {p["month"]: p for p in line["comparison"]}
        line["columns"] = [
            {
                **by_month[m],
                "badge": status_badge(by_month[m]["status"]),
                "symbol": PDF_SYMBOLS.get(by_month[m]["status"], ""),
            }
            if m in by_month
            else None
            for m in months
        ]
    breaches = [
        {
            **breach,
            "badge": level_badge(breach["level"]),
            "symbol": PDF_SYMBOLS.get(breach["level"], ""),
            "opened_local": _local(breach["opened_at"], zone),
        }
        for breach in content["breaches"]
    ]
    return {
        "report": report,
        "agreement": report.agreement,
        "content": content,
        "credits": content["credits"],
        "lines": lines,
        "breaches": breaches,
        "comparison_months": [datetime.fromisoformat(m) for m in months],
        # From the month's local dates, never from its UTC bounds (see formatting).
        "period_label": period_label(report.month, report.zone),
        "issued_local": report.issued_at.astimezone(zone) if report.issued_at else None,
        "drafted_local": report.drafted_at.astimezone(zone) if report.drafted_at else None,
        "auto_issue_local": (report.drafted_at + review_window()).astimezone(zone)
        if report.is_draft and report.drafted_at
        else None,
        "experience": report_experience(report),
        "revisions": list(
            Report.objects.filter(agreement_id=report.agreement_id, month=report.month)
            .select_related("issued_by")
            .order_by("revision")
        ),
    }


def render_report_pdf(report: Report, base_url: str) -> bytes:
    """The report as a PDF (WeasyPrint), from the same content as the page."""
    from weasyprint import HTML

    context = report_context(report, comparison_periods=PDF_COMPARISON_PERIODS)
    html = render_to_string("reporting/pdf/report.html", context)
    return HTML(string=html, base_url=base_url, url_fetcher=StaticFilesFetcher()).write_pdf()


CSV_COLUMNS = [
    "section",
    "item",
    "period_start",
    "period_end",
    "value",
    "unit",
    "target",
    "threshold",
    "status",
    "credit_percent",
    "credit_amount",
    "currency",
    "note",
]


def report_csv_text(report: Report) -> str:
    """One row per target, one per breach, then the credit rows: per metric, the total
    before the cap, and the credit due (whose value is the monthly fee it is a share of).
    ``target`` and ``threshold`` are in the row's ``unit``; for a credit row ``target`` is
    the band the value fell below.

    Numbers: the value columns (``value``, ``target``, ``threshold``, ``credit_percent``,
    ``credit_amount``) hold plain machine-readable numbers (``2400.00``: a point, no
    thousands separator) for finance systems; the ``note`` column is for people and writes
    money like the page, the PDF and the email (``2,400.00 EUR``, ``reporting.formatting``).

    Last, the experience of the month when the agreement has CSAT/NPS targets (read now, like
    the page: see :func:`_experience_rows`)."""
    content = report.content
    credits = content["credits"]
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for line in content["lines"]:
        writer.writerow(
            {
                "section": "target",
                "item": line["label"],
                "period_start": line["period_start"],
                "period_end": line["period_end"],
                "value": "" if line["value"] is None else line["value"],
                "unit": line["value_unit"],
                "target": line["goal_target"],
                "threshold": line["goal_threshold"],
                "status": line["status"],
                "note": line["value_text"],
            }
        )
    for breach in content["breaches"]:
        writer.writerow(
            {
                "section": "breach",
                "item": f"{breach['label']} ({breach['subject']})",
                "period_start": breach["opened_at"],
                "period_end": breach["closed_at"] or "",
                "status": breach["level"],
                "note": breach["root_cause"] or "No root cause recorded yet.",
            }
        )
    for line in credits["lines"]:
        writer.writerow(
            {
                "section": "credit",
                "item": line["metric_label"],
                "value": line["achieved"] or "",
                "unit": "percent",
                "target": line["band_below"] or "",
                "credit_percent": line["percent"],
                "currency": credits["currency"],
                "note": line["note"],
            }
        )
    writer.writerow(
        {
            "section": "credit_total",
            "item": "Before cap",
            "credit_percent": credits["uncapped_percent"],
            "currency": credits["currency"],
            "note": f"Cap {credits['cap_percent']} %",
        }
    )
    writer.writerow(
        {
            "section": "credit_due",
            "item": "Service credit due",
            "period_start": content["period_start"],
            "period_end": content["period_end"],
            "value": credits["monthly_fee"],
            "unit": credits["currency"],
            "credit_percent": credits["percent"],
            "credit_amount": credits["amount"],
            "currency": credits["currency"],
            "note": f"{credits['percent']} % of the monthly fee of "
            f"{money(credits['monthly_fee'], credits['currency'])}",
        }
    )
    writer.writerows(_experience_rows(report_experience(report)))
    return out.getvalue()


def _experience_rows(xp: Experience | None) -> list[dict[str, Any]]:
    """One ``experience`` row per CSAT/NPS figure (``value`` the figure, ``unit`` score,
    ``status`` its verdict, ``note`` the response count and "provisional until …"), one
    ``watermelon`` row (``status`` yes or no, ``note`` why), and one ``experience_comment``
    row per low answer shown (``note`` the customer's words, escaped like every cell)."""
    if xp is None:
        return []
    start, end = xp.period_start.isoformat(), xp.period_end.isoformat()
    rows: list[dict[str, Any]] = []
    for figure in xp.figures:
        note = figure.responses_text
        if figure.provisional and figure.closes_at:
            note += f"; provisional until {figure.closes_at:%Y-%m-%d}"
        rows.append(
            {
                "section": "experience",
                "item": figure.label,
                "period_start": start,
                "period_end": end,
                "value": "" if figure.value is None else round(figure.value, 2),
                "unit": "score",
                "target": figure.target,
                "threshold": figure.threshold,
                "status": figure.status,
                "note": note,
            }
        )
    below = "; ".join(f"{f.label} {f.value_text} ({f.goal_text})" for f in xp.below_threshold)
    rows.append(
        {
            "section": "watermelon",
            "item": "Every SLA target met, experience below its threshold",
            "period_start": start,
            "period_end": end,
            "status": "yes" if xp.watermelon else "no",
            "note": f"SLA targets met: {xp.sla_met}, not met: {xp.sla_not_met}, "
            f"without data: {xp.sla_no_data}" + (f"; below threshold: {below}" if below else ""),
        }
    )
    for comment in xp.comments:
        kind = (
            f"CSAT {comment.score}/5, ticket {comment.ticket}"
            if comment.kind == "csat"
            else f"NPS {comment.score}/10"
        )
        rows.append(
            {
                "section": "experience_comment",
                "item": kind,
                "period_start": comment.answered_at.isoformat(),
                "value": comment.score,
                "unit": "score",
                "note": comment.comment,
            }
        )
    return rows


def report_csv_bytes(report: Report) -> bytes:
    """The CSV file as downloaded and as attached to the report email: UTF-8 with a BOM."""
    return ("\ufeff" + report_csv_text(report)).encode()
