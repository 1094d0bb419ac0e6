"""Redis stopped and started again under a real worker and beat: both come back within
seconds of its return, and each says "broker unreachable" once and "reachable again" once,
in a handful of lines for the whole outage (beat once wrote a traceback for every periodic
task it failed to send: 513 lines in 13.5 s).

A private ``redis-server`` on a free port is the broker here (the shared one is never
stopped); the worker and beat run as real processes on the test database.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from celery import Celery
from django.utils import timezone

from sla_portal.core.models import WorkerHeartbeat
from tests.support.worker import BeatProcess, WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A throw-away ``redis-server`` (no persistence) that the test stops and starts."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test"
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--dir", str(self.directory), *options],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class OnBroker:
    """A worker or beat process whose broker is the private Redis."""

    def __init__(self, url: str) -> None:
        self.broker_url = url

    def env(self) -> dict[str, str]:
        env = super().env()  # type: ignore[misc]
        env["CELERY_BROKER_URL"] = self.broker_url
        env["LOG_LEVEL"] = "INFO"
        return env


class Worker(OnBroker, WorkerProcess):
    def __init__(self, url: str, queue: str, log: Path) -> None:
        OnBroker.__init__(self, url)
        WorkerProcess.__init__(self, queue, log)


class Beat(OnBroker, BeatProcess):
    def __init__(self, url: str, queue: str, log: Path) -> None:
        OnBroker.__init__(self, url)
        BeatProcess.__init__(self, queue, log)


@pytest.fixture
def redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def lines_since(path: Path, offset: int, until: int | None = None) -> list[str]:
    return path.read_bytes()[offset:until].decode(errors="replace").splitlines()


def logged_at(line: str) -> float:
    """When a Celery log line (``[2026-12-07 15:56:42,825: WARNING/…``) was written."""
    stamp = line[1 : line.index(": ")]
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_worker_and_beat_come_back_within_seconds_of_redis_and_log_the_outage_once(redis, tmp_path):
    queue = "outage"
    worker = Worker(redis.url, queue, tmp_path / "worker.log")
    beat = Beat(redis.url, queue, tmp_path / "beat.log")
    worker.launch()
    beat.launch()
    try:
        worker.wait_ready()
        beat.wait_ready()
        time.sleep(1)
        offsets = {p.name: p.log_path.stat().st_size for p in (worker, beat)}

        redis.stop()
        time.sleep(12)  # several of Celery's own retries (2 s, 4 s, 6 s …) would fit in here
        # Beat's probe job is due every 5 s: two or three of its sends fail meanwhile.
        during = {p.name: p.log_path.stat().st_size for p in (worker, beat)}
        redis.start()
        returned = time.monotonic()
        returned_at = time.time()

        # A task sent now is run within seconds: the worker is consuming again.
        sent_at = timezone.now()
        # An app of its own, not made the current one: the test process's tasks must keep
        # going to the suite's broker once this test is over.
        private = Celery(broker=redis.url, set_as_current=False)
        try:
            private.send_task("core.heartbeat", queue=queue)
        finally:
            private.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if WorkerHeartbeat.objects.filter(name="worker", beat_at__gte=sent_at).exists():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("\n".join(lines_since(worker.log_path, offsets["worker"])))
        assert time.monotonic() - returned < 5

        # Beat sends again too, within a second or two: it tries its missed tasks every
        # second rather than waiting for the next due one.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any("reachable again" in line for line in lines_since(beat.log_path, 0)):
                break
            time.sleep(0.2)
        time.sleep(1)
    finally:
        beat.stop()
        worker.stop()

    # The whole outage in beat's log, up to its first send after the return: no traceback,
    # no line per failed send, one line when it starts and one when it ends.
    beat_lines = lines_since(beat.log_path, offsets["beat"])
    back = [line for line in beat_lines if "broker reachable again" in line]
    assert back, "\n".join(beat_lines)
    assert logged_at(back[0]) - returned_at < 3, "\n".join(beat_lines)
    outage = beat_lines[: beat_lines.index(back[0]) + 1]
    assert len(outage) <= 5, "\n".join(outage)
    assert "due sends skipped" in back[0]
    assert "Traceback" not in "\n".join(beat_lines)
    assert not any("ERROR" in line for line in beat_lines if "broker unreachable" not in line)
    # The probe job it missed reached the worker after the return.
    after = lines_since(worker.log_path, during["worker"])
    assert any("run_due_probes" in line and "received" in line for line in after), "\n".join(after)

    # The worker is quiet while Redis is away: "connection lost", "unreachable" and a
    # line of Celery's about prefetch, nothing per reconnection attempt.
    while_down = lines_since(worker.log_path, offsets["worker"], during["worker"])
    assert len(while_down) <= 5, "\n".join(while_down)

    for process in (worker, beat):
        lines = lines_since(process.log_path, offsets[process.name])
        text = "\n".join(lines)
        assert sum("broker unreachable" in line for line in lines) == 1, text
        assert sum("broker reachable again" in line for line in lines) == 1, text
        assert "Trying again in" not in text, text  # Celery's growing back-off is gone
        assert "Traceback" not in text or process.name == "worker", text
    # The worker: one traceback at most (Celery's "connection to broker lost", once), and
    # twelve seconds of outage in a few lines, not a line or three per attempt.
    worker_lines = lines_since(worker.log_path, offsets["worker"])
    assert "\n".join(worker_lines).count("Traceback") <= 1
    outage = [line for line in worker_lines if "ERROR" in line or "WARNING" in line]
    assert len(outage) <= 4, "\n".join(worker_lines)
