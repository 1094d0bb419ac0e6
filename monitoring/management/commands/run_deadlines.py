"""Run the deadline loop (``monitoring.evaluation.loop``) until SIGTERM or Ctrl-C.

It needs only the database: no broker, no Celery worker. Any number may run at once (each
claim is a conditional UPDATE), so a second one on another host is a spare, not a risk.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser

from monitoring.evaluation.loop import DeadlineLoop


class Command(BaseCommand):
    help = "Claim due deadlines and raise their alerts, every second, until stopped."
    # Starts while the database is down too (the loop waits for it), so no checks that
    # could stop it first; the web server and `check --deploy` run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between ticks (default 1)."
        )

    def handle(self, *args, interval: float, **options) -> None:
        stop = threading.Event()

        def request_stop(*_args) -> None:
            stop.set()

        # The tick under way finishes (it is bounded), then the loop returns.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        DeadlineLoop(stop, interval=interval).run()
