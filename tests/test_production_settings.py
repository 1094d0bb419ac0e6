"""Production settings: `check --deploy` passes, HSTS and the https redirect are on by default
with DEBUG off and switchable from the environment, a weak or published SECRET_KEY stops the
start, every page carries a strict Content-Security-Policy, and signed-in pages, PDFs and CSVs
are `Cache-Control: private, no-store`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from sla_portal.core.secret_key import secret_key_problem

pytestmark = pytest.mark.django_db

STRONG_KEY = "Zq8v" * 5 + "-a-strong-key-made-for-the-settings-tests-0123456789"
BASE = Path(settings.BASE_DIR)


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SECRET_KEY", "DJANGO_SETTINGS", "DEBUG"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="sla_portal.settings", DEBUG="0", ALLOWED_HOSTS="portal.example.com"
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args], env=environment, capture_output=True, text=True, cwd=BASE
    )


def setting(expression: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    result = run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_deploy_check_passes_with_production_settings():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], SECRET_KEY=STRONG_KEY
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hsts_and_the_https_redirect_are_on_by_default_with_debug_off():
    values = setting(
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS",
        SECRET_KEY=STRONG_KEY,
    )
    assert values == "True 31536000 True"


def test_hsts_and_the_redirect_follow_the_environment():
    values = setting(
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS",
        SECRET_KEY=STRONG_KEY,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="300",
    )
    assert values == "False 300"


def test_debug_leaves_the_demo_on_plain_http():
    values = setting(
        "getattr(settings, 'SECURE_SSL_REDIRECT', False), settings.SECURE_HSTS_SECONDS",
        DEBUG="1",
    )
    assert values == "False 0"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short-key", "9 characters"),
        ("a" * 60, "different characters"),
        ("change-me-in-production-please-0123456789", "published default"),
        ("test-only-key-not-secret", "published default"),
    ],
)
def test_a_weak_or_published_secret_key_stops_the_start(key, reason):
    result = run(["manage.py", "check"], SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY is weak" in result.stderr and reason in result.stderr


def test_the_test_key_is_allowed_only_under_the_test_settings():
    assert secret_key_problem("test-only-key-not-secret", settings_module="tests.settings") == ""
    assert secret_key_problem("test-only-key-not-secret", settings_module="sla_portal.settings")
    assert secret_key_problem(STRONG_KEY) == ""


def test_the_test_settings_do_not_redirect_to_https(client):
    assert settings.SECURE_SSL_REDIRECT is False
    assert client.get("/accounts/login/").status_code == 200


def test_healthz_stays_on_plain_http_for_probes_inside_the_network():
    assert any(re.match(p, "healthz") for p in settings.SECURE_REDIRECT_EXEMPT)


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_pages_carry_a_strict_content_security_policy(client, carol_customer):
    client.force_login(carol_customer)
    policy = _csp(client.get("/"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in " ".join(policy.values())


def test_the_templates_need_no_inline_script_style_or_handler():
    """What a strict policy would block: inline <script>, style attributes, on… handlers,
    hx-on (evaluated code). E-mail and PDF templates are not rendered by a browser."""
    offenders = []
    for path in (BASE / "templates").rglob("*.html"):
        relative = path.relative_to(BASE / "templates").as_posix()
        if relative.startswith("emails/") or "pdf" in relative:
            continue
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\ssrc=)[^>]*>", r"\sstyle=\"", r"\son[a-z]+=", r"hx-on"):
            if re.search(pattern, text):
                offenders.append(f"{relative}: {pattern}")
    assert offenders == []


def test_signed_in_pages_are_private_and_not_stored(client, carol_customer):
    assert "no-store" not in client.get("/accounts/password_reset/").get("Cache-Control", "")
    client.force_login(carol_customer)
    response = client.get("/")
    assert response["Cache-Control"] == "private, no-store"
    assert client.get("/api/agreements/")["Cache-Control"] == "private, no-store"


def test_pdfs_and_csvs_are_private_and_not_stored(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    pdf = client.get(f"/agreements/{acme_agreement.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Cache-Control"] == "private, no-store"


def test_a_csv_is_private_even_without_a_session():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from sla_portal.core.middleware import PrivateCacheMiddleware

    request = RequestFactory().get("/anything.csv")
    response = PrivateCacheMiddleware(lambda r: HttpResponse("a,b", content_type="text/csv"))(
        request
    )
    assert response["Cache-Control"] == "private, no-store"
