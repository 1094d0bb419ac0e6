"""``make bench`` end to end on a tiny volume: the generator, every row's script, the server
it starts and stops, the result files. It asserts that results are produced, never a time:
benchmarks are not tests (docs/performance.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"

pytestmark = pytest.mark.slow


def _bench_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    return urlunsplit(urlsplit(url)._replace(path=f"/bench_smoke_{os.getpid()}"))


def _run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True, timeout=600)


def test_bench_harness_produces_every_row() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("SLA_REQUIRE_SERVICES") == "1":
            pytest.fail("wrk is missing (apt-get install wrk)")
        pytest.skip("wrk is not installed")
    url = _bench_url()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
    label = f"smoke-{os.getpid()}"
    common = ["--size", "S", "--database-url", url, "--redis-url", redis_url, "--label", label]
    try:
        _run(
            "bench.generate",
            *common,
            "--tickets",
            "1500",
            "--checks",
            "6000",
            "--evaluate",
            "customer",
        )
        _run(
            "bench.run",
            *common,
            "--runs", "1",
            "--seconds", "1",
            "--evaluation-tickets", "200",
            "--ticket-batch", "100",
            "--check-batch", "500",
        )  # fmt: skip
        results = json.loads((RESULTS / f"results-{label}.json").read_text())
        assert results["errors"] == {}
        assert set(results["rows"]) == {
            "evaluation",
            "dashboard",
            "live_poll",
            "ticket_ingest",
            "check_ingest",
            "single_post",
        }
        assert results["rows"]["dashboard"]["queries"]["query_count"] > 0
        assert all(
            plan.get("plan")
            for plan in results["rows"]["dashboard"]["queries"]["queries"]
            if plan["sql"].lstrip().upper().startswith("SELECT")
        )
        assert results["peak_rss_mb"]["web"]["max_process_mb"] > 0
        assert "| customer `/dashboard/` |" in (RESULTS / f"results-{label}.md").read_text()
    finally:
        from bench.common import drop_database

        drop_database(url)
        for name in (f"generate-{label}.json", f"results-{label}.json", f"results-{label}.md"):
            (RESULTS / name).unlink(missing_ok=True)
