"""The Markdown table of a ``bench.run`` result: one line per row of the performance table."""

from __future__ import annotations

from typing import Any


def _range(figure: dict[str, Any] | None, fmt: str = "{:,.1f}") -> str:
    if not figure:
        return "–"
    return (
        f"{fmt.format(figure['median'])} ({fmt.format(figure['min'])}–{fmt.format(figure['max'])})"
    )


def _http_line(name: str, row: dict, subject: str, goal: str) -> str:
    figures = row["figures"]
    own = figures[subject]
    parts = [f"{_range(own['req_per_s'])} req/s, p95 {_range(own['p95_ms'])} ms"]
    ceilings = []
    ratio_cells = []
    for ceiling, key in (
        ("static file", "ratio_vs_static"),
        ("GET /api/me/", "ratio_vs_trivial_view"),
    ):
        if ceiling in figures:
            c = figures[ceiling]
            ceilings.append(
                f"{ceiling}: {_range(c['req_per_s'])} req/s, p95 {_range(c['p95_ms'])} ms"
            )
            r = row[key]
            ratio_cells.append(
                f"vs {ceiling}: req/s {_range(r['throughput'], '{:.4f}')},"
                f" p95 {_range(r['p95'], '{:.4f}')}"
            )
    extra = ""
    if "share_204" in row:
        extra = f"; {row['share_204'] * 100:.0f} % answered 204"
    if "queries" in row:
        q = row["queries"]
        extra += f"; {q['query_count']} queries, {q['response_bytes']:,} bytes"
        if q["seq_scan_on_big_tables"]:
            extra += f"; Seq Scan on {', '.join(q['seq_scan_on_big_tables'])}"
    if row.get("evaluation_tasks_waiting_after") is not None:
        extra += f"; {row['evaluation_tasks_waiting_after']} tasks waiting after"
    return (
        f"| {name} | {parts[0]}{extra} | {'<br>'.join(ceilings)} |"
        f" {'<br>'.join(ratio_cells)} | {goal} |"
    )


def _write_line(name: str, row: dict, rate_key: str, unit: str, goal: str) -> str:
    return (
        f"| {name} | {_range(row[rate_key], '{:,.0f}')} {unit}/s"
        f" ({_range(row['subject_seconds'], '{:.2f}')} s) |"
        f" {row['ceiling']}: {_range(row['ceiling_seconds'], '{:.3f}')} s |"
        f" {_range(row['ratio'], '{:.3f}')} | {goal} |"
    )


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    machine = results["machine"]
    lines = [
        f"# Benchmark, size {results['size']}",
        "",
        f"Commit {machine.get('commit')}{' (with local changes)' if machine.get('dirty') else ''},"
        f" {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('memory_gb')} GB,"
        f" PostgreSQL {machine.get('postgres')}, Python {machine.get('python')};"
        f" load average at start {', '.join(f'{x:.2f}' for x in machine['load_average'])}.",
        f"{results['runs']} runs, {results['seconds_per_load_run']:g} s per load run,"
        f" {results['connections']} connections, gunicorn {results['gunicorn_workers']} workers.",
        f"Data: {results['generated'].get('counts')}; big customer:"
        f" {results['generated'].get('big_customer')}.",
        "",
        "Median (min–max). Throughput ratio = subject / ceiling; p95 ratio = ceiling p95 /"
        " subject p95; write ratio = ceiling seconds / subject seconds.",
        "",
        "| measurement | subject | ceiling beside it | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    if "dashboard" in rows:
        lines.append(
            _http_line(
                "customer `/dashboard/`", rows["dashboard"], "dashboard", "p95 ≥ 0.2 x trivial view"
            )
        )
    if "live_poll" in rows:
        lines.append(
            _http_line(
                "`/dashboard/live/` poll",
                rows["live_poll"],
                "live poll",
                "204, p95 ≥ 0.5 x trivial view",
            )
        )
    if "evaluation" in rows:
        row = rows["evaluation"]
        lines.append(
            _write_line(
                f"ticket evaluation ({row['tickets']:,} tickets → {row['timers_written'][-1]:,}"
                " timers)",
                row,
                "tickets_per_second",
                "tickets",
                "≥ 0.1 (stretch 0.25)",
            )
        )
    if "ticket_ingest" in rows:
        lines.append(
            _write_line(
                f"bulk ticket ingest, {results['ticket_batch']:,} with history (HTTP)",
                rows["ticket_ingest"],
                "tickets_per_second",
                "tickets",
                "≥ 0.5",
            )
        )
    if "check_ingest" in rows:
        lines.append(
            _write_line(
                f"bulk checks, {results['check_batch']:,} (HTTP)",
                rows["check_ingest"],
                "checks_per_second",
                "checks",
                "≥ 0.5",
            )
        )
    if "single_post" in rows:
        lines.append(
            _http_line(
                "single-ticket POST",
                rows["single_post"],
                "single-ticket POST",
                "req/s ≥ 0.7 x `GET /api/me/`",
            )
        )
    peaks = results.get("peak_rss_mb", {})
    if peaks:
        lines += [
            "",
            "Peak RSS (VmHWM, largest process): "
            + ", ".join(
                f"{role} {value['max_process_mb']:,.0f} MB ({len(value['processes'])} processes)"
                for role, value in peaks.items()
            ),
        ]
    if "evaluation" in rows:
        lines.append(
            f"Evaluation process peak RSS: "
            f"{_range(rows['evaluation']['peak_rss_mb'], '{:,.0f}')} MB."
        )
    for name, error in results.get("errors", {}).items():
        lines += ["", f"**{name} failed:** `{error.strip().splitlines()[-1]}`"]
    return "\n".join(lines) + "\n"
