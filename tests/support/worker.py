"""A real Celery worker in its own process, on the test database and the configured broker."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database the tests run on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


class WorkerProcess:
    """``celery worker`` (solo pool) consuming one queue, logging to ``log_path``."""

    name = "worker"

    def __init__(self, queue: str, log_path: Path) -> None:
        self.queue = queue
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": test_database_url(),
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "CELERY_QUEUE": self.queue,
                "DB_CONN_MAX_AGE": "0",
                "DEBUG": "1",
            }
        )
        if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
            env["EMAIL_HOST"] = settings.EMAIL_HOST
            env["EMAIL_PORT"] = str(settings.EMAIL_PORT)
        return env

    # What the process logs once it is up (only output after the latest start counts).
    ready_marker = b"ready."

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sla_portal",
            "worker",
            "--pool",
            "solo",
            "-l",
            "info",
            "-Q",
            self.queue,
            "-n",
            f"test-{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
        ]

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it (``wait_ready`` does): processes launched
        together boot in parallel, and booting the app takes seconds."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the process's life)
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            # Only this start's output counts: a restart appends to the same log.
            if self.ready_marker in self.log_path.read_bytes()[self._log_offset :]:
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} not ready in {timeout}s: {self.log_path.read_text()[-3000:]}"
        )

    def stop(self, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


class BeatProcess(WorkerProcess):
    """``celery beat`` with the production scheduler (django-celery-beat's DatabaseScheduler as
    ``sla_portal.core.broker_reconnect`` extends it, on the test database), sending every
    periodic task to ``queue``.

    The schedule is ``CELERY_BEAT_SCHEDULE``, copied into the test database's tables when beat
    starts. Beat sends to the default queue, which ``CELERY_QUEUE`` sets in the settings, so a
    worker on the same queue runs the periodic jobs and no other run's worker sees them.
    """

    name = "beat"
    # Beat is up once it has sent its first periodic task.
    ready_marker = b"Scheduler: Sending due task"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sla_portal",
            "beat",
            "-l",
            "info",
            # The production scheduler: django-celery-beat's, reconnecting every second.
            "--scheduler",
            "sla_portal.core.broker_reconnect:DatabaseScheduler",
        ]


class DeadlinesProcess(WorkerProcess):
    """``manage.py run_deadlines``: the deadline loop, on the test database. It needs no
    broker; ``queue`` only names its log beside the others of the test."""

    name = "deadlines"
    ready_marker = b"deadline loop started"

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "run_deadlines"]

    def env(self) -> dict[str, str]:
        env = super().env()
        # Its "loop started" line is at INFO; a run with LOG_LEVEL=WARNING would hide it.
        env["LOG_LEVEL"] = "INFO"
        return env


@pytest.fixture(scope="session")
def celery_queue() -> str:
    """A queue of this test run's own, so parallel runs on one Redis never share tasks."""
    return f"sla-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup, django_db_blocker, celery_queue, tmp_path_factory
) -> Iterator[WorkerProcess]:
    """A real worker process; the tests' tasks are routed to its queue."""
    from sla_portal.celery import app

    app.conf.task_default_queue = celery_queue
    worker = WorkerProcess(celery_queue, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@contextlib.contextmanager
def own_queue() -> Iterator[str]:
    """A fresh queue that this process's tasks go to until the block ends; purged after."""
    from sla_portal.celery import app

    queue = f"sla-test-{uuid.uuid4().hex[:8]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = previous_queue
        # Whatever the test left queued would otherwise stay on the broker for good: no
        # worker ever listens to this queue again.
        with contextlib.suppress(Exception), app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def celery_worker(request, django_db_setup, tmp_path) -> Iterator[WorkerProcess]:
    """A fresh worker process for one test, on a queue of its own, stopped after the test.

    When the test also uses ``smtp_server``, that starts first, so the worker is handed the
    server's port. The queue of its own keeps the session's ``celery_worker_process`` (which
    knows no SMTP server) from taking this test's tasks.
    """
    if "smtp_server" in request.fixturenames:
        request.getfixturevalue("smtp_server")
    with own_queue() as queue:
        worker = WorkerProcess(queue, tmp_path / f"worker-{queue}.log")
        try:
            worker.start()
            yield worker
        finally:
            worker.stop()


class WorkerAndBeat:
    """A worker, a beat on one queue and the deadline loop: the background processes as in
    production."""

    def __init__(self, queue: str, log_dir: Path) -> None:
        self.queue = queue
        self.worker = WorkerProcess(queue, log_dir / f"worker-{queue}.log")
        self.beat = BeatProcess(queue, log_dir / f"beat-{queue}.log")
        self.deadlines = DeadlinesProcess(queue, log_dir / f"deadlines-{queue}.log")
        # How long the last start took: booting the app takes seconds, more on a busy machine.
        self.boot_seconds = 0.0

    def start(self) -> None:
        """Start all three, booting in parallel; return once the worker consumes, beat sends
        and the deadline loop runs."""
        started = time.monotonic()
        for process in (self.worker, self.beat, self.deadlines):
            process.launch()
        for process in (self.worker, self.beat, self.deadlines):
            process.wait_ready()
        self.boot_seconds = time.monotonic() - started

    def stop(self, kill: bool = False) -> None:
        """Stop beat first (nothing new is scheduled), then the deadline loop and the worker;
        ``kill``: SIGKILL."""
        self.beat.stop(kill=kill)
        self.deadlines.stop(kill=kill)
        self.worker.stop(kill=kill)


@pytest.fixture
def celery_worker_and_beat(request, django_db_setup, tmp_path) -> Iterator[WorkerAndBeat]:
    """A worker and ``celery beat`` (DatabaseScheduler) of one test, on a queue of its own,
    and the deadline loop (``run_deadlines``).

    Beat reads ``CELERY_BEAT_SCHEDULE`` into the test database and sends every periodic task
    (the notification sweep, the period evaluation …) to this test's queue; the deadline loop
    claims due timers every second. Needs ``django_db(transaction=True)``: the processes read
    what the test commits. As with
    ``celery_worker``, a requested ``smtp_server`` starts first.
    """
    if "smtp_server" in request.fixturenames:
        request.getfixturevalue("smtp_server")
    with own_queue() as queue:
        processes = WorkerAndBeat(queue, tmp_path)
        try:
            processes.start()
            yield processes
        finally:
            processes.stop()


__all__ = [
    "BeatProcess",
    "DeadlinesProcess",
    "WorkerAndBeat",
    "WorkerProcess",
    "celery_queue",
    "celery_worker",
    "celery_worker_and_beat",
    "celery_worker_process",
    "own_queue",
    "test_database_url",
]
