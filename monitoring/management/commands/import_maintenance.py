from django.core.management.base import BaseCommand, CommandError

from monitoring.importers.statuspage import parse_maintenances
from monitoring.imports import import_maintenance
from monitoring.management.commands._importing import (
    add_source_arguments,
    customer_of,
    get_source,
    parse,
    print_summary,
    run,
)


class Command(BaseCommand):
    help = "Import scheduled maintenance windows of a status page."

    def add_arguments(self, parser) -> None:
        add_source_arguments(parser)
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COMPONENT=SERVICE",
            help="Which portal service a status-page component is (repeat per component).",
        )
        parser.add_argument("--default-component", help="Component of maintenances that list none.")

    def handle(self, *args, **options) -> None:
        customer_of(options)
        mapping = {}
        for item in options["map"]:
            key, sep, name = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes COMPONENT=SERVICE, not {item!r}.")
            mapping[key] = name
        parsed = parse(
            lambda: parse_maintenances(
                options["path"], default_service=options["default_component"]
            )
        )
        self.stdout.write(f"Read {len(parsed.rows)} maintenance windows.")
        print_summary(self, parsed)
        run(
            self,
            lambda source: import_maintenance(
                source, parsed, mapping, skip_invalid=options["skip_invalid_rows"]
            ),
            lambda: get_source(options, "statuspage", "UTC"),
        )
