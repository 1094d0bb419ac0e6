"""The built-in HTTP probe: services with a ``probe_url`` are checked by the worker.

Scheduling follows house style point 8 (healthchecks' ``sendalerts``): every probed service has
a ``ProbeState`` row whose ``next_probe_at`` is the deadline. The beat task
``monitoring.run_due_probes`` runs every few seconds, claims due rows with a conditional UPDATE
(``WHERE next_probe_at <= now AND next_probe_at = <seen>``) that moves the deadline one
interval on, probes what it claimed and writes the results as ordinary uptime checks through
``checks_ingest``, which also derives the outages. Two workers never probe one service twice
for one slot, and since the deadline is in the database a restart loses nothing: a row that
fell due while no worker ran is simply due at the next tick.

Up and down, with retries (``ProbeState.retries_before_down``):

* an attempt that answers with an expected status writes an ``up`` check;
* a failed attempt (unexpected status, timeout, connection error) is recorded in the
  ``ProbeState`` (``consecutive_failures``, ``last_error``) but writes no check while the run of
  failures is shorter than ``retries_before_down``, so a single blip leaves availability alone;
* the attempt that reaches the threshold writes ``down`` checks at the first failed attempt of
  the run and at itself, so the outage is dated from when the service really failed; later
  failures write one ``down`` check each, until an ``up`` ends the outage.

Which source: each attempt is written once, under the "Built-in probe" source of the customer
with the lowest id among those whose agreements cover the service (created on first use). That
source is *shared* (``Source.shared``, ``monitoring.models.ownership``): the probe is the provider's
own measurement, so its checks count for, and are seen by, every customer whose proposed
agreements cover the service, whereas a customer's own feed counts only for that customer. A
service no agreement covers is not probed at all (``checks_ingest`` would refuse its checks).

Which statuses count as up is read by ``monitoring.status_codes`` (pure). The first part of
this module (``probe_once``) uses only the standard library and the address guard
(``sla_portal.core.netguard``: only public addresses are probed unless
``SLA_PROBE_ALLOW_PRIVATE``); the second part reads and writes the database.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agreements.models import Agreement, Service
from monitoring.ingest import IngestError
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import ProbeState, Source, UptimeCheck
from monitoring.status_codes import is_expected
from sla_portal.core.netguard import RefusedAddress, guarded_create_connection

logger = logging.getLogger(__name__)

PROBE_SOURCE_NAME = "Built-in probe"
USER_AGENT = "SLA-Portal-Probe/1.0"
# last_error is shown in the admin; a whole exception chain helps nobody there.
MAX_ERROR_LENGTH = 500

# --- Pure helpers (standard library only) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One HTTP attempt: the status code and time to the response headers, or the error
    (``status_code`` is ``None`` when no HTTP answer came at all)."""

    status_code: int | None
    response_ms: int | None
    error: str = ""


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        options: dict[str, Any] = {"context": self._context}
        if hasattr(self, "_check_hostname"):  # Python 3.11 still passes it
            options["check_hostname"] = self._check_hostname
        return self.do_open(_GuardedHTTPSConnection, req, **options)


# Every connection, the first and each redirect's, goes through sla_portal.core.netguard:
# private, loopback and link-local addresses are refused unless SLA_PROBE_ALLOW_PRIVATE.
_OPENER = urllib.request.build_opener(_GuardedHTTPHandler, _GuardedHTTPSHandler)


def probe_once(url: str, timeout: float) -> ProbeResult:
    """GET ``url`` once and report what came back; never raises for network trouble.

    ``timeout`` bounds each socket operation (connect, each read), as urllib does. Redirects
    are followed as urllib's default handler does; the final status counts. Only http and
    https are probed: urllib would also open ``file:`` and ``ftp:`` URLs, which have no place
    in a probe run by the worker. Only public addresses are called, unless
    ``SLA_PROBE_ALLOW_PRIVATE`` is on (``sla_portal.core.netguard``).
    """
    if urlsplit(url).scheme not in ("http", "https"):
        return ProbeResult(None, None, "only http and https URLs are probed")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        # An HTTP answer, only not a 2xx one: the server is reachable and said something.
        status = exc.code
        exc.close()
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        return ProbeResult(None, None, _describe(exc, timeout))
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return ProbeResult(status, elapsed_ms)


def _describe(exc: BaseException, timeout: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, RefusedAddress):
        return str(reason)[:MAX_ERROR_LENGTH]
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    return f"{type(reason).__name__}: {reason}"[:MAX_ERROR_LENGTH]


# --- The probe loop (database) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedProbe:
    """A probe this worker owns for one slot: what to call, and the rules to judge it by."""

    state_id: int
    service_id: int
    url: str
    timeout_seconds: int
    expected_status: str


def ensure_probe_states(now: datetime | None = None) -> int:
    """Create the missing ``ProbeState`` rows of services with a probe URL; return how many.

    Rows are created lazily rather than by a signal on ``Service`` so the agreements app needs
    to know nothing of the probe; ``ignore_conflicts`` makes two workers doing it at once safe.
    """
    now = now or timezone.now()
    missing = Service.objects.exclude(probe_url="").filter(probe_state__isnull=True)
    created = ProbeState.objects.bulk_create(
        [
            ProbeState(service_id=pk, next_probe_at=now)
            for pk in missing.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )
    return len(created)


def claim_due_probes(now: datetime | None = None, limit: int | None = None) -> list[ClaimedProbe]:
    """Claim up to ``limit`` due probes for this worker and move each one interval on.

    Each row is claimed with an UPDATE that repeats the deadline it was seen with. If another
    worker claimed it since it was read, ``next_probe_at`` has moved and the UPDATE changes
    nothing (in PostgreSQL the second UPDATE waits for the first and re-checks the WHERE), so
    only one worker probes a service per slot. Call it outside a transaction, so that each
    claim is visible to other workers at once.

    The next deadline is ``now + interval``, not ``seen + interval``: after a worker outage a
    service is probed once, not once for every slot it missed.
    """
    now = now or timezone.now()
    limit = limit or settings.PROBE_BATCH_SIZE
    due = (
        ProbeState.objects.filter(enabled=True, next_probe_at__lte=now)
        .exclude(service__probe_url="")
        # Uncovered services are not probed: their checks would be refused.
        .filter(service__in=Agreement.objects.values("services"))
        .order_by("next_probe_at", "id")
    )
    candidates = due.values_list(
        "id",
        "next_probe_at",
        "service_id",
        "service__probe_url",
        "service__probe_interval_seconds",
        "timeout_seconds",
        "expected_status",
    )[:limit]
    claimed: list[ClaimedProbe] = []
    for state_id, seen, service_id, url, interval, timeout_seconds, expected in candidates:
        if claim_slot(state_id, seen, now, interval):
            claimed.append(ClaimedProbe(state_id, service_id, url, timeout_seconds, expected))
    return claimed


def claim_slot(state_id: int, seen: datetime, now: datetime, interval_seconds: int) -> bool:
    """Take the slot ``seen`` of one probe row; ``False`` when another worker has it already."""
    updated = ProbeState.objects.filter(
        id=state_id, enabled=True, next_probe_at__lte=now, next_probe_at=seen
    ).update(next_probe_at=now + timedelta(seconds=interval_seconds))
    return updated == 1


def run_due_probes(now: datetime | None = None) -> int:
    """Create missing probe rows, claim the due ones, probe them and record the results.

    Returns how many probes ran. The HTTP calls run in a small thread pool (they only wait on
    the network), so one slow service does not hold back the others of the tick; all database
    writes stay in this thread.
    """
    ensure_probe_states(now)
    claimed = claim_due_probes(now)
    if not claimed:
        return 0
    workers = max(1, min(settings.PROBE_CONCURRENCY, len(claimed)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        attempts = list(pool.map(_attempt, claimed))
    for probe, (checked_at, result) in zip(claimed, attempts, strict=True):
        record_result(probe, checked_at, result)
    return len(claimed)


def _attempt(probe: ClaimedProbe) -> tuple[datetime, ProbeResult]:
    return timezone.now(), probe_once(probe.url, probe.timeout_seconds)


def record_result(probe: ClaimedProbe, checked_at: datetime, result: ProbeResult) -> None:
    """Store one attempt in the probe's state and, by the retry rule, as uptime checks."""
    succeeded = result.status_code is not None and _accepts(probe, result.status_code)
    error = result.error
    if result.status_code is not None and not succeeded:
        error = f"unexpected status {result.status_code} (expected {probe.expected_status})"
    state = ProbeState.objects.get(id=probe.state_id)
    changes: dict[str, Any] = {
        "last_checked_at": checked_at,
        "last_status_code": result.status_code,
        "last_response_ms": result.response_ms,
        "last_error": error[:MAX_ERROR_LENGTH],
    }
    rows: list[Mapping[str, Any]] = []
    if succeeded:
        changes.update(consecutive_failures=0, failing_since=None)
        rows.append(_check(checked_at, UptimeCheck.Status.UP, result.response_ms))
    else:
        failures = state.consecutive_failures + 1
        failing_since = state.failing_since or checked_at
        changes.update(consecutive_failures=failures, failing_since=failing_since)
        if failures >= state.retries_before_down:
            if failures == state.retries_before_down and failing_since < checked_at:
                rows.append(_check(failing_since, UptimeCheck.Status.DOWN, None))
            rows.append(_check(checked_at, UptimeCheck.Status.DOWN, result.response_ms))
    with transaction.atomic():
        # Only the result fields: next_probe_at belongs to the claim and may have moved on.
        ProbeState.objects.filter(id=probe.state_id).update(**changes)
        if rows:
            _write_checks(probe.service_id, rows)


def _accepts(probe: ClaimedProbe, code: int) -> bool:
    try:
        return is_expected(code, probe.expected_status)
    except ValueError:
        # A spec saved around the validator (a bulk update, the shell): fall back to 2xx
        # rather than reporting a healthy service down for a typo.
        logger.warning("Probe %s has an unreadable expected_status", probe.state_id)
        return 200 <= code <= 299


def _check(checked_at: datetime, status: str, response_ms: int | None) -> dict[str, Any]:
    return {"checked_at": checked_at, "status": status, "response_ms": response_ms}


def _write_checks(service_id: int, rows: Iterable[Mapping[str, Any]]) -> None:
    service = Service.objects.get(id=service_id)
    source = probe_source_for(service)
    if source is None:
        return
    try:
        checks_ingest(source, service, list(rows))
    except IngestError as exc:
        # The agreement was removed between the claim and now; the next claim skips it.
        logger.warning("Probe checks of service %s refused: %s", service_id, exc)


def probe_source_for(service: Service) -> Source | None:
    """The "Built-in probe" source the probe's checks of ``service`` are written under.

    That of the covering customer with the lowest id, created on first use; ``None`` when no
    agreement covers the service. The choice is stable, so a service's checks and outages
    keep one source while its customers stay the same. A probe source created on the Sources
    page for this service (``Source.service``) takes precedence: its checks are its own.
    """
    dedicated = Source.objects.filter(kind=Source.Kind.PROBE, service=service).first()
    if dedicated is not None:
        return dedicated
    customer_id = (
        Agreement.objects.filter(services=service)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return None
    source, _ = Source.objects.get_or_create(
        customer_id=customer_id,
        name=PROBE_SOURCE_NAME,
        # The provider's own measurement of the service, counted for every customer whose
        # agreements cover it (monitoring.models.ownership): shared deliberately, on creation.
        defaults={"kind": Source.Kind.PROBE, "shared": True},
    )
    return source
