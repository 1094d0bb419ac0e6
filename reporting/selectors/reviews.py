"""Reports over a review period: the agreement's review page compares the issued reports of
the months it covers, target by target."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from agreements.models import Agreement
from monitoring.models import Status
from reporting.models import Report


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
            month__gte=first_day.replace(day=1),
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
