"""/healthz: JSON always, a reason per part, 503 when a required part fails.

The failing parts are real: a database nobody listens on, a heartbeat never written or
written too long ago, a table that is not there, an SMTP server that accepts the connection
and never greets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from sla_portal.core.health import report_cache
from sla_portal.core.models import Notification, User, WorkerHeartbeat
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["database", "broker", "worker", "deadlines", "mailer", "smtp"]
PROCESS_HEARTBEATS = ["worker", "deadlines", "mailer"]

only_on_postgresql = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
    reason="needs transactional DDL (PostgreSQL)",
)


def beat(name: str, seconds_ago: float = 0) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


@pytest.fixture
def staff_client(client, ada_admin):
    """Provider staff signed in: the callers who see each part's details."""
    client.force_login(ada_admin)
    return client


@pytest.fixture
def all_processes_beating(db) -> None:
    for name in PROCESS_HEARTBEATS:
        beat(name)


@pytest.mark.django_db
def test_without_any_heartbeat_healthz_is_503_json_with_a_reason_for_every_part(staff_client):
    response = staff_client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body["checks"]) == PARTS
    assert body["failing"] == ["worker", "deadlines", "mailer"]
    for name, part in body["checks"].items():
        assert part["reason"], f"{name} gives no reason"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["deadlines"]["reason"] == "no deadline loop heartbeat recorded yet"
    assert body["checks"]["mailer"]["reason"] == "no mailer heartbeat recorded yet"
    # SMTP is reported, but its outage alone does not take the portal out of rotation.
    assert body["checks"]["smtp"]["required"] is False
    assert body["checks"]["deadlines"]["required"] is True


def test_every_process_beating_is_200(staff_client, all_processes_beating):
    response = staff_client.get("/healthz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ok"] is True
    assert body["failing"] == []
    assert body["checks"]["deadlines"]["reason"].startswith("last heartbeat 0.")


def test_a_deadline_loop_silent_for_a_few_seconds_is_503_long_before_90s(
    staff_client, all_processes_beating, settings
):
    settings.DEADLINES_HEARTBEAT_MAX_AGE_SECONDS = 5
    beat("deadlines", seconds_ago=6)

    response = staff_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["deadlines"]
    deadlines = body["checks"]["deadlines"]
    assert deadlines["ok"] is False
    assert deadlines["age_seconds"] >= 6
    assert "more than 5s: the deadline loop is stopped or stuck" in deadlines["reason"]


def test_a_stale_mailer_or_worker_is_named_as_failing(staff_client, all_processes_beating):
    beat("mailer", seconds_ago=11)
    beat("worker", seconds_ago=46)

    body = staff_client.get("/healthz").json()

    assert body["failing"] == ["worker", "mailer"]
    assert "the Celery worker is stopped or stuck" in body["checks"]["worker"]["reason"]


def test_parts_left_out_of_the_required_list_are_reported_but_do_not_fail(
    staff_client, all_processes_beating, settings
):
    settings.HEALTH_REQUIRED_PARTS = ["database", "worker"]
    WorkerHeartbeat.objects.filter(name="deadlines").delete()

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    deadlines = response.json()["checks"]["deadlines"]
    assert (deadlines["ok"], deadlines["required"]) == (False, False)


@only_on_postgresql
def test_a_check_that_raises_reports_its_part_and_the_rest_still_answer(
    staff_client, all_processes_beating
):
    # The heartbeat table missing (a migration not applied): every heartbeat check raises.
    # DDL is transactional in PostgreSQL, so the test's rollback brings the table back.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_workerheartbeat RENAME TO core_workerheartbeat_away")

    response = staff_client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["failing"] == ["worker", "deadlines", "mailer"]
    assert body["checks"]["worker"]["reason"].startswith("check failed: ProgrammingError")
    # Each check ran in its own savepoint: the error did not abort the ones after it.
    assert body["checks"]["smtp"]["reason"].startswith("0 pending")


def test_smtp_reports_the_latest_failed_attempt_and_the_queue(staff_client, all_processes_beating):
    now = timezone.now()
    rows = [
        Notification(
            kind="t",
            key="1",
            recipient="a@acme.example",
            status="sent",
            sent_at=now,
            attempted_at=now,
        ),
        Notification(
            kind="t",
            key="2",
            recipient="b@acme.example",
            attempts=2,
            attempted_at=now + timedelta(seconds=1),
            last_error="SMTPServerDisconnected: Connection unexpectedly closed",
        ),
        Notification(kind="t", key="3", recipient="c@acme.example"),
    ]
    for row in rows:
        row.subject, row.body_text, row.body_html = "s", "t", "<p>h</p>"
    Notification.objects.bulk_create(rows)

    response = staff_client.get("/healthz")

    smtp = response.json()["checks"]["smtp"]
    assert response.status_code == 200  # SMTP is not a required part
    assert smtp["ok"] is False
    assert smtp["reason"] == (
        "the latest attempt failed: SMTPServerDisconnected: Connection unexpectedly closed"
    )
    assert (smtp["pending"], smtp["failing"], smtp["failed"]) == (2, 1, 0)

    # A later success: the server works again, whatever older rows still wait for.
    Notification.objects.filter(key="1").update(attempted_at=now + timedelta(seconds=2))
    smtp = staff_client.get("/healthz").json()["checks"]["smtp"]
    assert smtp["ok"] is True
    assert smtp["reason"] == "2 pending, 1 retrying after an error, 0 failed for good"


@pytest.fixture
def hanging_smtp_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_smtp_connect_check_greets_a_real_server_and_names_one_that_hangs(
    staff_client, all_processes_beating, smtp_server, hanging_smtp_port, settings
):
    smtp = staff_client.get("/healthz").json()["checks"]["smtp"]
    assert smtp["ok"] is True
    assert smtp["connect"]["reason"].startswith(f"127.0.0.1:{smtp_server.port} greeted in")

    settings.EMAIL_PORT = hanging_smtp_port
    settings.HEALTH_SMTP_CONNECT_TIMEOUT = 0.5
    response = staff_client.get("/healthz")

    smtp = response.json()["checks"]["smtp"]
    assert smtp["ok"] is False
    assert smtp["reason"] == f"127.0.0.1:{hanging_smtp_port} did not greet within 0.5s (hanging?)"
    assert response.status_code == 200

    settings.EMAIL_PORT = free_port()  # nobody listens
    smtp = staff_client.get("/healthz").json()["checks"]["smtp"]
    assert "unreachable: ConnectionRefusedError" in smtp["reason"]


def healthz_in_a_process(database_url: str, cookie: str = "") -> tuple[int, str, dict]:
    """GET /healthz through the whole middleware stack in a fresh process on ``database_url``."""
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "client = Client()\n"
        f"client.cookies['sessionid'] = {cookie!r}\n"
        "r = client.get('/healthz')\n"
        "print(json.dumps([r.status_code, r['Content-Type'], r.content.decode()]))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "0",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status, content_type, body = json.loads(result.stdout.strip().splitlines()[-1])
    return status, content_type, json.loads(body)


@pytest.mark.parametrize("cookie", ["", "a-session-cookie-from-a-browser"])
def test_database_down_is_503_json_saying_the_database_is_unreachable(cookie):
    unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/sla_portal"

    status, content_type, body = healthz_in_a_process(unreachable, cookie)

    assert (status, content_type) == (503, "application/json")
    # An anonymous caller (nobody can be signed in without the database): no exception text,
    # which would name the database's host, port and user.
    assert body["checks"]["database"] == {"ok": False, "reason": "unreachable", "required": True}
    assert "refused" not in json.dumps(body)
    assert unreachable.rsplit(":", 1)[1].split("/")[0] not in json.dumps(body)
    for name in ("worker", "deadlines", "mailer", "smtp"):
        assert body["checks"][name] == {
            "ok": False,
            "reason": "not checked: the database is unreachable",
            "required": name != "smtp",
        }
    assert body["failing"] == ["database", "worker", "deadlines", "mailer"]


# --- Who sees what, and what it costs ------------------------------------------------------


@pytest.fixture
def leaky_state(db, settings) -> dict[str, str]:
    """Everything a detailed report would tell a stranger: a customer's address in an SMTP
    error, a heartbeat's hostname, the SMTP server's address (nobody listens there)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.HEALTH_SMTP_CONNECT_TIMEOUT = 0.5
    settings.DEADLINES_HEARTBEAT_MAX_AGE_SECONDS = 5
    for name in PROCESS_HEARTBEATS:
        WorkerHeartbeat.objects.update_or_create(
            name=name, defaults={"beat_at": timezone.now(), "hostname": "mail-host-7.internal"}
        )
    beat("deadlines", seconds_ago=12)
    Notification.objects.create(
        kind="t",
        key="1",
        recipient="carol@acme.example",
        subject="s",
        body_text="t",
        body_html="<p>h</p>",
        attempts=1,
        attempted_at=timezone.now(),
        last_error="SMTPRecipientsRefused: {'carol@acme.example': (550, b'5.1.1 no such user')}",
    )
    return {"port": str(settings.EMAIL_PORT)}


SECRETS = ["carol@acme.example", "mail-host-7", "127.0.0.1", "SMTPRecipientsRefused", "550"]


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_strangers_and_customers_get_only_ok_required_and_a_generic_reason(
    who, client, carol_customer, leaky_state
):
    if who == "customer":
        client.force_login(carol_customer)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["deadlines"]
    for name, part in body["checks"].items():
        assert set(part) == {"ok", "required", "reason"}, name
    checks = body["checks"]
    assert checks["database"]["reason"] == "answered"
    assert checks["deadlines"]["reason"] == "stale: last heartbeat 12 s ago"
    assert checks["mailer"]["reason"] == "last heartbeat 0 s ago"
    # Judged by the latest attempt alone: a stranger's request opens no SMTP session.
    assert checks["smtp"] == {"ok": False, "required": False, "reason": "1 delivery failing"}
    text = response.content.decode()
    for secret in [*SECRETS, leaky_state["port"]]:
        assert secret not in text


def test_provider_staff_see_every_detail(staff_client, leaky_state):
    body = staff_client.get("/healthz").json()

    smtp = body["checks"]["smtp"]
    assert "carol@acme.example" in smtp["last_error"]
    assert smtp["connect"]["reason"].startswith(f"127.0.0.1:{leaky_state['port']} unreachable")
    assert smtp["summary"] == "1 delivery failing; unreachable"
    assert body["checks"]["mailer"]["hostname"] == "mail-host-7.internal"
    assert body["checks"]["deadlines"]["age_seconds"] >= 12


def test_the_django_admin_sees_every_detail(client, leaky_state, acme):
    admin = User.objects.create_superuser("root", "root@example.com", "x" * 20)
    client.force_login(admin)

    body = client.get("/healthz").json()

    assert "carol@acme.example" in body["checks"]["smtp"]["last_error"]


class CountingGreeter:
    """An SMTP server's first words and nothing more, counting the connections it takes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"220 greeter ESMTP\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def greeter(settings) -> Iterator[CountingGreeter]:
    server = CountingGreeter()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    try:
        yield server
    finally:
        server.close()


def test_quick_calls_share_one_report_and_strangers_open_no_smtp_session(
    client, ada_admin, all_processes_beating, greeter, settings
):
    settings.HEALTH_CACHE_SECONDS = 5
    report_cache.clear()

    anonymous = [client.get("/healthz") for _ in range(3)]
    assert greeter.connections == 0
    assert {response.json()["checked_at"] for response in anonymous} == {
        anonymous[0].json()["checked_at"]
    }

    # Provider staff get the connect check, once for two quick calls.
    report_cache.clear()
    client.force_login(ada_admin)
    first, second = client.get("/healthz").json(), client.get("/healthz").json()
    assert greeter.connections == 1
    assert first["checks"]["smtp"]["connect"]["ok"] is True
    assert second["checked_at"] == first["checked_at"]

    # Within the same few seconds a change is not seen yet; after them it is.
    beat("mailer", seconds_ago=60)
    assert client.get("/healthz").status_code == 200
    settings.HEALTH_CACHE_SECONDS = 0
    assert client.get("/healthz").status_code == 503
    assert greeter.connections == 2
