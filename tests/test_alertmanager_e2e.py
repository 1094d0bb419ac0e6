"""A real monitoring stack end to end: Debian's Prometheus and Alertmanager feed the portal.

The test starts its own Prometheus and Alertmanager (never a shared instance) on free ports
with configurations in a temporary directory. Prometheus scrapes a tiny HTTP server of the
test every second; the server goes down (503) and comes back, Prometheus's ``up == 0`` rule
fires and resolves, and Alertmanager delivers both notifications to the portal's webhook on
``live_server`` with the bearer token, as an operator would configure it. Then the outage is
recorded with about the real duration, the month's availability follows, and the breach
emails go out over a real SMTP server.

The rule puts a second alert, for a service no agreement covers ("Toy API"), in the same
Alertmanager group (``group_by: [job]``, deliberately not the recommended ``[service]``):
the portal must record the known service's outage and list the other alert as refused,
where it used to refuse the whole group.

Bounded: 1 s scrape and evaluation intervals, ``for: 0s``, ``group_wait``/``group_interval``
1 s, and every wait has a deadline; the whole test takes about 15 s and at most 90 s.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from agreements.models import Target
from agreements.services import lifecycle
from monitoring.evaluation.periods import evaluate_periods
from monitoring.models import Breach, Outage, PeriodResult, Source, UptimeCheck
from sla_portal.core.notifications import deliver_due
from tests.support.agreements import complete_for_proposal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary
PORTAL = "Customer Portal"
TOTAL_BUDGET = 90  # seconds: the whole test fails rather than hang past this
# Prometheus notices a 503 at the next scrape (1 s) and fires at the next evaluation (1 s);
# Alertmanager waits group_wait (1 s). The outage's ends are this close to the real ones.
DETECTION_LAG = timedelta(seconds=4)


# --- The scraped target ------------------------------------------------------------------


class ScrapedTarget:
    """A /metrics endpoint that answers 200 while ``healthy`` and 503 otherwise."""

    def __init__(self) -> None:
        self.healthy = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if outer.healthy and self.path.startswith("/metrics"):
                    body = b"# TYPE toy_requests_total counter\ntoy_requests_total 1\n"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                else:
                    body = b"down\n"
                    self.send_response(503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # keep the test output readable
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's prometheus and prometheus-alertmanager")
    return path


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as output:
        proc = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_until(what: str, check: Callable[[], Any], deadline: float, logs: list[Path]) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the logs at the deadline."""
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def scraped_up(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/api/v1/query?query=up%7Bjob%3D%22toy%22%7D"
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            result = json.loads(answer.read())["data"]["result"]
    except OSError:
        return False
    return bool(result) and result[0]["value"][1] == "1"


# --- Configuration -----------------------------------------------------------------------


def write_configs(tmp: Path, *, target: int, alertmanager: int, hook: str, secret: str) -> None:
    (tmp / "prometheus.yml").write_text(
        f"""
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{alertmanager}"]}}]
scrape_configs:
  - job_name: toy
    static_configs: [{{targets: ["127.0.0.1:{target}"]}}]
"""
    )
    # Two alerts on the same condition: one for the covered service, written in another
    # case than the catalogue's name, and one for a service no agreement covers.
    (tmp / "rules.yml").write_text(
        """
groups:
  - name: sla
    rules:
      - alert: TargetDown
        expr: up{job="toy"} == 0
        for: 0s
        labels: {service: "customer portal"}
      - alert: TargetDown
        expr: up{job="toy"} == 0
        for: 0s
        labels: {service: "Toy API"}
"""
    )
    (tmp / "alertmanager.yml").write_text(
        f"""
route:
  receiver: sla-portal
  group_by: [job]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sla-portal
    webhook_configs:
      - url: "{hook}"
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: "{secret}"
"""
    )


# --- The agreement -----------------------------------------------------------------------


def sign_with_strict_availability(agreement, alice, carol):
    """In force from today with a 100 % availability target, so a few seconds down are a
    final breach of this month (24x7: no calendar)."""
    target = Target.objects.get(agreement=agreement, metric="availability")
    target.target_value = target.threshold_value = Decimal("100.000")
    target.calendar = None
    target.save()
    agreement.effective_from = timezone.localdate()
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)  # proposing is the provider's acceptance
    lifecycle.accept(agreement, carol, version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, carol)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


# --- The test ----------------------------------------------------------------------------


def test_prometheus_and_alertmanager_outage_reaches_availability_and_emails(
    live_server,
    tmp_path,
    acme,
    acme_agreement,
    alice_manager,
    carol_customer,
    smtp_server,
):
    deadline = time.monotonic() + TOTAL_BUDGET
    prometheus, alertmanager = binary(PROMETHEUS), binary(ALERTMANAGER)
    agreement = sign_with_strict_availability(acme_agreement, alice_manager, carol_customer)
    source = Source.objects.create(
        customer=acme, name="Acme Prometheus", kind=Source.Kind.ALERTMANAGER
    )
    target = ScrapedTarget()
    prom_port, am_port = free_port(), free_port()
    hook = f"{live_server.url}/hooks/{source.pk}/alertmanager/"
    write_configs(
        tmp_path, target=target.port, alertmanager=am_port, hook=hook, secret=source.signing_secret
    )
    logs = [tmp_path / "alertmanager.log", tmp_path / "prometheus.log"]
    am_args = [
        alertmanager,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",  # no gossip port: a private, single instance
    ]
    prom_args = [
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    try:
        with process(am_args, logs[0]), process(prom_args, logs[1]):
            wait_until("Alertmanager to start", lambda: ready(am_port), deadline, logs)
            wait_until("Prometheus to start", lambda: ready(prom_port), deadline, logs)
            wait_until("the first scrape", lambda: scraped_up(prom_port), deadline, logs)

            went_down = datetime.now(UTC)
            target.healthy = False
            outage = wait_until(
                "the firing notification to record an outage",
                lambda: Outage.objects.filter(service__name=PORTAL).first(),
                deadline,
                logs,
            )
            assert outage.ended_at is None
            time.sleep(3)  # a few seconds of outage
            came_back = datetime.now(UTC)
            target.healthy = True
            outage = wait_until(
                "the resolved notification to end the outage",
                lambda: Outage.objects.filter(service__name=PORTAL, ended_at__isnull=False).first(),
                deadline,
                logs,
            )
    finally:
        target.close()

    # The outage is the real one, give or take the scrape and evaluation intervals.
    assert went_down <= outage.started_at <= went_down + DETECTION_LAG
    assert came_back <= outage.ended_at <= came_back + DETECTION_LAG
    assert Outage.objects.count() == 1
    # The unknown service's alert came in the same notification and was refused alone.
    assert set(UptimeCheck.objects.values_list("service__name", flat=True)) == {PORTAL}
    source.refresh_from_db()
    assert {alert["service"] for alert in source.refused_alerts} == {"Toy API"}
    assert source.refused_count == 0 and source.refusing_since is None
    assert source.last_received_at is not None

    # The month's availability follows the outage, and the breach is emailed.
    now = timezone.now()
    evaluate_periods(now, [agreement.pk])
    result = PeriodResult.objects.get(agreement=agreement, metric="availability", closed_at=None)
    down = (outage.ended_at - outage.started_at).total_seconds()
    # Counted from the agreement's start (today) to the end of the month; whole seconds.
    counted = result.details["counted_seconds"]
    assert result.details["down_seconds"] == pytest.approx(down, abs=1)
    assert result.value == pytest.approx(100 * (1 - result.details["down_seconds"] / counted))
    assert result.value < 100
    assert result.status == "breached"
    assert Breach.objects.filter(period_result=result).exists()
    deliver_due()
    # The default matrix: the service manager and the customer's signatory hear of a breach
    # (they also got the agreement's lifecycle emails, sent by the same deliver_due()).
    for person in (alice_manager, carol_customer):
        subjects = [" ".join(mail["Subject"].split()) for mail in smtp_server.to(person.email)]
        breached = [s for s in subjects if s.startswith("[Threshold breached]")]
        assert len(breached) == 1, subjects
        assert f"{agreement.reference}: Availability" in breached[0], subjects
