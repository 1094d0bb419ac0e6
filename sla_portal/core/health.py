"""Health of the portal's moving parts, for ``/healthz``: always JSON, a reason for each part.

Parts, in the order they are reported:

``database``   ``SELECT 1`` on the default database.
``broker``     a connection to the Celery broker (Redis): ingest queues its evaluation there.
``worker``     the Celery worker's heartbeat task (every 15 s through beat and the broker).
``deadlines``  the deadline loop (``run_deadlines``) writes its heartbeat on every tick, about
               once a second, so a stopped or stuck loop shows within a few seconds rather
               than after the worker heartbeat's long allowance.
``mailer``     the mail process (``run_mailer``) writes its heartbeat on every round (≤ 1 s).
``smtp``       the mail server as the mailer finds it: the outcome of the latest attempts, the
               pending and failing counts, and a connect check (the server's 220 greeting
               within ``HEALTH_SMTP_CONNECT_TIMEOUT``).

``HEALTH_REQUIRED_PARTS`` names the parts whose failure answers 503; the others are reported
but do not fail the whole. SMTP is not required by default: the mail server is outside the
portal, its outage delays email without losing any (rows wait in the database), and a load
balancer that took the web out of rotation for it would make things worse, not better.

Each check is guarded: a check that raises reports its part as failing with the exception's
text, never an HTML 500. Parts that read the database are not tried when the database check
failed (each would only wait for the same connection timeout) and say so.

Who sees what: anyone may ask (load balancers and probes send no credentials), but the details
(exception texts naming hosts, ports and database users, a refused recipient's address in an
SMTP error, heartbeat hostnames) are for provider staff. Every part therefore carries a
``summary`` as well as its ``reason``: a generic one ("unreachable", "stale: last heartbeat
12 s ago", "2 deliveries failing") that ``public_report`` keeps in place of everything else.

What it costs: the report is computed at most once per ``HEALTH_CACHE_SECONDS`` per process
(``cached_health_report``), and only a caller allowed the details makes the SMTP connect check;
a probe polling every second opens no SMTP session and runs the aggregates once in five.
"""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sla_portal.celery import app
from sla_portal.core.models import Notification, WorkerHeartbeat
from sla_portal.core.selectors import delivery_status

# Heartbeat row names, written by their processes (``record_heartbeat``).
HEARTBEAT_NAME = "worker"
DEADLINES_HEARTBEAT = "deadlines"
MAILER_HEARTBEAT = "mailer"

Part = dict[str, Any]


def _failing(reason: str, summary: str, **details: Any) -> Part:
    return {"ok": False, "reason": reason, "summary": summary, **details}


def check_database() -> Part:
    """The default database answers ``SELECT 1``."""
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # The next request must not reuse a connection that broke under this one.
        connection.close_if_unusable_or_obsolete()
        return _failing(
            f"database unreachable: {_text(exc)}", "unreachable", vendor=connection.vendor
        )
    elapsed = (time.monotonic() - started) * 1000
    return {
        "ok": True,
        "reason": f"answered in {elapsed:.0f} ms",
        "summary": "answered",
        "vendor": connection.vendor,
    }


def check_broker() -> Part:
    """A connection to the Celery broker can be made (one try, two seconds)."""
    transport = app.conf.broker_url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return _failing(f"broker unreachable: {_text(exc)}", "unreachable", transport=transport)
    return {"ok": True, "reason": "connected", "summary": "connected", "transport": transport}


def check_heartbeat(name: str, max_age_seconds: float, what: str) -> Part:
    """Fresh when the heartbeat row ``name`` was written less than ``max_age_seconds`` ago."""
    beat = WorkerHeartbeat.objects.filter(name=name).first()
    if beat is None:
        return _failing(
            f"no {what} heartbeat recorded yet",
            "no heartbeat recorded yet",
            max_age_seconds=max_age_seconds,
        )
    age = max((timezone.now() - beat.beat_at).total_seconds(), 0.0)
    part: Part = {
        "ok": age <= max_age_seconds,
        "last_beat": beat.beat_at.isoformat(),
        "age_seconds": round(age, 1),
        "max_age_seconds": max_age_seconds,
        "hostname": beat.hostname,
    }
    part["reason"] = (
        f"last heartbeat {age:.1f}s ago"
        if part["ok"]
        else f"last heartbeat {age:.0f}s ago, more than {max_age_seconds:g}s: the {what} "
        "is stopped or stuck"
    )
    part["summary"] = f"{'' if part['ok'] else 'stale: '}last heartbeat {age:.0f} s ago"
    return part


def check_worker() -> Part:
    return check_heartbeat(
        HEARTBEAT_NAME, settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS, "Celery worker"
    )


def check_deadlines() -> Part:
    return check_heartbeat(
        DEADLINES_HEARTBEAT, settings.DEADLINES_HEARTBEAT_MAX_AGE_SECONDS, "deadline loop"
    )


def check_mailer() -> Part:
    return check_heartbeat(MAILER_HEARTBEAT, settings.MAILER_HEARTBEAT_MAX_AGE_SECONDS, "mailer")


def check_smtp(connect_check: bool = True) -> Part:
    """The mail server as seen by the latest attempts, the queue, and a connect check.

    Failing when the attempt that ended last (of any email) failed, or when the server does
    not greet within the connect timeout. ``connect_check`` False judges by the attempts only.
    """
    counts = _delivery_counts()
    part: Part = {**counts}
    reasons, summaries = [], []
    ok = True
    if counts["last_attempt"] == "failed":
        ok = False
        reasons.append(f"the latest attempt failed: {counts['last_error']}")
        # The failed row may be back in line already (attempts > 0) or failed for good.
        failing = max(counts["failing"] + counts["failed"], 1)
        summaries.append(f"{failing} {'delivery' if failing == 1 else 'deliveries'} failing")
    connect = _smtp_greeting() if connect_check else None
    if connect is not None:
        part["connect"] = connect
        if not connect["ok"]:
            ok = False
            reasons.append(connect["reason"])
            summaries.append("unreachable")
    if ok:
        reasons.append(
            f"{counts['pending']} pending, {counts['failing']} retrying after an error, "
            f"{counts['failed']} failed for good"
        )
    for key in ("last_attempt_at", "oldest_due_at"):
        if part[key] is not None:
            part[key] = part[key].isoformat()
    part["ok"] = ok
    part["reason"] = "; ".join(reasons)
    part["summary"] = "; ".join(summaries) if summaries else f"{counts['pending']} pending"
    return part


def _delivery_counts() -> dict[str, Any]:
    status = Notification.Status
    queue = delivery_status(limit=0)
    figures: dict[str, Any] = {
        "pending": queue.pending,
        "failing": queue.retrying,
        "failed": queue.failed,
        "oldest_due_at": queue.oldest_due_at,
    }
    # The attempt that ended last, of any email: sent, or failed (its row is then back in
    # line, failed for good, or in its next attempt, and says why in last_error).
    latest = (
        Notification.objects.filter(attempted_at__isnull=False)
        .order_by("-attempted_at")
        .values("status", "attempted_at", "last_error")
        .first()
    )
    figures["last_attempt_at"] = latest["attempted_at"] if latest else None
    if latest is None:
        figures["last_attempt"], figures["last_error"] = None, ""
    elif latest["status"] == status.SENT:
        figures["last_attempt"], figures["last_error"] = "sent", ""
    else:
        figures["last_attempt"], figures["last_error"] = "failed", latest["last_error"][:300]
    return figures


def _smtp_greeting() -> Part | None:
    """Connect to the SMTP server and wait for its 220 greeting; ``None`` when not SMTP."""
    if not settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        return None
    timeout = settings.HEALTH_SMTP_CONNECT_TIMEOUT
    if timeout <= 0:
        return None
    address = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    started = time.monotonic()
    try:
        with socket.create_connection(
            (settings.EMAIL_HOST, settings.EMAIL_PORT), timeout=timeout
        ) as sock:
            sock.settimeout(max(timeout - (time.monotonic() - started), 0.05))
            greeting = sock.recv(512)
            # A polite goodbye, so the server does not log an aborted session; not awaited.
            sock.sendall(b"QUIT\r\n")
    except TimeoutError:
        return _failing(f"{address} did not greet within {timeout:g}s (hanging?)", "hanging")
    except OSError as exc:
        return _failing(f"{address} unreachable: {_text(exc)}", "unreachable")
    elapsed = (time.monotonic() - started) * 1000
    if not greeting.startswith(b"220"):
        return _failing(f"{address} greeted with {greeting[:80]!r}, not 220", "no greeting")
    return {"ok": True, "reason": f"{address} greeted in {elapsed:.0f} ms"}


# Every part, in report order; True: it reads the database.
CHECKS: dict[str, tuple[Callable[[], Part], bool]] = {
    "database": (check_database, False),
    "broker": (check_broker, False),
    "worker": (check_worker, True),
    "deadlines": (check_deadlines, True),
    "mailer": (check_mailer, True),
    "smtp": (check_smtp, True),
}


def health_report(connect_smtp: bool = True) -> dict[str, Any]:
    """Every part with ``ok`` and a ``reason``; ``ok`` overall when every required part is.

    ``connect_smtp`` False leaves out the SMTP connect check (the smtp part is then judged by
    the latest attempts alone). Never raises: a check that fails unexpectedly is reported as
    that part failing.
    """
    required = set(settings.HEALTH_REQUIRED_PARTS)
    checks: dict[str, Part] = {}
    for name, (check, reads_database) in CHECKS.items():
        if reads_database and not checks["database"]["ok"]:
            not_checked = "not checked: the database is unreachable"
            part = _failing(not_checked, not_checked)
        else:
            if name == "smtp" and not connect_smtp:
                check = _smtp_without_connect
            part = _guarded(check, in_transaction=reads_database)
        part["required"] = name in required
        checks[name] = part
    failing = [name for name, part in checks.items() if part["required"] and not part["ok"]]
    return {
        "ok": not failing,
        "failing": failing,
        "checked_at": timezone.now().isoformat(),
        "checks": checks,
    }


def _smtp_without_connect() -> Part:
    return check_smtp(connect_check=False)


class _ReportCache:
    """The latest report of this process, reused for ``HEALTH_CACHE_SECONDS``.

    One computation at a time: requests arriving meanwhile wait for it and share it, rather
    than each opening its own SMTP session and running its own aggregates.
    """

    def __init__(self) -> None:
        self._computing = threading.Lock()
        self._report: dict[str, Any] | None = None
        self._at = 0.0
        self._with_connect = False

    def _fresh(self, connect_smtp: bool) -> dict[str, Any] | None:
        if self._report is None:
            return None
        if time.monotonic() - self._at >= settings.HEALTH_CACHE_SECONDS:
            return None
        if connect_smtp and not self._with_connect:
            return None
        return copy.deepcopy(self._report)

    def get(self, connect_smtp: bool) -> dict[str, Any]:
        with self._computing:
            report = self._fresh(connect_smtp)
            if report is None:
                report = health_report(connect_smtp=connect_smtp)
                self._report, self._at = copy.deepcopy(report), time.monotonic()
                self._with_connect = connect_smtp
            return report

    def clear(self) -> None:
        with self._computing:
            self._report = None


report_cache = _ReportCache()


def cached_health_report(details: bool) -> dict[str, Any]:
    """``health_report`` at most once per ``HEALTH_CACHE_SECONDS``, redacted unless ``details``.

    Only a caller allowed the details makes the SMTP connect check happen; an anonymous probe
    gets the smtp part as the latest attempts (and any connect check cached) show it.
    """
    report = report_cache.get(connect_smtp=details)
    return report if details else public_report(report)


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without details: per part only ``ok``, ``required`` and a generic reason."""
    public: dict[str, Any] = {key: report[key] for key in ("ok", "failing", "checked_at")}
    public["checks"] = {
        name: {
            "ok": part["ok"],
            "required": part["required"],
            "reason": part.get("summary") or ("ok" if part["ok"] else "failing"),
        }
        for name, part in report["checks"].items()
    }
    return public


def _guarded(check: Callable[[], Part], in_transaction: bool) -> Part:
    try:
        if not in_transaction:
            return check()
        # Its own transaction (a savepoint inside an outer one), so that an error in one
        # check (a missing table) does not abort the transaction the next check reads in.
        with transaction.atomic():
            return check()
    except Exception as exc:
        return _failing(f"check failed: {_text(exc)}", "check failed")


def _text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"[:500]


def record_heartbeat(name: str = HEARTBEAT_NAME, hostname: str = "") -> None:
    """Write the heartbeat row ``name`` now: one UPDATE, an INSERT only the first time.

    Called by the Celery worker's periodic task (``worker``) and on every round of the
    deadline loop (``deadlines``) and the mailer (``mailer``), so it must stay cheap.
    """
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(name=name).update(beat_at=now, hostname=hostname)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            name=name, defaults={"beat_at": now, "hostname": hostname}
        )
