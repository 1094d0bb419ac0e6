"""Upptime status-change history → check rows per site.

Upptime commits a site's status only when it changes, plus a daily heartbeat, so these rows
are irregular observations, not a fixed-interval probe series: the status holds until the
next row. ``emoji_status`` is Upptime's verdict and is taken as the truth (it already applies
the site's expected status codes, which is why HTTP 403 shows as down here). ``degraded``
means the site answered but slower than its configured limit: it was available, so it maps
to ``"up"`` with its response time kept (counted in ``notes``). Times are ``commit_time``,
which carries its offset.
"""

from __future__ import annotations

from monitoring.importers.common import (
    CHANGED,
    ChecksResult,
    Source,
    blank,
    csv_records,
    parse_iso_aware,
    rule,
)

STATUS = {"up": "up", "down": "down", "degraded": "up"}
COLUMNS = ("commit_time", "site", "emoji_status", "response_ms")
DEGRADED_AS_UP = rule(
    "UP-R1",
    CHANGED,
    "degraded (answered, but slower than the site's limit) counted as up, response time kept",
)
DOWN_WITHOUT_TIME = rule(
    "UP-R2",
    CHANGED,
    "down row's response time ('0 ms': no answer) not kept as a response time",
)


def parse_status_changes(source: Source) -> ChecksResult:
    """Group Upptime rows into check rows keyed by the site URL."""
    result = ChecksResult()
    for line, record in csv_records(source, COLUMNS):
        result.records += 1
        site = record["site"].strip()
        if not site:
            result.error(line, "site", "missing site")
            continue
        verdict = record["emoji_status"].strip().lower()
        if verdict not in STATUS:
            result.error(line, "emoji_status", f"unknown status {record['emoji_status']!r}")
            continue
        try:
            checked_at = parse_iso_aware(record["commit_time"])
        except ValueError as exc:
            result.error(line, "commit_time", str(exc))
            continue
        response_ms: int | None = None
        # A down site is written "0 in 0 ms": zero is "no answer", not an instant one.
        if not blank(record["response_ms"]) and verdict != "down":
            try:
                response_ms = int(record["response_ms"])
            except ValueError:
                result.error(line, "response_ms", f"{record['response_ms']!r} is not a number")
                continue
        if verdict == "degraded":
            result.apply(DEGRADED_AS_UP)
        elif verdict == "down" and not blank(record["response_ms"]):
            result.apply(DOWN_WITHOUT_TIME)
        result.add(
            site, {"checked_at": checked_at, "status": STATUS[verdict], "response_ms": response_ms}
        )
    for rows in result.checks.values():
        rows.sort(key=lambda row: row["checked_at"])
    return result
