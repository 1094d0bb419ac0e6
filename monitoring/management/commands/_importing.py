"""What the import commands share: finding the source and printing the outcome."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sla_portal.core.models import Organisation

from ...imports import ImportRefused, ImportReport
from ...models import Source


def add_source_arguments(parser) -> None:
    parser.add_argument("path", help="The export file (plain, .zip or .gz).")
    parser.add_argument("--customer", required=True, help="Slug of the customer organisation.")
    parser.add_argument("--source", required=True, help="Name of the source (created if new).")
    parser.add_argument(
        "--skip-invalid-rows",
        action="store_true",
        help="Import although some rows cannot be read; each one is still listed.",
    )


def get_source(options: dict, kind: str, timezone: str = "") -> Source:
    try:
        customer = Organisation.objects.get(slug=options["customer"], kind="customer")
    except Organisation.DoesNotExist as exc:
        raise CommandError(
            f"No customer organisation with the slug {options['customer']!r}."
        ) from exc
    source, _ = Source.objects.get_or_create(
        customer=customer, name=options["source"], defaults={"kind": kind, "timezone": timezone}
    )
    return source


def run(command: BaseCommand, work) -> ImportReport:
    try:
        report = work()
    except ImportRefused as refused:
        for problem in refused.problems[:200]:
            command.stderr.write(f"  {problem}")
        if len(refused.problems) > 200:
            command.stderr.write(f"  ... and {len(refused.problems) - 200} more")
        raise CommandError(
            f"Nothing was imported: {len(refused.problems)} problem(s)."
        ) from refused
    for skipped in report.skipped:
        command.stdout.write(f"  skipped {skipped}")
    command.stdout.write(
        command.style.SUCCESS(
            f"Imported: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.skipped)} unreadable row(s) skipped."
        )
    )
    return report
