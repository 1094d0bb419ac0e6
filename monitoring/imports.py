"""Importing export files: parse (pure, ``monitoring.importers``) then ingest (set-based,
``monitoring.ingest``), for management commands and (later) browser uploads alike.

A file imports whole or not at all: every batch of one file is written in one transaction, so
a refused row anywhere leaves nothing of the file behind. Rows the parser could not use are
listed with their line numbers; the import refuses to run with them unless the caller says
they may be skipped (``skip_invalid``), and then the report still names every one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from agreements.models import Service
from monitoring.importers import ChecksResult, ParseError, ParseResult
from monitoring.ingest import MAX_BATCH, IngestError, IngestResult, RowError
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import Source


class ImportRefused(Exception):
    """The file was not imported; ``problems`` says why, row by row."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")


Progress = Callable[[int, int], None]
"""Called with ``(rows written, rows to write)`` after each batch of the ingest."""


@dataclass
class ImportReport:
    """What an import wrote, what it could not read, and the parser's record accounting with
    every rule applied (``ParseResult.summary()``), as the command and the job page show it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[ParseError] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def add(self, result: IngestResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged

    @property
    def rule_lines(self) -> list[str]:
        """One line per rule applied: ``"412 tickets: resolved_at missing, ... (rule SN-R2)"``."""
        return [entry["line"] for entry in self.summary.get("rules", [])]

    @property
    def rows_line(self) -> str:
        """The record accounting in one line (empty before the parser counted anything)."""
        return rows_line(self.summary)


def rows_line(summary: Mapping[str, Any]) -> str:
    """``"Rows read 141712 = 88948 used + 52754 merged + 0 left out + 10 refused"``."""
    rows = summary.get("rows")
    if not rows:
        return ""
    return (
        f"Rows read {rows['read']} = {rows['used']} used + {rows['merged']} merged by a rule "
        f"+ {rows['skipped']} left out by a rule + {rows['refused']} refused (unreadable)"
    )


def _check_parse_errors(errors: list[ParseError], skip_invalid: bool) -> None:
    if errors and not skip_invalid:
        raise ImportRefused([str(error) for error in errors])


def _summary(parsed: ParseResult | ChecksResult) -> dict[str, Any]:
    return parsed.summary() if hasattr(parsed, "summary") else {}


def _row_problems(error: IngestError, offset: int, what: str = "row") -> list[str]:
    return [
        f"{what} {e.index + offset if e.index >= 0 else '(batch)'}: {e.field}: {e.reason}"
        for e in error.errors
    ]


def _batches(
    rows: Sequence[Mapping], size: int = MAX_BATCH
) -> Iterable[tuple[int, Sequence[Mapping]]]:
    for start in range(0, len(rows), size):
        yield start, rows[start : start + size]


def batch_size(total: int) -> int:
    """Batches small enough for about twenty progress steps, large enough to stay set-based."""
    return max(1_000, min(MAX_BATCH, -(-total // 20)))


def _ingest_batches(
    rows, ingest, parsed: ParseResult, what: str, progress: Progress | None = None
) -> ImportReport:
    """All batches in one transaction; any refused row rolls the whole file back."""
    report = ImportReport(skipped=list(parsed.errors), summary=_summary(parsed))
    problems: list[str] = []
    size = batch_size(len(rows))
    with transaction.atomic():
        for offset, batch in _batches(rows, size):
            try:
                report.add(ingest(batch))
            except IngestError as exc:
                problems += _row_problems(exc, offset, what)
            if progress is not None:
                progress(offset + len(batch), len(rows))
        if problems:
            transaction.set_rollback(True)
    if problems:
        raise ImportRefused(problems)
    return report


def import_tickets(
    source: Source,
    parsed: ParseResult,
    *,
    agreement: str = "",
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Ingest the tickets of a parsed export, optionally all under one agreement reference."""
    _check_parse_errors(parsed.errors, skip_invalid)
    rows = [{**row, "agreement": agreement} if agreement else row for row in parsed.rows]
    return _ingest_batches(
        rows, lambda batch: tickets_ingest(source, batch), parsed, "ticket", progress
    )


def import_checks(
    source: Source,
    parsed: ChecksResult,
    services: Mapping[str, Service],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Ingest checks per monitored key into the mapped service; every key must be mapped."""
    _check_parse_errors(parsed.errors, skip_invalid)
    unmapped = sorted(set(parsed.checks) - set(services))
    if unmapped:
        raise ImportRefused(
            [
                f"monitor {key!r} is not mapped to a service (map it with KEY=SERVICE)"
                for key in unmapped
            ]
        )
    report = ImportReport(skipped=list(parsed.errors), summary=_summary(parsed))
    problems: list[str] = []
    total, done = parsed.count, 0
    size = batch_size(total)
    with transaction.atomic():
        for key, rows in parsed.checks.items():
            for offset, batch in _batches(rows, size):
                try:
                    report.add(checks_ingest(source, services[key], batch))
                except IngestError as exc:
                    problems += [f"{key}: {p}" for p in _row_problems(exc, offset, "check")]
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        if problems:
            transaction.set_rollback(True)
    if problems:
        raise ImportRefused(problems)
    return report


def import_maintenance(
    source: Source,
    parsed: ParseResult,
    services: Mapping[str, str],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Ingest maintenance windows, renaming components to the portal's service names."""
    _check_parse_errors(parsed.errors, skip_invalid)
    unmapped = sorted({row["service"] for row in parsed.rows} - set(services))
    if unmapped:
        raise ImportRefused(
            [
                f"component {name!r} is not mapped to a service (map it with NAME=SERVICE)"
                for name in unmapped
            ]
        )
    rows = [{**row, "service": services[row["service"]]} for row in parsed.rows]
    return _ingest_batches(
        rows, lambda batch: maintenance_ingest(source, batch), parsed, "maintenance", progress
    )


__all__ = [
    "ImportRefused",
    "ImportReport",
    "RowError",
    "import_checks",
    "import_maintenance",
    "import_tickets",
    "rows_line",
]
