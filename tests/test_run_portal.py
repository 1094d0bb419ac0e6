"""`make run` (run_portal): quiet while all is well, the address and logins last, errors shown,
a crashed process restarted.

The portal runs for real here: run_portal in its own process on a fresh SQLite file and the
filesystem broker, with its web server, worker, scheduler and deadline loop, on a free port.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_portal.core.demo import DEMO_PASSWORD, DEMO_USERS
from tests.support.portal import migrated_and_seeded, portal_env

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Output:
    """Every line a process prints (stdout and stderr), with the moment it arrived."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for raw in process.stdout:
            with self._lock:
                self.lines.append((time.monotonic(), raw.rstrip("\n")))

    def text(self) -> list[str]:
        with self._lock:
            return [line for _at, line in self.lines]

    def since(self, moment: float) -> list[str]:
        with self._lock:
            return [line for at, line in self.lines if at >= moment]

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(line) for line in self.text()):
                return True
            time.sleep(0.2)
        return False


@pytest.fixture
def portal(tmp_path, migrated_sqlite) -> Iterator[tuple[subprocess.Popen, Output, int, dict]]:
    port = free_port()
    env = portal_env(tmp_path, port)
    migrated_and_seeded(migrated_sqlite, env)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    try:
        yield process, output, port, env
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_make_run_prints_the_address_and_logins_last_and_then_stays_quiet(portal):
    process, output, port, env = portal
    url = f"http://127.0.0.1:{port}/"
    running = f"SLA Portal is running on {url}"
    assert output.wait_for(lambda line: running in line, timeout=120), "\n".join(output.text())
    # The announcement ends with a rule; give it a moment to arrive in full.
    time.sleep(1)
    lines = output.text()
    tail = lines[-25:]
    # Everything was up before the address was printed: it answers at once.
    assert get(url + "accounts/login/") == 200
    # The address and every demo login are the last thing printed: nothing scrolled them away.
    assert any(running in line for line in tail[-4:]), "\n".join(lines)
    assert any(DEMO_PASSWORD in line for line in tail)
    for username, *_rest in DEMO_USERS:
        assert any(line.split()[:1] == [username] for line in tail), username
    assert not any("WARNING: the" in line for line in tail), "every process came up"

    # Idle, and while pages are served (a redirect, a page, a 404), the terminal stays quiet:
    # no tick of the deadline loop, no scheduler line, no request line.
    quiet_from = time.monotonic()
    assert get(url) == 200  # the redirect to the login page, followed
    assert get(url + "no-such-page/") == 404
    time.sleep(5)
    assert output.since(quiet_from) == [], "\n".join(output.since(quiet_from))
    assert process.poll() is None

    # A real error still shows: a task the worker does not know is an error of the worker.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from sla_portal.celery import app; "
            "app.send_task('core.no_such_task')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    assert output.wait_for(lambda line: "core.no_such_task" in line, timeout=30), "\n".join(
        output.since(quiet_from)
    )
    assert any("ERROR" in line for line in output.since(quiet_from))

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert output.wait_for(lambda line: line == "Stopped.", timeout=5)


def children_of(pid: int) -> dict[int, str]:
    """The direct children of ``pid`` and their command lines (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) start at ") ".
        ppid = int(stat.rsplit(") ", 1)[1].split()[1])
        if ppid == pid and cmdline:
            found[int(entry.name)] = cmdline
    return found


def child_pid(portal_pid: int, marker: str) -> int | None:
    for pid, cmdline in children_of(portal_pid).items():
        if marker in cmdline:
            return pid
    return None


def deadlines_heartbeat(var_dir: Path) -> str | None:
    with sqlite3.connect(var_dir / "db.sqlite3", timeout=10) as db:
        row = db.execute(
            "SELECT beat_at FROM core_workerheartbeat WHERE name = 'deadlines'"
        ).fetchone()
    return row[0] if row else None


def test_a_killed_child_is_restarted_with_back_off_and_said_so(portal, tmp_path):
    process, output, port, _env = portal
    url = f"http://127.0.0.1:{port}/"
    assert output.wait_for(lambda line: f"running on {url}" in line, timeout=120), "\n".join(
        output.text()
    )
    # Every process is a child of run_portal, the deadline loop among them.
    worker = child_pid(process.pid, "celery -A sla_portal --quiet worker")
    loop = child_pid(process.pid, "manage.py run_deadlines")
    assert worker and loop, children_of(process.pid)
    assert deadlines_heartbeat(tmp_path) is not None

    killed_at = time.monotonic()
    os.kill(worker, signal.SIGKILL)
    os.kill(loop, signal.SIGKILL)
    for name in ("worker", "deadlines"):
        said = f"{name} exited with -9; restarting in 1 s"
        assert output.wait_for(lambda line, said=said: said in line, timeout=10), "\n".join(
            output.since(killed_at)
        )

    # Both come back as new processes, and the loop ticks again.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new_worker = child_pid(process.pid, "celery -A sla_portal --quiet worker")
        new_loop = child_pid(process.pid, "manage.py run_deadlines")
        if new_worker and new_loop and new_worker != worker and new_loop != loop:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(children_of(process.pid))
    beat_before = deadlines_heartbeat(tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and deadlines_heartbeat(tmp_path) == beat_before:
        time.sleep(0.5)
    assert deadlines_heartbeat(tmp_path) != beat_before, "the restarted loop does not tick"
    assert get(url + "accounts/login/") == 200
    assert process.poll() is None

    # Killed again at once: the back-off doubles.
    os.kill(new_loop, signal.SIGKILL)
    assert output.wait_for(
        lambda line: "deadlines exited with -9; restarting in 2 s" in line, timeout=10
    ), "\n".join(output.since(killed_at))

    # Ctrl-C stops everything, the children included.
    children = set(children_of(process.pid))
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


def test_the_portal_runs_every_process_the_mailer_included():
    """Email has one sender, ``run_mailer``; no checkout runs the portal without it."""
    from sla_portal.core.management.commands.run_portal import portal_children

    children = portal_children("127.0.0.1", "8000", gunicorn=False, verbose=False)
    names = [child.name for child in children]
    assert names == ["web", "worker", "beat", "deadlines", "mailer"]
    assert children[-1].command[-1] == "run_mailer"
