"""Start the web server, a Celery worker and the Celery beat scheduler together.

Each runs as a real separate process; Ctrl-C (or SIGTERM) stops all of them. If any one of
them exits, the others are stopped too, so a half-running portal never goes unnoticed.

The terminal stays quiet unless something is wrong: the worker and the scheduler log at
WARNING (the deadline loop ticks every second, and a line per tick buried everything else),
the web server logs only server errors, and the banners are off. The address and the demo
logins are printed last, once the web server answers, the worker has run a task and the
scheduler has loaded its schedule. ``--verbose`` (or ``LOG_LEVEL=INFO``) brings back every
line.
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

# How long the processes get to come up before the address is printed anyway, with a
# warning naming the one that did not.
STARTUP_TIMEOUT_SECONDS = 90


class Command(BaseCommand):
    help = "Run web server, Celery worker and Celery beat until interrupted."

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
        level = "info" if verbose else "warning"
        env = dict(os.environ)
        if not verbose:
            # Read by settings.LOGGING in each child: routine lines (a request served, a tick
            # run) stay out of the terminal; warnings and errors, with tracebacks, come through.
            env.setdefault("LOG_LEVEL", "WARNING")
            env.setdefault("REQUEST_LOG_LEVEL", "ERROR")
            env.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
        python = sys.executable
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
        commands = {
            "web": web,
            "worker": [*celery, "worker", "-l", level, "-c", "2", "-n", "portal-worker@%h"],
            "beat": [*celery, "beat", "-l", level, "--pidfile", ""],
        }
        started = timezone.now()
        processes: dict[str, subprocess.Popen] = {}
        for name, command in commands.items():
            # Own process group each, so one signal reaches a process and its children.
            processes[name] = subprocess.Popen(
                command,
                env=env,
                start_new_session=True,
                stdout=web_output if name == "web" else None,
            )

        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            failed = self._wait_until_up(host, port, started, processes, lambda: stopping, verbose)
            if failed is not None:
                exit_code, stopping = failed, True
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

    def _wait_until_up(
        self,
        host: str,
        port: str,
        started: datetime,
        processes: dict[str, subprocess.Popen],
        stopping: Callable[[], bool],
        verbose: bool,
    ) -> int | None:
        """Wait for the three to be up, then print the address and logins.

        Returns an exit code when a process died or Ctrl-C came first, else None.
        """
        checks: dict[str, Callable[[], bool]] = {
            "web server": lambda: _accepts_connections(host, port),
            "worker": lambda: _worker_ran_since(started),
            "scheduler": lambda: _schedule_loaded_since(started),
        }
        waiting = dict(checks)
        # The worker proves itself by running a task; the scheduler sends one only every
        # 15 s, so ask for one now.
        _request_heartbeat()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while waiting and time.monotonic() < deadline:
            if stopping():
                return 0
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                    return process.returncode or 1
            for name, check in list(waiting.items()):
                if check():
                    del waiting[name]
            time.sleep(0.3)
        connections.close_all()
        self._announce(host, port, not_up=list(waiting), verbose=verbose)
        return None

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
            "  Press Ctrl-C to stop the web server, the worker and the scheduler.",
            "=" * 72,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


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
