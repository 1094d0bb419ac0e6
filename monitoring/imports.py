"""Importing export files: parse (pure, ``monitoring.importers``) then ingest (set-based,
``monitoring.ingest``), for management commands and (later) browser uploads alike.

A file imports whole or not at all: every batch of one file is written in one transaction, so
a refused row anywhere leaves nothing of the file behind. Rows the parser could not use are
listed with their line numbers; the import refuses to run with them unless the caller says
they may be skipped (``skip_invalid``), and then the report still names every one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from agreements.models import Service

from .importers import ChecksResult, ParseError, ParseResult
from .ingest import MAX_BATCH, IngestError, IngestResult, RowError
from .ingest.tickets import tickets_ingest
from .ingest.uptime import checks_ingest, maintenance_ingest
from .models import Source


class ImportRefused(Exception):
    """The file was not imported; ``problems`` says why, row by row."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[ParseError] = field(default_factory=list)

    def add(self, result: IngestResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged


def _check_parse_errors(errors: list[ParseError], skip_invalid: bool) -> None:
    if errors and not skip_invalid:
        raise ImportRefused([str(error) for error in errors])


def _row_problems(error: IngestError, offset: int, what: str = "row") -> list[str]:
    return [
        f"{what} {e.index + offset if e.index >= 0 else '(batch)'}: {e.field}: {e.reason}"
        for e in error.errors
    ]


def _batches(rows: Sequence[Mapping]) -> Iterable[tuple[int, Sequence[Mapping]]]:
    for start in range(0, len(rows), MAX_BATCH):
        yield start, rows[start : start + MAX_BATCH]


def _ingest_batches(rows, ingest, parsed: ParseResult, what: str) -> ImportReport:
    """All batches in one transaction; any refused row rolls the whole file back."""
    report = ImportReport(skipped=list(parsed.errors))
    problems: list[str] = []
    with transaction.atomic():
        for offset, batch in _batches(rows):
            try:
                report.add(ingest(batch))
            except IngestError as exc:
                problems += _row_problems(exc, offset, what)
        if problems:
            transaction.set_rollback(True)
    if problems:
        raise ImportRefused(problems)
    return report


def import_tickets(
    source: Source, parsed: ParseResult, *, agreement: str = "", skip_invalid: bool = False
) -> ImportReport:
    """Ingest the tickets of a parsed export, optionally all under one agreement reference."""
    _check_parse_errors(parsed.errors, skip_invalid)
    rows = [{**row, "agreement": agreement} if agreement else row for row in parsed.rows]
    return _ingest_batches(rows, lambda batch: tickets_ingest(source, batch), parsed, "ticket")


def import_checks(
    source: Source,
    parsed: ChecksResult,
    services: Mapping[str, Service],
    *,
    skip_invalid: bool = False,
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
    report = ImportReport(skipped=list(parsed.errors))
    problems: list[str] = []
    with transaction.atomic():
        for key, rows in parsed.checks.items():
            for offset, batch in _batches(rows):
                try:
                    report.add(checks_ingest(source, services[key], batch))
                except IngestError as exc:
                    problems += [f"{key}: {p}" for p in _row_problems(exc, offset, "check")]
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
        rows, lambda batch: maintenance_ingest(source, batch), parsed, "maintenance"
    )


__all__ = [
    "ImportRefused",
    "ImportReport",
    "RowError",
    "import_checks",
    "import_maintenance",
    "import_tickets",
]
