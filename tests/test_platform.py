"""Settings, health check, API schema and demo data."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sla_portal.core.models import Role, User, WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[1]


def run_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "sla_portal.settings", **env},
        capture_output=True,
        text=True,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = run_settings({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    # A key of one repeated character is weak: refused (tests/test_production_settings.py).
    assert run_settings({"DEBUG": "0", "SECRET_KEY": "s" * 50}).returncode != 0
    strong = "s" * 40 + "0123456789abcdef"
    assert run_settings({"DEBUG": "0", "SECRET_KEY": strong}).returncode == 0


@pytest.mark.django_db
def test_healthz_is_unhealthy_without_a_worker_heartbeat(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_healthy_with_a_fresh_heartbeat_and_not_with_a_stale_one(client):
    # The deadline loop and the mailer beat too (tests/test_health.py covers each part).
    for name in ("worker", "deadlines", "mailer"):
        WorkerHeartbeat.objects.create(name=name, beat_at=timezone.now())
    assert client.get("/healthz").status_code == 200
    WorkerHeartbeat.objects.filter(name="worker").update(
        beat_at=timezone.now() - timedelta(minutes=10)
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "last heartbeat" in response.json()["checks"]["worker"]["reason"]


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(client, alice_manager):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/organisations/" in schema.content
    client.force_login(alice_manager)
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert not re.search(r"""(src|href)=["']https?://""", docs), "no external assets"


def test_templates_load_no_external_assets():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", text), template


@pytest.mark.django_db
def test_seed_demo_creates_every_role(settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    call_command("seed_demo")  # running it again brings the demo back, it does not fail
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {role.value for role in Role}
    assert User.objects.get(username="manager").check_password("demo-pass-2026")


@pytest.mark.django_db
def test_seed_demo_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="DEBUG=1 or SLA_DEMO=1"):
        call_command("seed_demo")
