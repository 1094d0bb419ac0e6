from django.core.management.base import BaseCommand, CommandError

from agreements.models import Service
from monitoring.importers import healthcheck, upptime, uptime_kuma
from monitoring.imports import import_checks
from monitoring.management.commands._importing import (
    add_source_arguments,
    customer_of,
    get_source,
    parse,
    print_summary,
    run,
)

KINDS = {"uptime_kuma": "uptime_kuma", "healthcheck": "healthcheck", "upptime": "upptime"}


class Command(BaseCommand):
    help = "Import uptime checks (Uptime Kuma heartbeats, a health-check log, Upptime history)."

    def add_arguments(self, parser) -> None:
        add_source_arguments(parser)
        parser.add_argument("--format", required=True, choices=sorted(KINDS))
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="KEY=SERVICE",
            help="Which portal service a monitor, endpoint or site is (repeat per key).",
        )
        parser.add_argument("--monitors", help="Uptime Kuma: the monitor.csv beside heartbeat.csv.")

    def handle(self, *args, **options) -> None:
        customer_of(options)
        mapping = {}
        for item in options["map"]:
            key, sep, name = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes KEY=SERVICE, not {item!r}.")
            try:
                mapping[key] = Service.objects.get(name=name)
            except Service.DoesNotExist as exc:
                raise CommandError(f"No service named {name!r}.") from exc
        kind = options["format"]
        path = options["path"]
        if kind == "uptime_kuma":
            if not options["monitors"]:
                raise CommandError("Uptime Kuma needs --monitors monitor.csv.")
            parsed = parse(lambda: uptime_kuma.parse_heartbeats(path, options["monitors"]))
        elif kind == "healthcheck":
            parsed = parse(lambda: healthcheck.parse_checks(path))
        else:
            parsed = parse(lambda: upptime.parse_status_changes(path))
        self.stdout.write(f"Read {parsed.count} checks of {len(parsed.checks)} monitor(s).")
        print_summary(self, parsed)
        run(
            self,
            lambda source: import_checks(
                source, parsed, mapping, skip_invalid=options["skip_invalid_rows"]
            ),
            lambda: get_source(options, KINDS[kind], "UTC"),
        )
