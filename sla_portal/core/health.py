"""Health of the portal's moving parts: database, broker and the worker heartbeat."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from sla_portal.celery import app

from .models import WorkerHeartbeat

HEARTBEAT_NAME = "worker"


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    transport = app.conf.broker_url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc)}
    return {"ok": True, "transport": transport}


def check_worker() -> dict:
    beat = WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).first()
    if beat is None:
        return {"ok": False, "error": "no worker heartbeat recorded yet"}
    age = (timezone.now() - beat.beat_at).total_seconds()
    ok = age <= settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    result = {"ok": ok, "last_beat": beat.beat_at.isoformat(), "age_seconds": round(age, 1)}
    if not ok:
        result["error"] = f"last heartbeat {age:.0f}s ago"
    return result


def health_report() -> dict:
    """All checks; ``ok`` only when every part is healthy."""
    checks = {"database": check_database(), "broker": check_broker()}
    checks["worker"] = check_worker() if checks["database"]["ok"] else {"ok": False}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def record_heartbeat(hostname: str = "") -> WorkerHeartbeat:
    """Called by the worker's periodic task."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now(), "hostname": hostname}
    )
    return beat
