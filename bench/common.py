"""What every benchmark script shares: the database, Django, timing statistics and memory.

No project import at module level: the runner imports this before Django is set up.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_{size}"
# The passwords of the generated users: the benchmark database is throwaway.
PASSWORD = "bench-password-not-secret"
CUSTOMER_USER = "bench_customer"
PROVIDER_USER = "bench_manager"


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"bench_[a-z0-9_]+", name):
        raise SystemExit(f"refusing database {name!r}: the name must match bench_[a-z0-9_]+")
    return name


def admin_execute(url: str, *statements: str) -> None:
    """Run statements on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    import psycopg2

    admin = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    admin.close()


def recreate_database(url: str) -> None:
    name = database_name(url)
    admin_execute(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


def drop_database(url: str) -> None:
    name = database_name(url)
    admin_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _bench_secret_key() -> str:
    """A random key made on the first run and kept in ``var/bench/secret_key``: the generator
    and every later run of the same checkout share it (source secrets are encrypted with a
    key derived from it; sessions signed by the runner are read by gunicorn)."""
    path = RESULTS / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


RUN_SECRET_KEY = _bench_secret_key()


def django_environment(url: str, redis_url: str) -> dict[str, str]:
    """The environment of every process that runs the project: production settings."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="sla_portal.settings",
        # Production settings refuse a weak key (and the test suite's, which a smoke test run
        # from pytest would pass on): always the checkout's own random key.
        SECRET_KEY=RUN_SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        # Plain HTTP on localhost: the session cookie must come back without TLS.
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_SSL_REDIRECT="0",
        # The figures measure the portal, not its rate limits.
        API_THROTTLE_USER="off",
        API_THROTTLE_ANON="off",
        API_THROTTLE_INGEST="off",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(ROOT / "var" / "bench" / "static"),
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def setup_django(url: str, redis_url: str) -> None:
    os.environ.update(django_environment(url, redis_url))
    import django

    django.setup()


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of a measurement's runs."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }


def proc_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            match = re.search(rf"^{key}:\s+(\d+) kB", status.read(), re.MULTILINE)
    except OSError:
        return 0
    return int(match.group(1)) if match else 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(x) for x in handle.read().split()]
    except OSError:
        return []


def peak_rss_mb(pids: Sequence[int]) -> dict[str, float]:
    """Peak resident set size (VmHWM) of each process, in MB."""
    return {str(pid): round(proc_kb(pid, "VmHWM") / 1024, 1) for pid in pids}


def machine() -> dict[str, Any]:
    def first(pattern: str, path: str) -> str:
        try:
            text = Path(path).read_text()
        except OSError:
            return ""
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1).strip() if match else ""

    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    return {
        "cpu": first(r"^model name\s*:\s*(.*)$", "/proc/cpuinfo"),
        "cores": os.cpu_count(),
        "memory_gb": round(int(first(r"^MemTotal:\s+(\d+)", "/proc/meminfo") or 0) / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "postgres": run(
            "psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"
        ).strip(),
        "load_average": os.getloadavg(),
        "commit": run("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD").strip(),
        "dirty": bool(run("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")),
    }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
