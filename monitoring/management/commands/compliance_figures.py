"""Print the per-target, per-period compliance of one agreement as a Markdown table.

Read-only: it shows the stored ``PeriodResult`` rows (what the evaluation engine computed and,
for closed periods, froze), so the figures are exactly the ones the pages and reports use.
For ticket time targets the table also shows how many tickets met and missed the target
among those decided in the period; the value is then the share that met it, compared with
the agreement's compliance target and threshold.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agreements.models import Agreement
from monitoring.format import percent
from monitoring.models import PeriodResult

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
HEADER = (
    "| Target | Period | Met | Missed | Value | Target | Threshold | Status | Closed |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
)


def _month(value: str | None, option: str) -> tuple[int, int] | None:
    if not value:
        return None
    match = MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise CommandError(f"{option} expects a month as YYYY-MM, not {value!r}.")
    return int(match.group(1)), int(match.group(2))


def period_label(period: str, start: datetime, end: datetime) -> tuple[str, tuple[int, int]]:
    """The period's name ("2016-03", "2016-Q1", "2016") and its (year, month) for filtering.

    Periods are stored as UTC instants of local midnights, so the start of a Berlin month is
    the evening before in UTC; the middle of the period is in the right month in any zone.
    """
    middle = start + (end - start) / 2
    month = (middle.year, middle.month)
    if period == "month":
        return f"{middle.year}-{middle.month:02d}", month
    if period == "quarter":
        return f"{middle.year}-Q{(middle.month - 1) // 3 + 1}", month
    return f"{middle.year}", month


def show_value(value: float | None, unit: str) -> str:
    """A period's value in its unit ("96.15 %", "800 ms", "3"); "–" when nothing was measured."""
    if value is None:
        return "–"
    if unit == "percent":
        return percent(value)
    if unit == "count":
        return f"{value:g}"
    return f"{value:g} {unit}"


def compliance_rows(
    agreement: Agreement,
    metric: str = "",
    first: tuple[int, int] | None = None,
    last: tuple[int, int] | None = None,
) -> list[str]:
    """The Markdown table lines (header included) of ``agreement``'s period results, ordered
    by target and period; optionally one metric and the periods between two months."""
    results = PeriodResult.objects.filter(agreement=agreement).order_by(
        "target_key", "period_start"
    )
    if metric:
        results = results.filter(metric=metric)
    lines = list(HEADER)
    for row in results:
        label, month = period_label(row.period, row.period_start, row.period_end)
        if (first and month < first) or (last and month > last):
            continue
        details = row.details or {}
        ticket_share = "met" in details and "missed" in details
        met = str(details["met"]) if ticket_share else "–"
        missed = str(details["missed"]) if ticket_share else "–"
        cells = [
            row.target_label,
            label,
            met,
            missed,
            show_value(row.value, row.value_unit),
            show_value(row.goal_target, row.value_unit),
            show_value(row.goal_threshold, row.value_unit),
            row.get_status_display(),
            "yes" if row.is_closed else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


class Command(BaseCommand):
    help = "Print an agreement's compliance per target and period as a Markdown table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="The agreement's reference, e.g. SLA-2026-0001.")
        parser.add_argument(
            "--metric", default="", help="Only this metric (response_time, availability, ...)."
        )
        parser.add_argument("--from", dest="first", default="", help="First month, YYYY-MM.")
        parser.add_argument("--to", dest="last", default="", help="Last month, YYYY-MM.")

    def handle(self, *args, **options) -> None:
        try:
            agreement = Agreement.objects.get(reference=options["reference"])
        except Agreement.DoesNotExist as exc:
            reference = options["reference"]
            raise CommandError(f"No agreement with the reference {reference!r}.") from exc
        first = _month(options["first"], "--from")
        last = _month(options["last"], "--to")
        lines = compliance_rows(agreement, options["metric"], first, last)
        if len(lines) == len(HEADER):
            self.stderr.write(
                "No period results: the agreement has not been evaluated for these periods."
            )
        self.stdout.write("\n".join(lines))
