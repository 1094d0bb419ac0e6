"""Shared fixtures: named actors, the real Celery worker and the real browser.

With ``SLA_REQUIRE_SERVICES=1`` (set by ``.ci/run``) the run fails at once unless the tests
talk to PostgreSQL and Redis: CI must never pass by quietly falling back to SQLite or the
filesystem broker.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.support.actors import *  # noqa: F403  (fixtures)
from tests.support.agreements import *  # noqa: F403  (fixtures)
from tests.support.browser import *  # noqa: F403  (fixtures)
from tests.support.mailer import *  # noqa: F403  (fixtures)
from tests.support.moments import *  # noqa: F403  (fixtures)
from tests.support.monitoring import *  # noqa: F403  (fixtures)
from tests.support.portal import *  # noqa: F403  (fixtures)
from tests.support.smtp import *  # noqa: F403  (fixtures)
from tests.support.status import *  # noqa: F403  (fixtures)
from tests.support.worker import *  # noqa: F403  (fixtures)


@pytest.fixture(autouse=True)
def _fresh_failure_log() -> None:
    """Each test starts as if email delivery had never failed in this process."""
    from sla_portal.core.notifications import failure_log

    failure_log.reset()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Rate counters (API throttles, reset-email limits) start at zero in every test. The
    test settings keep the cache in memory, so clearing it touches nothing else."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


def pytest_configure(config: pytest.Config) -> None:
    # Tests that commit end with DELETEs, not Django's TRUNCATE of every table (seconds each).
    from tests.support import flush

    flush.install()
    if os.environ.get("SLA_REQUIRE_SERVICES") != "1":
        return
    from tests.support.services import require_real_services

    problems = require_real_services()
    if problems:
        raise pytest.UsageError(
            "Real services required (SLA_REQUIRE_SERVICES=1) but:\n  - " + "\n  - ".join(problems)
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = settings.DATABASES["default"]
    return [
        f"sla-portal: database {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or db['NAME']}, "
        f"broker {settings.CELERY_BROKER_URL.split('://', 1)[0]}"
    ]


@pytest.fixture(autouse=True)
def _empty_dashboard_cache() -> None:
    """Each test starts without cached dashboard renders (in Redis they would outlive the
    test, and its rolled-back data)."""
    from django.core.cache import caches

    caches["dashboard"].clear()
