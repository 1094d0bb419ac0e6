"""Interleaved wrk runs of a subject URL and its ceilings."""

from __future__ import annotations

from typing import Any

from bench.common import summary
from bench.server import wrk


def interleave(
    ctx: Any, cases: dict[str, tuple[str, dict[str, str]]], **options: Any
) -> dict[str, Any]:
    """``cases``: name → (url, headers). Each run loads every case once, in turn."""
    raw: dict[str, list[dict]] = {name: [] for name in cases}
    for run in range(ctx.runs):
        for name, (url, headers) in cases.items():
            extra = dict(options.get(name, {}))
            if "post_ticket" in extra:
                extra["post_ticket"] = {**extra["post_ticket"], "prefix": f"{ctx.tag}-{run}"}
            raw[name].append(wrk(url, ctx.seconds, headers, **extra))
            ctx.portal.sample_peaks()
            ctx.portal.drain(ctx.static_url)
    result = {name: figures(runs) for name, runs in raw.items()}
    failed = {name: f["failed_answers"] for name, f in result.items() if f["failed_answers"]}
    if failed:
        # A rate of error pages measures nothing: the row fails, loudly.
        raise RuntimeError(f"answers other than 2xx: {failed}")
    return result


def figures(runs: list[dict]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for run in runs:
        for code, n in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "req_per_s": summary([r["req_per_s"] for r in runs]),
        "p95_ms": summary([r["p95_ms"] for r in runs]),
        "p50_ms": summary([r["p50_ms"] for r in runs]),
        "bytes_per_response": summary([r["bytes_per_response"] for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "failed_answers": {c: n for c, n in statuses.items() if not c.startswith("2")},
        "statuses": statuses,
        "runs": runs,
    }


def ratios(subject: dict, ceiling: dict) -> dict[str, float]:
    """Throughput ratio (subject / ceiling) and latency ratio (ceiling p95 / subject p95),
    each as median with min and max over the runs, pairing run i with run i."""
    pairs = list(zip(subject["runs"], ceiling["runs"], strict=True))
    throughput = [s["req_per_s"] / c["req_per_s"] if c["req_per_s"] else 0.0 for s, c in pairs]
    latency = [c["p95_ms"] / s["p95_ms"] if s["p95_ms"] else 0.0 for s, c in pairs]
    return {"throughput": summary(throughput), "p95": summary(latency)}
