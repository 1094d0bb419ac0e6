"""Checks that the real PostgreSQL and Redis are reachable (used by CI)."""

from __future__ import annotations

import psycopg2
import redis
from django.conf import settings


def require_real_services() -> list[str]:
    """Return what is wrong; an empty list means PostgreSQL and Redis are really there."""
    problems = []
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL does not point at PostgreSQL (engine {db['ENGINE']})")
    else:
        try:
            psycopg2.connect(
                dbname="postgres",  # the test database does not exist yet
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                connect_timeout=5,
            ).close()
        except psycopg2.Error as exc:
            problems.append(f"PostgreSQL unreachable: {exc}".strip())
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        problems.append(f"the Celery broker is not Redis ({broker.split('://', 1)[0]})")
    else:
        try:
            redis.Redis.from_url(broker, socket_connect_timeout=5).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis unreachable: {exc}")
    return problems
