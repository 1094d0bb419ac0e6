from django.core.management.base import BaseCommand, CommandError

from agreements.models import Service

from ...importers import healthcheck, upptime, uptime_kuma
from ...imports import import_checks
from ._importing import add_source_arguments, get_source, run

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
        with open(options["path"], "rb") as stream:
            if kind == "uptime_kuma":
                if not options["monitors"]:
                    raise CommandError("Uptime Kuma needs --monitors monitor.csv.")
                with open(options["monitors"], "rb") as monitors:
                    parsed = uptime_kuma.parse_heartbeats(stream, monitors)
            elif kind == "healthcheck":
                parsed = healthcheck.parse_checks(stream)
            else:
                parsed = upptime.parse_status_changes(stream)
        self.stdout.write(f"Read {parsed.count} checks of {len(parsed.checks)} monitor(s).")
        source = get_source(options, KINDS[kind], "UTC")
        run(
            self,
            lambda: import_checks(
                source, parsed, mapping, skip_invalid=options["skip_invalid_rows"]
            ),
        )
