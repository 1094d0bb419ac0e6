"""Private services and the portal's processes, for fault tests that stop and break them.

A fault test stops PostgreSQL, stops Redis, makes the SMTP server refuse or hang and kills
workers. None of that may touch the shared services other test runs use, so each piece here
is private to the test run:

- ``PrivatePostgres``: a cluster of its own (``initdb`` in a temporary directory, a free port,
  fsync off: its data is thrown away), started, stopped and restarted with ``pg_ctl``. The
  server refuses to run as root, so under root it runs as the ``postgres`` user (``runuser``).
- ``PrivateRedis``: a ``redis-server`` on a free port without persistence.
- ``FaultSMTP``: the tests' aiosmtpd server, which can also answer 4xx, hang in the middle of
  a message, or call back when a sender says QUIT (the moment after "250 accepted" and before
  the sender records the email as sent), and which stamps each message on arrival.
- ``PortalProcess``: one of the portal's processes (a Celery worker, beat, the deadline loop,
  the mailer) in a process group of its own, its environment pointing at the private services,
  its output in a log file, stopped with SIGTERM or killed with SIGKILL.

A binary that is missing is an error, never a skip: CI installs them (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from tests.support.smtp import SMTPServer, free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def _find_binary(name: str, candidates: list[str]) -> str:
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(
        f"{name} is missing: the fault tests run private instances of the services they stop "
        f"(Debian: apt-get install postgresql redis-server). Looked in {candidates} and PATH."
    )


def postgres_bin_dir() -> Path:
    """The directory of ``initdb``/``pg_ctl``: ``PG_BINDIR``, else Debian's newest version."""
    preferred = os.environ.get("PG_BINDIR", "")
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
        reverse=True,
    )
    initdb = _find_binary("initdb", [f"{preferred}/initdb" if preferred else "", *versions])
    return Path(initdb).parent


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout}s")


# --- PostgreSQL --------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of this test run only, in a temporary directory, on a free port.

    The directory is a fresh one directly under the system's temporary directory: under root
    the server runs as "postgres", which must be able to reach it (pytest's own temporary
    directories are private to their owner)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sla-fault-pg-"))
        self.bin = postgres_bin_dir()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        # PostgreSQL will not run as root: the files and the server then belong to "postgres".
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return subprocess.run(
            [*prefix, *command], check=check, capture_output=True, text=True, timeout=120
        )

    def init(self) -> None:
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (no shutdown checkpoint)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        status = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def url(self, database: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        connection = psycopg2.connect(
            dbname=database, user="postgres", host=HOST, port=self.port, connect_timeout=5
        )
        connection.autocommit = True
        return connection

    def create_database(self, name: str, template: str | None = None) -> None:
        with contextlib.closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            cursor.execute(f'CREATE DATABASE "{name}"{suffix}')

    def drop_database(self, name: str) -> None:
        with contextlib.closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- Redis -------------------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` of this test run only: no persistence, on a free port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.binary = _find_binary("redis-server", ["/usr/bin/redis-server"])
        self.port = free_port()
        self.log = root / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115  (kept open for the process's life)
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "no", "--dir", str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_until(self.ping, 20, f"redis-server on port {self.port} did not answer")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGKILL with ``kill``): clients see connections refused."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.wait(timeout=20)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def flush(self) -> None:
        import redis

        redis.Redis(host=HOST, port=self.port).flushall()


# --- SMTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One message the server accepted: when, to whom, its Message-ID and subject."""

    at: datetime
    message_id: str
    recipient: str
    subject: str


class FaultSMTP(SMTPServer):
    """The tests' SMTP server with faults to switch on and off while senders use it.

    ``mode``: ``accept`` (normal), ``refuse`` (``451`` at DATA: a temporary failure, the
    sender must try again later) or ``hang`` (at DATA the server says nothing until the mode
    changes, then refuses, so a sender that timed out meanwhile never had its message taken).
    ``on_quit``: called when a sender that delivered a message in its session says QUIT,
    before the server answers; the messages of that session were accepted by then.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mode = "accept"
        self.arrivals: list[Arrival] = []
        self.refusals = 0
        self.hangs = 0
        self.on_quit: Callable[[], None] | None = None
        # Set when the server holds a message in "hang" mode.
        self.held = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.mode == "hang":
            with self._arrived:
                self.hangs += 1
            self.held.set()
            while self.mode == "hang":
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        if self.mode == "refuse":
            with self._arrived:
                self.refusals += 1
            return "451 4.3.0 Try again later"
        at = datetime.now(UTC)
        status = await super().handle_DATA(server, session, envelope)
        session.fault_accepted = True
        with self._arrived:
            message = self.received[-1].message
            for recipient in envelope.rcpt_tos:
                self.arrivals.append(
                    Arrival(
                        at,
                        str(message["Message-ID"]),
                        recipient.lower(),
                        str(message["Subject"]).strip(),
                    )
                )
        return status

    async def handle_QUIT(self, server, session, envelope) -> str:
        callback = self.on_quit
        # Only a session that delivered something (a sender may also connect just to check).
        if callback is not None and getattr(session, "fault_accepted", False):
            callback()
        return "221 Bye"

    def copies(self) -> Counter:
        """(Message-ID, recipient) → how many times it was accepted."""
        with self._arrived:
            return Counter((a.message_id, a.recipient) for a in self.arrivals)


# --- The portal's processes ----------------------------------------------------------------------


@dataclass
class PortalProcess:
    """One process of the portal, in its own process group (a kill reaches its children)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ready_marker: bytes
    process: subprocess.Popen | None = None
    _log_offset: int = field(default=0, repr=False)

    def launch(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the process's life)
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> bytes:
        """What this process logged since its latest start."""
        return self.log_path.read_bytes()[self._log_offset :] if self.log_path.exists() else b""

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.output()[-3000:]!r}")
            if self.ready_marker in self.output():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s: {self.output()[-3000:]!r}")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: the process and its pool children die at once."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        # Pool children the parent did not reap (it was killed, or timed out).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def celery_worker(name: str, env: dict[str, str], log_dir: Path, concurrency: int = 2):
    """A worker as production runs it (``run_portal``: prefork, two processes)."""
    queue = env["CELERY_QUEUE"]
    command = [sys.executable, "-m", "celery", "-A", "sla_portal", "worker", "-l", "info"]
    command += ["-c", str(concurrency), "-Q", queue, "-n", f"{name}-{queue}@%h"]
    command += ["--without-gossip", "--without-mingle"]
    return PortalProcess(name, command, env, log_dir / f"{name}.log", b"ready.")


def celery_beat(name: str, env: dict[str, str], log_dir: Path):
    """``celery beat`` with the production scheduler; up once it has sent a task."""
    command = [sys.executable, "-m", "celery", "-A", "sla_portal", "beat", "-l", "info"]
    command += ["--scheduler", "sla_portal.core.broker_reconnect:DatabaseScheduler"]
    command += ["--pidfile", "", "-s", str(log_dir / f"{name}-schedule")]
    return PortalProcess(
        name, command, env, log_dir / f"{name}.log", b"Scheduler: Sending due task"
    )


def manage_command(name: str, command: str, env: dict[str, str], log_dir: Path, ready: bytes):
    """A long-running ``manage.py`` command (``run_deadlines``, ``run_mailer``)."""
    return PortalProcess(
        name, [sys.executable, "manage.py", command], env, log_dir / f"{name}.log", ready
    )


@contextlib.contextmanager
def running(*processes: PortalProcess) -> Iterator[tuple[PortalProcess, ...]]:
    """Launch all (they boot in parallel), wait until each is up, stop all at the end."""
    try:
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop()


__all__ = [
    "Arrival",
    "FaultSMTP",
    "PortalProcess",
    "PrivatePostgres",
    "PrivateRedis",
    "celery_beat",
    "celery_worker",
    "manage_command",
    "postgres_bin_dir",
    "running",
]
