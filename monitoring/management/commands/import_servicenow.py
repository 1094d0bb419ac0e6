from django.core.management.base import BaseCommand

from monitoring.importers.servicenow import parse_incident_log
from monitoring.imports import import_tickets
from monitoring.management.commands._importing import (
    add_source_arguments,
    customer_of,
    get_source,
    parse,
    print_summary,
    run,
)


class Command(BaseCommand):
    help = "Import a ServiceNow incident event log (one row per state change) as tickets."

    def add_arguments(self, parser) -> None:
        add_source_arguments(parser)
        parser.add_argument(
            "--timezone", required=True, help="IANA zone of the export's naive timestamps."
        )
        parser.add_argument("--month-first", action="store_true", help="Dates are M/D/Y.")
        parser.add_argument("--agreement", default="", help="Reference of the agreement.")

    def handle(self, *args, **options) -> None:
        customer_of(options)
        parsed = parse(
            lambda: parse_incident_log(
                options["path"], timezone=options["timezone"], dayfirst=not options["month_first"]
            )
        )
        self.stdout.write(
            f"Read {len(parsed.rows)} tickets, {len(parsed.errors)} unreadable row(s)."
        )
        print_summary(self, parsed)
        run(
            self,
            lambda source: import_tickets(
                source, parsed, agreement=options["agreement"],
                skip_invalid=options["skip_invalid_rows"],
            ),
            lambda: get_source(options, "servicenow", options["timezone"]),
        )  # fmt: skip
