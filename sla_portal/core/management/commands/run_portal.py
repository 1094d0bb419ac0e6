"""Run the portal's processes together, as a small supervisor: the web server, a Celery
worker, the Celery beat scheduler, the deadline loop (``run_deadlines``) and the mailer
(``run_mailer``).

Each runs as a real separate process. One that dies is started again with a back-off and
said so ("worker exited with -9; restarting in 1 s", ``sla_portal.core.supervisor``);
Ctrl-C (or SIGTERM) stops all of them.

The terminal stays quiet unless something is wrong: the worker, the scheduler and the loops
log at WARNING (the deadline loop ticks every second, and a line per tick buried everything
else), the web server logs only server errors, and the banners are off. The address and the
demo logins are printed last, once the web server answers, the worker has run a task, the
scheduler has loaded its schedule and the loops have written their heartbeats.
``--verbose`` (or ``LOG_LEVEL=INFO``) brings back every line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from django.utils import timezone

from sla_portal.core.demo import DEMO_PASSWORD, DEMO_USERS
from sla_portal.core.supervisor import ChildSpec, Supervisor

# How long the processes get to come up before the address is printed anyway, with a
# warning naming the one that did not.
STARTUP_TIMEOUT_SECONDS = 90


class Command(BaseCommand):
    help = "Run web server, Celery worker, beat, deadline loop and mailer until interrupted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--gunicorn", action="store_true", help="Serve with gunicorn instead of runserver."
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Log every request and every task (as LOG_LEVEL=INFO does).",
        )

    def handle(self, *args, host: str, port: str, gunicorn: bool, verbose: bool, **options) -> None:
        verbose = verbose or os.environ.get("LOG_LEVEL", "").upper() in {"INFO", "DEBUG"}
        env = dict(os.environ)
        if not verbose:
            # Read by settings.LOGGING in each child: routine lines (a request served, a tick
            # run) stay out of the terminal; warnings and errors, with tracebacks, come through.
            env.setdefault("LOG_LEVEL", "WARNING")
            env.setdefault("REQUEST_LOG_LEVEL", "ERROR")
            env.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
        children = portal_children(host, port, gunicorn=gunicorn, verbose=verbose)
        started = timezone.now()
        supervisor = Supervisor(children, env, say=self._say)
        supervisor.start()

        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            names = [child.name for child in children]
            not_up = self._wait_until_up(host, port, started, supervisor, names, lambda: stopping)
            if not stopping:
                self._announce(host, port, not_up=not_up, verbose=verbose)
            while not stopping:
                supervisor.poll()
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping every process...")
            supervisor.stop()
            self.stdout.write("Stopped.")

    def _say(self, line: str) -> None:
        self.stderr.write(line)
        self.stderr.flush()

    def _wait_until_up(
        self,
        host: str,
        port: str,
        started: datetime,
        supervisor: Supervisor,
        names: list[str],
        stopping: Callable[[], bool],
    ) -> list[str]:
        """Wait (restarting what dies meanwhile) until every process is up or the timeout;
        return the names of those that are not."""
        checks: dict[str, Callable[[], bool]] = {
            "web server": lambda: _accepts_connections(host, port),
            "worker": lambda: _worker_ran_since(started),
            "scheduler": lambda: _schedule_loaded_since(started),
            "deadline loop": lambda: _heartbeat_since("deadlines", started),
        }
        if "mailer" in names:
            checks["mailer"] = lambda: _heartbeat_since("mailer", started)
        waiting = dict(checks)
        # The worker proves itself by running a task; the scheduler sends one only every
        # 15 s, so ask for one now.
        _request_heartbeat()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while waiting and time.monotonic() < deadline and not stopping():
            supervisor.poll()
            for name, check in list(waiting.items()):
                if check():
                    del waiting[name]
            time.sleep(0.3)
        connections.close_all()
        return list(waiting)

    def _announce(self, host: str, port: str, not_up: list[str], verbose: bool) -> None:
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        url = f"http://{host}:{port}/"
        lines = ["", "=" * 72]
        for name in not_up:
            lines.append(
                f"WARNING: the {name} has not come up within {STARTUP_TIMEOUT_SECONDS} s; "
                "see the messages above."
            )
        lines += [
            f"  database: {database}; broker: {broker}; email: {settings.EMAIL_BACKEND}",
            f"  health: {url}healthz   API docs: {url}api/docs/",
        ]
        if settings.DEMO_MODE:
            lines.append(f"  Demo logins, all with the password {DEMO_PASSWORD}:")
            lines += [f"    {username:<16} {role.label}" for username, _o, role, *_r in DEMO_USERS]
        if not verbose:
            lines.append("  Quiet: only warnings and errors appear below (--verbose for all).")
        lines += [
            "",
            f"  SLA Portal is running on {url}",
            "  Press Ctrl-C to stop every process.",
            "=" * 72,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def portal_children(host: str, port: str, *, gunicorn: bool, verbose: bool) -> list[ChildSpec]:
    """The processes of the portal, in start order."""
    python = sys.executable
    level = "info" if verbose else "warning"
    web_output = None
    if gunicorn:
        web = [python, "-m", "gunicorn", "sla_portal.wsgi", "-b", f"{host}:{port}", "-w", "2"]
        web += ["--log-level", level]
    else:
        # run_portal has run the system checks already (and shows their warnings).
        web = [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]
        if not verbose:
            web.append("--skip-checks")
            # runserver's stdout is only its start-up notice; errors (a port in use, a
            # traceback) go to stderr, which stays on the terminal.
            web_output = subprocess.DEVNULL
    celery = [python, "-m", "celery", "-A", "sla_portal"]
    if not verbose:
        celery.append("--quiet")  # no banners
    children = [
        ChildSpec("web", web, stdout=web_output),
        ChildSpec("worker", [*celery, "worker", "-l", level, "-c", "2", "-n", "portal-worker@%h"]),
        ChildSpec("beat", [*celery, "beat", "-l", level, "--pidfile", ""]),
        # Deadlines from the database alone, every second (monitoring.evaluation.loop).
        ChildSpec("deadlines", [python, "manage.py", "run_deadlines"]),
        # Email from its own process, the only one that sends (sla_portal.core.mailer).
        ChildSpec("mailer", [python, "manage.py", "run_mailer"]),
    ]
    return children


def _heartbeat_since(name: str, started: datetime) -> bool:
    from sla_portal.core.models import WorkerHeartbeat

    try:
        return WorkerHeartbeat.objects.filter(name=name, beat_at__gte=started).exists()
    except Exception:
        return False


def _accepts_connections(host: str, port: str) -> bool:
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _worker_ran_since(started: datetime) -> bool:
    from sla_portal.core.health import HEARTBEAT_NAME
    from sla_portal.core.models import WorkerHeartbeat

    try:
        return WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME, beat_at__gte=started).exists()
    except Exception:
        return False


def _schedule_loaded_since(started: datetime) -> bool:
    """The scheduler writes every periodic task into its tables when it starts."""
    from django_celery_beat.models import PeriodicTasks

    try:
        last_change = PeriodicTasks.last_change()
    except Exception:
        return False
    return last_change is not None and last_change >= started


def _request_heartbeat() -> None:
    from sla_portal.celery import app

    # When this fails, the scheduler sends one within 15 s: the worker still proves itself.
    with contextlib.suppress(Exception):
        app.send_task("core.heartbeat", retry=False)
