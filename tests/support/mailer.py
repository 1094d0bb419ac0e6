"""The real mail process (``manage.py run_mailer``) on the test database.

Started after ``smtp_server`` when a test uses both, so it is handed the server's port, as the
Celery worker is (tests/support/worker.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.support.worker import WorkerProcess


class MailerProcess(WorkerProcess):
    """``manage.py run_mailer``, logging to ``log_path`` (INFO: each start and stop)."""

    name = "mailer"
    ready_marker = b"Mailer started"

    def __init__(self, log_path, threads: int = 4, extra_env: dict[str, str] | None = None):
        super().__init__(queue="", log_path=log_path)
        self.threads = threads
        self.extra_env = extra_env or {}

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("CELERY_QUEUE", None)
        env["LOG_LEVEL"] = "INFO"
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "run_mailer", "--threads", str(self.threads)]

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
def mailer(request, django_db_setup, tmp_path) -> Iterator[MailerProcess]:
    """A running ``run_mailer`` of this test, stopped after it.

    Needs ``django_db(transaction=True)``: the process reads what the test commits.
    """
    if "smtp_server" in request.fixturenames:
        request.getfixturevalue("smtp_server")
    process = MailerProcess(tmp_path / "mailer.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()


__all__ = ["MailerProcess", "mailer"]
