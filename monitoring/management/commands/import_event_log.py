from django.core.management.base import BaseCommand, CommandError

from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.imports import import_tickets
from monitoring.management.commands._importing import (
    add_source_arguments,
    parse,
    print_summary,
    run,
)
from monitoring.models import Source
from monitoring.models.imports import ColumnMapping


def _existing_source(options: dict) -> Source:
    """The source must exist: its saved mapping is what says how to read the file."""
    source = Source.objects.filter(
        customer__slug=options["customer"], customer__kind="customer", name=options["source"]
    ).first()
    if source is None:
        raise CommandError(
            f"No source {options['source']!r} of the customer {options['customer']!r}: create "
            "it and save an event-log mapping for it in the browser first."
        )
    return source


class Command(BaseCommand):
    help = (
        "Import an event log (one row per state change: a Jira changelog, a Zammad history) as "
        "tickets with their status history, using an event-log mapping saved for the source."
    )

    def add_arguments(self, parser) -> None:
        add_source_arguments(parser)
        parser.add_argument(
            "--mapping",
            required=True,
            help="Name of an event-log mapping saved for the source (Imports → Event log).",
        )
        parser.add_argument(
            "--timezone", default="", help="Zone of naive timestamps (default: the mapping's)."
        )
        parser.add_argument(
            "--date-format",
            choices=gc.DATE_FORMATS,
            default="",
            help="How dates are written (default: the mapping's).",
        )
        parser.add_argument("--agreement", default="", help="Reference of the agreement.")

    def handle(self, *args, **options) -> None:
        source = _existing_source(options)
        saved = (
            ColumnMapping.objects.filter(source=source, name=options["mapping"])
            .filter(mapping__has_key=el.STATES_KEY)
            .first()
        )
        if saved is None:
            names = ColumnMapping.objects.filter(
                source=source, mapping__has_key=el.STATES_KEY
            ).values_list("name", flat=True)
            raise CommandError(
                f"No event-log mapping {options['mapping']!r} for the source {source.name!r}"
                f" (saved ones: {', '.join(map(repr, names)) or 'none'})."
            )
        timezone = options["timezone"] or saved.timezone or source.timezone or None
        parsed = parse(
            lambda: el.parse_event_log(
                options["path"],
                saved.mapping,
                saved.mapping[el.STATES_KEY],
                date_format=options["date_format"] or saved.date_format,
                timezone=timezone,
            )
        )
        if parsed.needs_timezone:
            raise CommandError(
                "The file has timestamps without a time zone and neither --timezone, the "
                "mapping nor the source says which: pass --timezone Area/City."
            )
        if parsed.unmapped:
            self.stderr.write(
                "States not in the mapping (add them to the mapping in the browser): "
                + ", ".join(map(repr, parsed.unmapped))
            )
        self.stdout.write(
            f"Read {parsed.records} events of {parsed.tickets} tickets: {len(parsed.rows)} "
            f"tickets folded, {parsed.problem_tickets} with problem rows "
            f"({len(parsed.errors)} problem(s))."
        )
        print_summary(self, parsed)
        run(
            self,
            lambda existing: import_tickets(
                existing, parsed, agreement=options["agreement"],
                skip_invalid=options["skip_invalid_rows"],
            ),
            lambda: source,
        )  # fmt: skip
