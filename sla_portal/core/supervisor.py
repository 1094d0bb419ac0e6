"""A small process supervisor for ``run_portal``: start children, restart the ones that die.

Each child is a command with a name. One that exits is started again after a back-off
(1 s, 2 s, 4 s … at most ``RESTART_MAX_DELAY``), which goes back to 1 s once the child has
stayed up ``STABLE_AFTER`` seconds, so a crash now and then costs a second while a child
that cannot start does not spin. Every exit and restart is said on stderr
("worker exited with -9; restarting in 2 s"). ``stop`` ends them all.

Deliberately no more than that: in production a real supervisor (systemd, Docker's restart
policy, Kubernetes) does this job, one process per service (docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

RESTART_BASE_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
# A child up this long had a good run: its next crash restarts it after the base delay.
STABLE_AFTER = 60.0
# How long children get to stop after SIGTERM before they are killed.
STOP_TIMEOUT = 15.0


def restart_delay(failures: int) -> float:
    """Seconds to wait before the restart that follows ``failures`` quick exits in a row."""
    return min(RESTART_BASE_DELAY * 2 ** min(max(failures - 1, 0), 16), RESTART_MAX_DELAY)


@dataclass(frozen=True)
class ChildSpec:
    """What to run: a name for the log and the command; ``stdout`` as for ``Popen``."""

    name: str
    command: list[str]
    stdout: int | IO | None = None


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs ``specs`` with ``env``; call ``poll()`` often (it restarts what died)."""

    specs: list[ChildSpec]
    env: dict[str, str]
    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    children: dict[str, Child] = field(default_factory=dict)

    def start(self) -> None:
        for spec in self.specs:
            child = self.children.setdefault(spec.name, Child(spec))
            self._launch(child)

    def poll(self) -> None:
        """Notice children that exited, schedule their restart, restart those due."""
        now = self.clock()
        for child in self.children.values():
            process = child.process
            if process is not None and process.poll() is not None:
                _kill_group(process)  # what the child left behind (a pool's processes)
                up = now - child.started_at
                child.failures = 1 if up >= STABLE_AFTER else child.failures + 1
                delay = restart_delay(child.failures)
                child.process, child.restart_at = None, now + delay
                self.say(
                    f"{child.spec.name} exited with {process.returncode}; restarting in {delay:g} s"
                )
            elif process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._launch(child)

    def stop(self) -> None:
        """SIGTERM to every running child (the main process: Celery stops its own pool
        warmly), then SIGKILL to the process groups of those still up after the timeout."""
        running = [c.process for c in self.children.values() if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _kill_group(process)
        for child in self.children.values():
            child.process, child.restart_at = None, None

    def pid(self, name: str) -> int | None:
        child = self.children.get(name)
        return child.process.pid if child and child.process else None

    def _launch(self, child: Child) -> None:
        # Own process group each, so one signal reaches a process and its children, and a
        # Ctrl-C in the terminal reaches only run_portal, which stops them in order.
        child.process = subprocess.Popen(
            child.spec.command, env=self.env, start_new_session=True, stdout=child.spec.stdout
        )
        child.started_at, child.restart_at = self.clock(), None


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1)
