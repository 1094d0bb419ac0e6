"""What the import commands share: reading the file, finding the source, printing the outcome.

Every failure is one ``CommandError`` line (exit status 1, no traceback), and nothing is
written by a failed import: the source is created inside the import's transaction, so a
refused file does not leave an empty source behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitoring.importers import ImportOptionError
from monitoring.importers.common import Accounting
from monitoring.imports import ImportRefused, ImportReport, rows_line
from monitoring.models import Source
from sla_portal.core.models import Organisation

T = TypeVar("T")


def add_source_arguments(parser) -> None:
    parser.add_argument("path", help="The export file (plain, .zip or .gz).")
    parser.add_argument("--customer", required=True, help="Slug of the customer organisation.")
    parser.add_argument("--source", required=True, help="Name of the source (created if new).")
    parser.add_argument(
        "--skip-invalid-rows",
        action="store_true",
        help="Import although some rows cannot be read; each one is still listed.",
    )


def parse(read: Callable[[], T]) -> T:
    """Run a parser; an unreadable file or a wrong option becomes one clear CommandError."""
    try:
        return read()
    except ImportOptionError as exc:
        raise CommandError(f"Nothing was imported: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise CommandError(f"Nothing was imported: cannot read the file ({reason}).") from None


def customer_of(options: dict) -> Organisation:
    try:
        return Organisation.objects.get(slug=options["customer"], kind="customer")
    except Organisation.DoesNotExist:
        raise CommandError(
            f"No customer organisation with the slug {options['customer']!r}."
        ) from None


def get_source(options: dict, kind: str, timezone: str = "") -> Source:
    """The named source of the customer, created if new (call it inside the import's
    transaction, see ``run``, so a refused import does not keep a new empty source)."""
    source, _ = Source.objects.get_or_create(
        customer=customer_of(options),
        name=options["source"],
        defaults={"kind": kind, "timezone": timezone},
    )
    return source


def print_summary(command: BaseCommand, parsed: Accounting) -> None:
    """The record accounting and every rule applied, one line each; printed after parsing,
    so a refused import shows them as well as an imported one."""
    summary = parsed.summary()
    command.stdout.write(rows_line(summary))
    if summary["rules"]:
        command.stdout.write("Rows reinterpreted, merged or left out by a rule:")
        for entry in summary["rules"]:
            command.stdout.write(f"  {entry['line']}")


def run(
    command: BaseCommand, work: Callable[[Source], ImportReport], source: Callable[[], Source]
) -> ImportReport:
    """Get (or create) the source and import in one transaction; print the outcome."""
    try:
        with transaction.atomic():
            report = work(source())
    except ImportRefused as refused:
        for problem in refused.problems[:200]:
            command.stderr.write(f"  {problem}")
        if len(refused.problems) > 200:
            command.stderr.write(f"  ... and {len(refused.problems) - 200} more")
        raise CommandError(f"Nothing was imported: {len(refused.problems)} problem(s).") from None
    for skipped in report.skipped:
        command.stdout.write(f"  skipped {skipped}")
    command.stdout.write(
        command.style.SUCCESS(
            f"Imported: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.skipped)} unreadable row(s) skipped."
        )
    )
    return report
