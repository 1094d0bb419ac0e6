"""Start the web server, a Celery worker and the Celery beat scheduler together.

Each runs as a real separate process; Ctrl-C (or SIGTERM) stops all of them. If any one of
them exits, the others are stopped too, so a half-running portal never goes unnoticed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from sla_portal.core.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Run web server, Celery worker and Celery beat until interrupted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--gunicorn", action="store_true", help="Serve with gunicorn instead of runserver."
        )

    def handle(self, *args, host: str, port: str, gunicorn: bool, **options) -> None:
        python = sys.executable
        if gunicorn:
            web = [python, "-m", "gunicorn", "sla_portal.wsgi", "-b", f"{host}:{port}", "-w", "2"]
        else:
            web = [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]
        commands = {
            "web": web,
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "sla_portal",
                "worker",
                "-l",
                "info",
                "--concurrency",
                "2",
                "-n",
                "portal-worker@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "sla_portal",
                "beat",
                "-l",
                "info",
                "--pidfile",
                "",
            ],
        }
        processes: dict[str, subprocess.Popen] = {}
        for name, command in commands.items():
            # Own process group each, so one signal reaches a process and its children.
            processes[name] = subprocess.Popen(command, start_new_session=True)
        self._announce(host, port)

        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        exit_code = process.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping web server, worker and scheduler...")
            for process in processes.values():
                if process.poll() is None:
                    # The main process only: Celery then stops its own pool children warmly.
                    process.terminate()
            deadline = time.monotonic() + 15
            for process in processes.values():
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _announce(self, host: str, port: str) -> None:
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        lines = [
            "",
            f"SLA Portal is starting on http://{host}:{port}/",
            f"  database: {database}; broker: {broker}; email: {settings.EMAIL_BACKEND}",
            f"  health: http://{host}:{port}/healthz   API docs: http://{host}:{port}/api/docs/",
        ]
        if settings.DEMO_MODE:
            lines.append(f"  demo logins (password {DEMO_PASSWORD}):")
            lines += [f"    {username:<16} {role.label}" for username, _o, role, *_r in DEMO_USERS]
        lines.append("Press Ctrl-C to stop all of them.\n")
        self.stdout.write("\n".join(lines))
