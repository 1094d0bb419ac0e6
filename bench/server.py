"""The portal as deployed, for the HTTP measurements: gunicorn with the Dockerfile's command
(``gunicorn sla_portal.wsgi --workers 3``), ``DEBUG=0``, PostgreSQL, a Celery worker on the
Redis broker; plus ``wrk`` as the load generator and the sign-in it needs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT, children, django_environment, peak_rss_mb

WORKERS = 3
CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Portal:
    """A running gunicorn and Celery worker; ``stop()`` ends exactly these processes."""

    port: int
    web: subprocess.Popen
    worker: subprocess.Popen | None
    logs: Path
    peaks: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web_pids(self) -> list[int]:
        return children(self.web.pid)

    def worker_pids(self) -> list[int]:
        if self.worker is None:
            return []
        return [self.worker.pid, *children(self.worker.pid)]

    def sample_peaks(self) -> None:
        """Keep the highest VmHWM seen per process (a worker may be recycled)."""
        for role, pids in (("web", self.web_pids()), ("worker", self.worker_pids())):
            seen = self.peaks.setdefault(role, {})
            for pid, mb in peak_rss_mb(pids).items():
                seen[pid] = max(seen.get(pid, 0.0), mb)

    def peak_summary(self) -> dict[str, Any]:
        self.sample_peaks()
        return {
            role: {"max_process_mb": max(values.values(), default=0.0), "processes": values}
            for role, values in self.peaks.items()
        }

    def drain(self, url: str) -> float:
        """Wait until the requests a load run left queued are answered: gunicorn's sync
        workers go on serving what wrk sent before it hung up, and the next measurement
        must not pay for them. A few plain requests go through the same queue; when the
        last comes back quickly, the backlog is gone. Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < 900:
            begun = time.monotonic()
            for _ in range(WORKERS * 2):
                fetch(url, timeout=900)
            if time.monotonic() - begun < 0.5:
                break
        return time.monotonic() - started

    def stop(self) -> None:
        self.sample_peaks()
        for process in (self.web, self.worker):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.web, self.worker):
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def collectstatic(env: dict[str, str]) -> None:
    """``DEBUG=0`` serves hashed static files through WhiteNoise: they must be collected.
    Collecting (and compressing) takes minutes on a busy machine, so it is skipped while the
    manifest is newer than every file under ``static/``."""
    manifest = Path(env["STATIC_ROOT"]) / "staticfiles.json"
    if manifest.exists():
        newest = max(
            (p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file()), default=0
        )
        if manifest.stat().st_mtime > newest:
            return
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def start(url: str, redis_url: str, *, worker: bool = True) -> Portal:
    env = django_environment(url, redis_url)
    collectstatic(env)
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    bin_dir = ROOT / ".venv" / "bin"
    web_log = open(logs / "gunicorn.out", "w")  # noqa: SIM115 - open while the server runs
    worker_log = open(logs / "celery.out", "w")  # noqa: SIM115
    web = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "sla_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        env=env,
        stdout=web_log,
        stderr=subprocess.STDOUT,
    )
    celery = None
    if worker:
        celery = subprocess.Popen(
            [
                str(bin_dir / "celery"),
                "-A",
                "sla_portal",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
    portal = Portal(port=port, web=web, worker=celery, logs=logs)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {logs / 'gunicorn.out'}")
        try:
            # Any answer will do (healthz says 503 while it waits for the worker).
            fetch(f"{portal.base}/healthz", timeout=2)
            if len(portal.web_pids()) >= WORKERS:
                return portal
        except OSError:
            pass
        time.sleep(0.3)
    portal.stop()
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {logs / 'gunicorn.out'}")


def session_cookie(username: str) -> str:
    """A signed-in session for ``username``, made in this (Django) process by Django's own
    ``force_login`` (which picks the first backend that can load users back, as a login
    does), without measuring the login."""
    from django.conf import settings
    from django.test import Client

    from sla_portal.core.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def fetch(
    url: str,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 600,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# wrk's Lua hooks: count statuses per thread and print one parseable line at the end.
WRK_SCRIPT = """
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  sent = 0
end
%(request)s
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local t = thread:get("statuses")
    for code, n in pairs(t) do counts[code] = (counts[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, code .. ":" .. n) end
  local e = summary.errors
  io.write(string.format("BENCH requests=%%d duration_us=%%d errors=%%d p50_us=%%d "
    .. "p95_us=%%d p99_us=%%d max_us=%%d bytes=%%d statuses=%%s\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.bytes, table.concat(parts, ",")))
end
"""

POST_ONE_TICKET = """
function request()
  sent = sent + 1
  local id = string.format("%%s-%%d-%%d", prefix, wrk.thread:get("id"), sent)
  local body = '[{"external_id":"' .. id .. '","agreement":"%(agreement)s",'
    .. '"service":"%(service)s","priority":"P3","opened_at":"%(opened)s",'
    .. '"status_history":[{"at":"%(opened)s","status":"New"}]}]'
  return wrk.format("POST", nil, nil, body)
end
"""


def wrk(
    url: str,
    seconds: float,
    headers: dict[str, str],
    *,
    method: str = "GET",
    post_ticket: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    """One load run of ``seconds`` with ``connections`` connections; throughput and latency."""
    request = ""
    prefix = ""
    if post_ticket:
        request = POST_ONE_TICKET % post_ticket
        prefix = f'prefix = "{post_ticket["prefix"]}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(prefix + WRK_SCRIPT % {"request": request})
    command = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "120s",
        "-s",
        script.name,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if method != "GET" and not post_ticket:
        raise ValueError("only GET or the one-ticket POST")
    command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    os.unlink(script.name)
    match = re.search(r"^BENCH (.*)$", output.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no result: {output.stdout}\n{output.stderr}")
    fields = dict(part.split("=", 1) for part in match.group(1).split())
    duration = int(fields["duration_us"]) / 1e6
    requests = int(fields["requests"])
    statuses = {
        code: int(n) for code, n in (p.split(":") for p in fields["statuses"].split(",") if p)
    }
    return {
        "requests": requests,
        "req_per_s": requests / duration if duration else 0.0,
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p95_ms": int(fields["p95_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "max_ms": int(fields["max_us"]) / 1000,
        "bytes_per_response": int(fields["bytes"]) / requests if requests else 0,
        "errors": int(fields["errors"]),
        "statuses": statuses,
    }
