"""Uptime Kuma heartbeat export → check rows per monitor name, for ``checks_ingest``.

Uptime Kuma writes one heartbeat per check with status 0 (down), 1 (up), 2 (pending) or
3 (maintenance). *Pending* is Uptime Kuma's retry state: the check failed (its ``msg`` holds
the error) but fewer than ``maxretries`` consecutive failures have been seen, so it has not
yet notified anybody. That is a notification debounce, not a probe result: the service did
not answer. The default therefore maps pending to ``"down"``; any debounce the agreement
wants (e.g. "an outage needs N failed checks") belongs in the outage rules, which see the
same checks from every source. ``pending_as="up"`` reproduces "only confirmed outages
count"; ``pending_as="skip"`` leaves them out and counts them in ``notes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from monitoring.importers.common import (
    CHANGED,
    SKIPPED,
    ChecksResult,
    ImportOptionError,
    Source,
    blank,
    csv_records,
    localize,
    resolve_timezone,
    rule,
)

STATUS = {"0": "down", "1": "up", "3": "maintenance"}
PENDING = "2"
HEARTBEAT_COLUMNS = ("monitor_id", "status", "time", "ping")
MONITOR_COLUMNS = ("id", "name")
PENDING_RULES = {
    "down": rule(
        "UK-R1",
        CHANGED,
        "status 2 (pending: a failed check Uptime Kuma is still retrying) counted as down",
    ),
    "up": rule("UK-R2", CHANGED, "status 2 (pending) counted as up (pending_as='up')"),
    "skip": rule("UK-R3", SKIPPED, "status 2 (pending) left out (pending_as='skip')"),
}


def parse_monitors(source: Source) -> dict[str, str]:
    """Read ``monitor.csv`` into ``{monitor id: monitor name}``."""
    return {
        record["id"].strip(): record["name"].strip()
        for _line, record in csv_records(source, MONITOR_COLUMNS)
    }


def parse_heartbeats(
    heartbeats: Source,
    monitors: Source | dict[str, str],
    *,
    timezone: str = "UTC",
    pending_as: Literal["down", "up", "skip"] = "down",
) -> ChecksResult:
    """Group heartbeats into check rows keyed by monitor name.

    ``timezone`` defaults to UTC because Uptime Kuma stores heartbeat times in UTC in its
    database; pass another zone only for an export that was converted on the way out.
    """
    if pending_as not in ("down", "up", "skip"):
        raise ImportOptionError(f"pending_as must be 'down', 'up' or 'skip', not {pending_as!r}")
    zone = resolve_timezone(timezone)
    names = monitors if isinstance(monitors, dict) else parse_monitors(monitors)
    result = ChecksResult()
    for line, record in csv_records(heartbeats, HEARTBEAT_COLUMNS):
        result.records += 1
        name = names.get(record["monitor_id"].strip())
        if name is None:
            result.error(
                line, "monitor_id", f"monitor {record['monitor_id']!r} not in monitor list"
            )
            continue
        code = record["status"].strip()
        pending = code == PENDING
        if pending:
            if pending_as == "skip":
                result.apply(PENDING_RULES["skip"])
                continue
            status = pending_as
        elif code in STATUS:
            status = STATUS[code]
        else:
            result.error(line, "status", f"unknown heartbeat status {code!r}")
            continue
        try:
            checked_at = localize(datetime.fromisoformat(record["time"].strip()), zone)
        except ValueError as exc:
            result.error(line, "time", str(exc))
            continue
        response_ms: int | None = None
        if not blank(record["ping"]):
            try:
                response_ms = round(float(record["ping"]))
            except ValueError:
                result.error(line, "ping", f"{record['ping']!r} is not a number")
                continue
        if pending:
            result.apply(PENDING_RULES[pending_as])
        result.add(name, {"checked_at": checked_at, "status": status, "response_ms": response_ms})
    for rows in result.checks.values():
        rows.sort(key=lambda row: row["checked_at"])
    return result
