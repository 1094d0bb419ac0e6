"""``manage.py run_mailer``: the process that sends the portal's email (``core.mailer``)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from sla_portal.core.mailer import Mailer


class Command(BaseCommand):
    help = (
        "Send due email notifications until stopped (SIGTERM or Ctrl-C): woken by PostgreSQL "
        "NOTIFY, polling every MAILER_POLL_SECONDS, with MAILER_THREADS sender threads."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--threads", type=int, default=None, help="Sender threads (default MAILER_THREADS)."
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="Seconds between looks at the table (default MAILER_POLL_SECONDS).",
        )

    def handle(self, *args, threads: int | None, poll: float | None, **options) -> None:
        stop = threading.Event()

        def request_stop(*_args) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        Mailer(threads=threads, poll_seconds=poll).run(stop)
