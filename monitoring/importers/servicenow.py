"""ServiceNow incident event log → ticket rows for ``tickets_ingest``.

The export has one row per update of an incident (every field change writes a row, not only
state changes), with day-first or month-first local times and no time zone. Rows are folded
by ``number`` into one ticket each. The mapping and the choices are described in
``docs/importers.md``; the short version:

* each row's ``incident_state`` happens at its ``sys_updated_at``;
* rows are ordered by (``sys_updated_at``, ``sys_mod_count``) within an incident, and a row that
  repeats the previous state (or an identical time and state) is not a change and is collapsed;
* ``first_response_at`` is the first time the incident is in a state other than New;
* ``resolved_at`` is the column, falling back to the first resolving state in the history;
* priority and category are taken from the incident's last row (its final values).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from monitoring.importers.common import (
    CHANGED,
    FILLED,
    MERGED,
    SKIPPED,
    ImportOptionError,
    ParseResult,
    Source,
    blank,
    csv_records,
    is_ambiguous,
    localize,
    resolve_timezone,
    rule,
)
from monitoring.importers.folding import StateEvent, first_response_at, status_history

KNOWN_STATES = frozenset(
    {
        "New",
        "Active",
        "Awaiting User Info",
        "Awaiting Vendor",
        "Awaiting Problem",
        "Awaiting Evidence",
        "Resolved",
        "Closed",
    }
)
DEFAULT_PAUSING = frozenset(
    {"Awaiting User Info", "Awaiting Vendor", "Awaiting Problem", "Awaiting Evidence"}
)
DEFAULT_RESOLVING = frozenset({"Resolved", "Closed"})
NEW_STATE = "New"

REPEATED_STATE = rule(
    "SN-R1",
    MERGED,
    "same state as the incident's previous row (a field update, not a state change): "
    "merged into that state change",
)
RESOLVED_FROM_HISTORY = rule(
    "SN-R2",
    FILLED,
    "resolved_at missing: taken from the first Resolved/Closed state change in the history",
    "tickets",
)
NO_MOD_COUNT = rule(
    "SN-R3",
    CHANGED,
    "sys_mod_count not a number: ordered by its time and file line only",
)
NO_PRIORITY = rule(
    "SN-R4", FILLED, "priority missing ('?'): imported without a priority", "tickets"
)
NO_CATEGORY = rule(
    "SN-R5", FILLED, "category missing ('?'): imported without a category", "tickets"
)
INCIDENT_LEFT_OUT = rule(
    "SN-R6",
    SKIPPED,
    "other rows of an incident whose opened_at is missing or unreadable: the incident is "
    "left out whole",
)
AMBIGUOUS_TIME = rule(
    "SN-R7",
    CHANGED,
    "local time repeated when the clocks went back: read as its first occurrence",
    "timestamps",
)
NO_REOPEN_COUNT = rule("SN-R8", FILLED, "reopen_count missing ('?'): read as 0")
LAST_VALUE = rule(
    "SN-R9",
    CHANGED,
    "priority or category changed during the incident: the value of its last row taken",
    "tickets",
)

REQUIRED_COLUMNS = (
    "number",
    "incident_state",
    "reopen_count",
    "sys_mod_count",
    "sys_updated_at",
    "opened_at",
    "category",
    "priority",
    "resolved_at",
    "closed_at",
)


class _Dates:
    """Parses the export's unpadded local dates, memoised.

    Each incident repeats its opened/resolved/closed times on every row, so the cache turns
    ~570k parses into ~100k and keeps the whole file well under the time budget.
    """

    def __init__(self, zone: tzinfo, dayfirst: bool) -> None:
        self.zone = zone
        self.dayfirst = dayfirst
        self.cache: dict[str, datetime] = {}
        self.ambiguous = 0

    def parse(self, value: str) -> datetime:
        cached = self.cache.get(value)
        if cached is not None:
            return cached
        try:
            date_part, time_part = value.strip().split(" ")
            first, second, year = (int(p) for p in date_part.split("/"))
            day, month = (first, second) if self.dayfirst else (second, first)
            hour, minute, *rest = (int(p) for p in time_part.split(":"))
            naive = datetime(year, month, day, hour, minute, rest[0] if rest else 0)
        except ValueError as exc:
            order = "D/M/YYYY" if self.dayfirst else "M/D/YYYY"
            raise ValueError(f"{value!r} is not a {order} HH:MM date") from exc
        aware = localize(naive, self.zone)
        if is_ambiguous(naive, self.zone):
            self.ambiguous += 1
        self.cache[value] = aware
        return aware


def parse_priority(value: str) -> str:
    """``"3 - Moderate"`` → ``"P3"``; missing → ``""``; anything else raises ValueError."""
    if blank(value):
        return ""
    level = value.split("-", 1)[0].strip()
    if level not in {"1", "2", "3", "4"}:
        raise ValueError(f"{value!r} is not a priority 1-4")
    return f"P{level}"


def parse_incident_log(
    source: Source,
    *,
    timezone: str | None = None,
    dayfirst: bool = True,
    pausing_states: Iterable[str] = DEFAULT_PAUSING,
    resolving_states: Iterable[str] = DEFAULT_RESOLVING,
) -> ParseResult:
    """Fold a ServiceNow incident event log into one ticket row per incident.

    ``timezone`` is required because the export's times are naive wall-clock times. Problems
    are reported as ``ParseError`` with the line of the offending row: a row with an unusable
    state or time is left out of its ticket's history; an incident without a usable
    ``opened_at`` is left out entirely.
    """
    zone = resolve_timezone(timezone)
    pausing = frozenset(pausing_states)
    resolving = frozenset(resolving_states)
    if pausing & resolving:
        raise ImportOptionError(
            f"States cannot both pause and resolve: {sorted(pausing & resolving)}"
        )
    dates = _Dates(zone, dayfirst)
    result = ParseResult()

    incidents: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, record in csv_records(source, REQUIRED_COLUMNS):
        result.records += 1
        number = record["number"].strip()
        if blank(number):
            result.error(line, "number", "missing incident number")
            continue
        incidents.setdefault(number, []).append((line, record))

    for number, rows in incidents.items():
        ticket = _fold(number, rows, dates, pausing, resolving, result)
        if ticket is not None:
            result.rows.append(ticket)
    result.apply(AMBIGUOUS_TIME, dates.ambiguous)
    return result


def _optional_date(
    number: str, record: dict[str, str], column: str, line: int, dates: _Dates, result: ParseResult
) -> datetime | None:
    value = record[column]
    if blank(value):
        return None
    try:
        return dates.parse(value)
    except ValueError as exc:
        result.error(line, column, f"{number}: {exc}; left empty", drop=False)
        return None


def _fold(
    number: str,
    rows: list[tuple[int, dict[str, str]]],
    dates: _Dates,
    pausing: frozenset[str],
    resolving: frozenset[str],
    result: ParseResult,
) -> dict[str, Any] | None:
    """Build one ticket from its event rows (in file order), or report why it cannot be."""
    # The incident-level columns repeat on every row; the last row holds their final values.
    last_line, last = rows[-1]
    try:
        opened_at = dates.parse(last["opened_at"])
    except ValueError as exc:
        reason = "missing" if blank(last["opened_at"]) else str(exc)
        result.error(last_line, "opened_at", f"{number}: {reason}; incident skipped")
        result.apply(INCIDENT_LEFT_OUT, len(rows) - 1)
        return None

    try:
        priority = parse_priority(last["priority"])
    except ValueError as exc:
        result.error(last_line, "priority", f"{number}: {exc}", drop=False)
        priority = ""
    if blank(last["priority"]):
        result.apply(NO_PRIORITY)

    reopen_count = 0
    events: list[StateEvent] = []
    for line, record in rows:
        try:
            reopen_count = max(reopen_count, int(record["reopen_count"]))
        except ValueError:
            if blank(record["reopen_count"]):
                result.apply(NO_REOPEN_COUNT)
            else:
                result.error(
                    line,
                    "reopen_count",
                    f"{record['reopen_count']!r} is not a number",
                    drop=False,
                )
        state = record["incident_state"].strip()
        if state not in KNOWN_STATES:
            result.error(line, "incident_state", f"{number}: unknown state {state!r}; row ignored")
            continue
        try:
            at = dates.parse(record["sys_updated_at"])
        except ValueError as exc:
            result.error(line, "sys_updated_at", f"{number}: {exc}; row ignored")
            continue
        if at < opened_at:
            # ServiceNow lets the "Opened" field be edited after creation; an update stamped
            # before it cannot be placed on the ticket's timeline without guessing.
            result.error(
                line,
                "sys_updated_at",
                f"{number}: state {state!r} at {at:%Y-%m-%d %H:%M} is before opened_at "
                f"{opened_at:%Y-%m-%d %H:%M}; row ignored",
            )
            continue
        try:
            mod_count = int(record["sys_mod_count"])
        except ValueError:
            mod_count = 0
            result.apply(NO_MOD_COUNT)
        events.append(StateEvent(at, state, line, mod_count))

    # sys_mod_count alone is not monotonic in the real export (a few incidents restart it),
    # so the timestamp leads and the counter only breaks ties within a minute.
    history, collapsed = status_history(events, pausing, resolving)
    result.apply(REPEATED_STATE, collapsed)
    result.used += len(events) - collapsed

    first_response = first_response_at(history, frozenset({NEW_STATE}))
    resolved_at = _optional_date(number, last, "resolved_at", last_line, dates, result)
    if resolved_at is None:
        resolved_at = next((h["at"] for h in history if h["resolves"]), None)
        if resolved_at is not None:
            result.apply(RESOLVED_FROM_HISTORY)
    closed_at = _optional_date(number, last, "closed_at", last_line, dates, result)
    if resolved_at is not None and resolved_at < opened_at:
        result.error(
            last_line, "resolved_at", f"{number}: before opened_at; left empty", drop=False
        )
        resolved_at = None
    if closed_at is not None and closed_at < opened_at:
        result.error(last_line, "closed_at", f"{number}: before opened_at; left empty", drop=False)
        closed_at = None

    category = last["category"].strip()
    if blank(category):
        result.apply(NO_CATEGORY)
    if len({(r["priority"].strip(), r["category"].strip()) for _, r in rows}) > 1:
        result.apply(LAST_VALUE)
    return {
        "external_id": number,
        "priority": priority,
        "category": "" if blank(category) else category,
        "opened_at": opened_at,
        "first_response_at": first_response,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "reopen_count": reopen_count,
        "status_history": history,
    }
