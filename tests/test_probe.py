"""The built-in HTTP probe: due services are claimed once per slot, probed over real HTTP and
written as uptime checks, with down reported only after the configured retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitoring.models import Outage, ProbeState, Source, UptimeCheck
from monitoring.probe import (
    claim_due_probes,
    claim_slot,
    probe_once,
    run_due_probes,
)
from monitoring.status_codes import is_expected, parse_expected

# --- A real HTTP server on 127.0.0.1 ---------------------------------------------------------

SLOW_SECONDS = 3.0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        code = {"/ok": 200, "/slow": 200, "/error": 500, "/gone": 410}.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


class QuietServer(ThreadingHTTPServer):
    # A handler still sleeping on /slow must not block teardown.
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the probe gave up on /slow before it answered: a broken pipe is expected


@pytest.fixture(autouse=True)
def _probe_may_call_localhost(settings, monkeypatch) -> None:
    """These tests probe a server on 127.0.0.1, which the probe refuses unless allowed
    (tests/test_probe_targets.py tests the refusal); the environment carries the setting to
    the worker process of the end-to-end test."""
    settings.SLA_PROBE_ALLOW_PRIVATE = True
    monkeypatch.setenv("SLA_PROBE_ALLOW_PRIVATE", "1")


@pytest.fixture
def http_server() -> Iterator[str]:
    """Base URL of a threaded HTTP server on a free port of 127.0.0.1."""
    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def portal(acme_agreement, services, http_server):
    """Acme's covered service, probed at the server's healthy endpoint."""
    service = services["portal"]
    service.probe_url = f"{http_server}/ok"
    service.probe_interval_seconds = 30
    service.save()
    return service


def probe_state(service, **values) -> ProbeState:
    state, _ = ProbeState.objects.get_or_create(service=service)
    ProbeState.objects.filter(pk=state.pk).update(**values)
    state.refresh_from_db()
    return state


def make_due(service) -> None:
    """Let the probe's interval pass, as if the clock had moved on."""
    ProbeState.objects.filter(service=service).update(
        next_probe_at=timezone.now() - timedelta(seconds=1)
    )


# --- Pure helpers --------------------------------------------------------------------------


def test_expected_status_spec_reads_codes_and_ranges():
    assert parse_expected("200-299, 301") == [(200, 299), (301, 301)]
    assert is_expected(204, "200-299,301") and is_expected(301, "200-299,301")
    assert not is_expected(302, "200-299,301")


@pytest.mark.parametrize("spec", ["", " , ", "abc", "299-200", "200-700", "99"])
def test_unreadable_expected_status_is_refused(spec):
    with pytest.raises(ValueError):
        parse_expected(spec)


def test_probe_once_reports_status_and_response_time(http_server):
    result = probe_once(f"{http_server}/ok", timeout=5)
    assert (result.status_code, result.error) == (200, "")
    assert result.response_ms is not None and result.response_ms >= 0


def test_probe_once_reports_an_error_status_as_a_status(http_server):
    assert probe_once(f"{http_server}/error", timeout=5).status_code == 500


def test_probe_once_gives_up_after_the_timeout(http_server):
    started = time.monotonic()
    result = probe_once(f"{http_server}/slow", timeout=0.3)
    assert time.monotonic() - started < SLOW_SECONDS
    assert result.status_code is None and result.response_ms is None
    assert "timed out" in result.error


def test_probe_once_reports_a_refused_connection():
    with socket_on_free_port() as port:
        pass  # closed again: nothing listens there now
    result = probe_once(f"http://127.0.0.1:{port}/", timeout=2)
    assert result.status_code is None and "Refused" in result.error


def test_probe_once_refuses_non_http_urls():
    assert (
        probe_once("file:///etc/passwd", timeout=1).error == "only http and https URLs are probed"
    )


class socket_on_free_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# --- The probe loop ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_healthy_service_gets_an_up_check_under_the_customers_probe_source(portal, acme):
    before = timezone.now()

    assert run_due_probes() == 1

    check = UptimeCheck.objects.get(service=portal)
    assert check.status == UptimeCheck.Status.UP and check.response_ms is not None
    assert (check.source.customer, check.source.kind) == (acme, Source.Kind.PROBE)
    assert check.source.name == "Built-in probe"
    state = ProbeState.objects.get(service=portal)
    assert (state.last_status_code, state.consecutive_failures, state.last_error) == (200, 0, "")
    assert state.next_probe_at >= before + timedelta(seconds=30)


@pytest.mark.django_db
def test_a_probe_is_not_run_again_before_its_interval_has_passed(portal):
    assert run_due_probes() == 1
    assert run_due_probes() == 0
    assert UptimeCheck.objects.filter(service=portal).count() == 1


@pytest.mark.django_db
def test_a_500_is_reported_down_only_after_the_retries_dated_from_the_first_failure(
    portal, http_server
):
    portal.probe_url = f"{http_server}/error"
    portal.save()
    probe_state(portal, retries_before_down=2)

    run_due_probes()
    state = ProbeState.objects.get(service=portal)
    assert not UptimeCheck.objects.filter(service=portal).exists()
    assert (state.consecutive_failures, state.last_status_code) == (1, 500)
    assert "unexpected status 500" in state.last_error
    first_failure = state.failing_since

    make_due(portal)
    run_due_probes()
    downs = list(UptimeCheck.objects.filter(service=portal).order_by("checked_at"))
    assert [check.status for check in downs] == ["down", "down"]
    assert downs[0].checked_at == first_failure
    outage = Outage.objects.get(service=portal)
    assert (outage.started_at, outage.ended_at) == (first_failure, None)

    portal.probe_url = f"{http_server}/ok"
    portal.save()
    make_due(portal)
    run_due_probes()
    # Outages are derived rows, replaced when their checks change: read it again.
    outage = Outage.objects.get(service=portal)
    assert outage.started_at == first_failure and outage.ended_at is not None
    state.refresh_from_db()
    assert (state.consecutive_failures, state.failing_since) == (0, None)


@pytest.mark.django_db
def test_a_single_failure_below_the_threshold_leaves_no_trace_in_the_checks(portal, http_server):
    portal.probe_url = f"{http_server}/error"
    portal.save()
    probe_state(portal, retries_before_down=3)
    run_due_probes()
    portal.probe_url = f"{http_server}/ok"
    portal.save()
    make_due(portal)
    run_due_probes()

    assert list(UptimeCheck.objects.values_list("status", flat=True)) == ["up"]
    assert not Outage.objects.exists()


@pytest.mark.django_db
def test_an_expected_status_spec_can_accept_other_codes(portal, http_server):
    portal.probe_url = f"{http_server}/gone"
    portal.save()
    probe_state(portal, expected_status="200-299,410", retries_before_down=1)
    run_due_probes()
    assert UptimeCheck.objects.get(service=portal).status == "up"


@pytest.mark.django_db
def test_a_timeout_counts_as_a_failure(portal, http_server):
    portal.probe_url = f"{http_server}/slow"
    portal.save()
    probe_state(portal, timeout_seconds=1, retries_before_down=1)

    run_due_probes()

    check = UptimeCheck.objects.get(service=portal)
    assert (check.status, check.response_ms) == ("down", None)
    state = ProbeState.objects.get(service=portal)
    assert state.last_status_code is None and "timed out" in state.last_error


@pytest.mark.django_db
def test_services_without_agreement_coverage_or_url_are_not_probed(services, http_server):
    services["erp"].probe_url = f"{http_server}/ok"
    services["erp"].save()

    assert run_due_probes() == 0
    assert not UptimeCheck.objects.exists()
    assert not Source.objects.filter(kind=Source.Kind.PROBE).exists()


@pytest.mark.django_db
def test_disabled_probes_are_not_claimed(portal):
    probe_state(portal, enabled=False)
    assert run_due_probes() == 0


@pytest.mark.django_db
def test_claiming_the_same_slot_twice_gives_it_to_the_first_caller_only(portal):
    state = probe_state(portal)
    now = timezone.now()
    seen = state.next_probe_at

    assert claim_slot(state.pk, seen, now, 30) is True
    # A second worker that read the same deadline before the first claim changed it.
    assert claim_slot(state.pk, seen, now, 30) is False
    assert claim_due_probes(now) == []


@pytest.mark.django_db
def test_a_probe_due_while_no_worker_ran_is_picked_up_once_after_a_restart(portal):
    probe_state(portal, next_probe_at=timezone.now() - timedelta(hours=1))

    # The loop keeps no memory of its own: a fresh run (a restarted worker) finds the row.
    assert run_due_probes() == 1
    # Missed slots are not replayed: one probe, then the next one an interval from now.
    assert run_due_probes() == 0
    state = ProbeState.objects.get(service=portal)
    assert state.next_probe_at > timezone.now() + timedelta(seconds=20)


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_share_a_probe(tiers, services, acme, alice_manager):
    if connection.vendor != "postgresql":
        pytest.skip("row locking under concurrent UPDATEs is what PostgreSQL is here to show")
    from datetime import date

    from agreements.models import Service
    from agreements.services.drafting import agreement_create_from_tier

    probed = [
        Service.objects.create(name=f"Probed {i}", probe_url=f"http://127.0.0.1:9/{i}")
        for i in range(30)
    ]
    agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Many probed services",
        services=probed,
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    for service in probed:
        probe_state(service)
    now = timezone.now()
    barrier = threading.Barrier(2)
    results: list[list[int]] = [[], []]

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = [probe.state_id for probe in claim_due_probes(now)]
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not set(results[0]) & set(results[1])
    assert len(results[0]) + len(results[1]) == 30


def test_the_probe_loop_is_on_the_beat_schedule():
    from monitoring.tasks import run_due_probes as task

    entry = settings.CELERY_BEAT_SCHEDULE["run-due-probes"]
    assert entry["task"] == task.name == "monitoring.run_due_probes"
    assert entry["schedule"] <= 10


# --- End to end, through the real worker -----------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_probes_a_due_service_and_writes_its_check(portal, celery_worker):
    from monitoring.tasks import run_due_probes as task

    task.delay()

    deadline = time.monotonic() + 30
    while not UptimeCheck.objects.filter(service=portal).exists():
        assert time.monotonic() < deadline, "no check written by the worker within 30 s"
        time.sleep(0.2)
    assert UptimeCheck.objects.get(service=portal).status == "up"
