"""Status-page health-check log (``key, check_time_utc_minute, result``) → check rows.

This is the log format of the shell-script status pages (a cron job curls each endpoint,
retries a failed request a few times, and appends ``<minute>, success|failed`` to a per-key
log). ``result`` is normally one word. A few rows carry several results joined by ``|``
(``success|failed``): several probes logged in the same minute, committed together. The
mapping takes the worst: any ``failed`` makes the minute ``"down"``, because a user did see
a failure in that minute; such rows are counted in ``notes``. Times are UTC (the column name
says so) at minute resolution; there is no response time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.importers.common import CHANGED, ChecksResult, Source, csv_records, rule

RESULTS = {"success": "up", "failed": "down"}
COLUMNS = ("key", "check_time_utc_minute", "result")
WORST_OF_MINUTE = rule(
    "HC-R1",
    CHANGED,
    "several results in one minute ('success|failed'): the worst taken, any failure is down",
)


def parse_checks(source: Source) -> ChecksResult:
    """Group the log's rows into check rows keyed by ``key`` (the endpoint name)."""
    result = ChecksResult()
    for line, record in csv_records(source, COLUMNS):
        result.records += 1
        key = record["key"].strip()
        if not key:
            result.error(line, "key", "missing endpoint key")
            continue
        parts = [part.strip() for part in record["result"].split("|")]
        unknown = [part for part in parts if part not in RESULTS]
        if unknown:
            result.error(line, "result", f"unknown result {record['result']!r}")
            continue
        status = "down" if "failed" in parts else "up"
        try:
            checked_at = datetime.strptime(
                record["check_time_utc_minute"].strip(), "%Y-%m-%d %H:%M"
            ).replace(tzinfo=UTC)
        except ValueError:
            result.error(
                line,
                "check_time_utc_minute",
                f"{record['check_time_utc_minute']!r} is not YYYY-MM-DD HH:MM",
            )
            continue
        if len(parts) > 1:
            result.apply(WORST_OF_MINUTE)
        result.add(key, {"checked_at": checked_at, "status": status, "response_ms": None})
    for rows in result.checks.values():
        rows.sort(key=lambda row: row["checked_at"])
    return result
