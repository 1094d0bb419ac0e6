"""`make run`'s embedded portal (SQLite, filesystem broker) for the tests that start it.

Migrating a fresh SQLite file takes 15-60 s (every migration of the project, on one core);
the tests that run the portal as a newcomer would (tests/test_run_portal.py,
tests/test_demo_sqlite_pages.py) each need one. ``migrated_sqlite`` migrates one file per test
run; each test copies it into its own directory and seeds the demo there, as `make run` does
after migrating. The copy is the same database a migration in place would leave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE_FILE = "db.sqlite3"


def portal_env(var_dir: Path, port: int) -> dict[str, str]:
    """The environment of `make run` on a clean clone: no services, DEBUG and demo on."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_QUEUE",
            "LOG_LEVEL",
            "REQUEST_LOG_LEVEL",
            "SECRET_KEY",
            "SLA_REQUIRE_SERVICES",
        }
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sla_portal.settings",
            "SLA_VAR_DIR": str(var_dir),
            "DEBUG": "1",
            "SLA_DEMO": "1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env: dict[str, str], *command: str) -> str:
    """``manage.py command`` in the portal's environment; its standard output."""
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file with every migration applied (``migrate`` as `make run` runs it)."""
    var_dir = tmp_path_factory.mktemp("migrated-sqlite")
    manage(portal_env(var_dir, 8000), "migrate", "--noinput", "-v0")
    return var_dir / DATABASE_FILE


def migrated_and_seeded(migrated: Path, env: dict[str, str]) -> str:
    """Copy the migrated file into ``env``'s var directory and seed the demo there, as
    `make run` does; what ``seed_demo`` printed."""
    var_dir = Path(env["SLA_VAR_DIR"])
    var_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated, var_dir / DATABASE_FILE)
    return manage(env, "seed_demo")


__all__ = ["migrated_and_seeded", "migrated_sqlite", "portal_env"]
