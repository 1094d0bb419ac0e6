"""Any service desk's event-log export (one row per state change) → ticket rows with histories.

Pure Python (house style point 2). A Jira changelog, a Zammad history or a ServiceNow event log
all have the same shape: each row says "ticket K was in state S from time T on". The caller
maps columns to event fields (``{"external_id": "Issue key", "at": "Changed", "state":
"Status", ...}``) and says what each state means (``{"Waiting for customer": "paused", ...}``,
roles from ``monitoring.importers.folding``); this module groups the rows by ticket and folds
each group with the same fold as the ServiceNow importer.

Rules (also in ``docs/importers.md`` and on the mapping pages):

* **Dates, time zones, priority, csat** are read exactly as the ticket CSV import reads them
  (``generic_csv``): detected or chosen day/month order, naive times in the chosen zone.
* **Ticket columns** (priority, category, service, agreement, opened-at, first-response-at,
  csat) may repeat on every row or be filled on some rows only: the ticket takes the value of
  its last row where the cell is not empty (the final classification).
* ``opened_at`` is the opened column when mapped, else the ticket's first event.
  ``first_response_at`` is the column when mapped, else when the ticket first left a state
  marked *new* (empty when no state is marked new).
* ``resolved_at`` and ``closed_at`` come from the history: the start of the resolution the
  history ends in; a return from resolved or closed to any other state is a reopen.
* **A ticket with any problem row is left out whole**, with every problem reported by line and
  column: a history with a hole in it would give wrong clocks without anyone noticing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from monitoring.importers import generic_csv as gc
from monitoring.importers.common import (
    CHANGED,
    FILLED,
    MERGED,
    SKIPPED,
    ImportOptionError,
    ParseError,
    ParseResult,
    Source,
    blank,
    resolve_timezone,
    rule,
)
from monitoring.importers.folding import (
    CLOSED,
    NEW,
    OPEN,
    PAUSED,
    RESOLVED,
    ROLES,
    StateEvent,
    fold_events,
)

EVENT_FIELDS = (
    "external_id",
    "at",
    "state",
    "opened_at",
    "first_response_at",
    "priority",
    "category",
    "service",
    "agreement",
    "csat",
)
REQUIRED_FIELDS = ("external_id", "at", "state")
DATE_FIELDS = ("at", "opened_at", "first_response_at")
TICKET_COLUMNS = ("opened_at", "first_response_at", "priority", "category", "service")
TICKET_COLUMNS += ("agreement", "csat")
FIELD_LABELS = {
    "external_id": "Ticket id",
    "at": "Event time",
    "state": "State",
    "opened_at": "Opened at",
    "first_response_at": "First response at",
    "priority": "Priority",
    "category": "Category",
    "service": "Service",
    "agreement": "Agreement",
    "csat": "CSAT",
}

REPEATED_STATE = rule(
    "EL-R1",
    MERGED,
    "same state as the ticket's previous event: not a change, merged into it",
)
OPENED_FROM_FIRST_EVENT = rule(
    "EL-R2",
    FILLED,
    "opened_at not in the file: taken from the ticket's first event",
    "tickets",
)
RESPONSE_FROM_HISTORY = rule(
    "EL-R3",
    FILLED,
    "first_response_at not in the file: taken from when the ticket first left a 'new' state",
    "tickets",
)
TICKET_LEFT_OUT = rule(
    "EL-R4",
    SKIPPED,
    "other rows of a ticket with a problem row: the ticket is left out whole",
)

LAST_VALUE = rule(
    "EL-R5",
    CHANGED,
    "a ticket-level column (priority, category, service, ...) differs between the ticket's "
    "rows: the last non-empty value taken",
    "tickets",
)

STATES_KEY = "_states"
"""Key under which a saved ``ColumnMapping.mapping`` keeps the state roles of an event log.

Never a ticket field name, so a saved event-log mapping is told apart from a ticket-CSV one by
the presence of this key alone, without a schema change.
"""

GUESSES: dict[str, tuple[str, ...]] = {
    "external_id": gc.GUESSES["external_id"],
    "at": (
        "changed",
        "changedat",
        "changedate",
        "sysupdatedat",
        "updated",
        "updatedat",
        "eventtime",
        "timestamp",
        "date",
        "time",
    ),
    "state": ("state", "status", "incidentstate", "tostatus", "newstatus", "to", "newvalue"),
    **{name: gc.GUESSES[name] for name in EVENT_FIELDS if name in gc.GUESSES},
}

# Names of states nobody has acted on yet (compared lower-cased and whole: "Reopened" is not).
NEW_NAMES = frozenset({"new", "open", "opened", "to do", "todo", "backlog", "triage", "untriaged"})
# Words in state names that usually say what the state means, checked in this order.
ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PAUSED, ("wait", "await", "pending", "hold", "blocked", "paused")),
    (CLOSED, ("closed", "cancel", "rejected", "declined", "won't", "wont", "duplicate")),
    (RESOLVED, ("resolv", "solved", "done", "fixed", "complete")),
)


@dataclass(frozen=True, slots=True)
class TicketPreview:
    """One folded ticket for the preview table: its rows' lines, values and problems."""

    external_id: str
    lines: tuple[int, int]
    events: int
    values: dict[str, Any]
    errors: list[ParseError]
    collapsed: int = 0
    filled: tuple[str, ...] = ()

    @property
    def history_text(self) -> str:
        """``New 2026-03-02 09:00 → In Progress ...`` in UTC, for one table cell."""
        return " → ".join(
            f"{entry['status']} {entry['at'].astimezone(UTC):%Y-%m-%d %H:%M}"
            for entry in self.values.get("status_history", [])
        )

    @property
    def pauses(self) -> int:
        """How many times the clock stopped (entries into a pausing state)."""
        history = self.values.get("status_history", [])
        return sum(
            1
            for before, entry in zip([None, *history], history, strict=False)
            if entry["pauses_clock"] and not (before and before["pauses_clock"])
        )


@dataclass
class EventLogResult(ParseResult):
    """Ticket rows plus what the mapping pages show.

    ``states`` counts the rows of each distinct state value in the file; ``unmapped`` are the
    states without a role; ``problem_tickets`` counts the tickets left out.
    """

    date_format: str = gc.ISO
    records: int = 0
    tickets: int = 0
    problem_tickets: int = 0
    states: Counter[str] = field(default_factory=Counter)
    unmapped: list[str] = field(default_factory=list)
    preview: list[TicketPreview] = field(default_factory=list)

    @property
    def needs_timezone(self) -> bool:
        """True when some date had no offset and no zone was given to read it in."""
        return any(error.reason.endswith(gc.NO_ZONE) for error in self.errors)


def guess_mapping(header: list[str]) -> dict[str, str]:
    """A first mapping from header names: each field gets the best-named unused column."""
    by_name = {gc.normalise_name(column): column for column in reversed(header)}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for event_field, names in GUESSES.items():
        for name in names:
            column = by_name.get(name)
            if column is not None and column not in used:
                mapping[event_field] = column
                used.add(column)
                break
    return mapping


def guess_role(state: str) -> str:
    """A first role for a state from its name; anything unrecognised is ``open``."""
    name = state.strip().lower()
    if name in NEW_NAMES:
        return NEW
    for role, words in ROLE_WORDS:
        if any(word in name for word in words):
            return role
    return OPEN


def check_roles(roles: Mapping[str, str]) -> dict[str, str]:
    """The state roles with stripped names; raises ImportOptionError for an unknown role."""
    clean = {state.strip(): role for state, role in roles.items() if state.strip()}
    wrong = sorted(f"{state!r}: {role!r}" for state, role in clean.items() if role not in ROLES)
    if wrong:
        raise ImportOptionError(
            f"Unknown state role(s) {', '.join(wrong)}; use one of {', '.join(ROLES)}."
        )
    return clean


def check_mapping(mapping: Mapping[str, str], header: list[str]) -> dict[str, str]:
    """The column mapping without empty entries; raises ImportOptionError when unusable."""
    clean = {key: column for key, column in mapping.items() if column and key != STATES_KEY}
    unknown_fields = sorted(set(clean) - set(EVENT_FIELDS))
    if unknown_fields:
        raise ImportOptionError(f"Unknown event field(s) {', '.join(unknown_fields)}.")
    missing = [FIELD_LABELS[name] for name in REQUIRED_FIELDS if name not in clean]
    if missing:
        raise ImportOptionError(f"Choose a column for the required field(s) {', '.join(missing)}.")
    absent = sorted({column for column in clean.values() if column not in header})
    if absent:
        raise ImportOptionError(f"Column(s) {', '.join(map(repr, absent))} are not in the file.")
    return clean


def count_states(source: Source, state_column: str) -> Counter[str]:
    """How many rows each distinct value of ``state_column`` has (blank cells left out)."""
    header, records = gc.read_records(source)
    if state_column not in header:
        raise ImportOptionError(f"Column {state_column!r} is not in the file.")
    return Counter(
        record.get(state_column, "").strip()
        for _line, record in records
        if not blank(record.get(state_column))
    )


def _ticket_value(name: str, value: str, date_format: str, zone: tzinfo | None) -> Any:
    if name in DATE_FIELDS:
        return gc.parse_date(value, date_format, zone)
    if name == "priority":
        return gc.normalise_priority(value)
    if name == "csat":
        return gc.whole_number(value, 1, 5)
    return value.strip()


class _Folder:
    """Folds the rows of one ticket, collecting its problems as ``ParseError``s."""

    def __init__(
        self, columns: dict[str, str], roles: dict[str, str], date_format: str, zone: tzinfo | None
    ) -> None:
        self.columns = columns
        self.roles = roles
        self.date_format = date_format
        self.zone = zone

    def fold(self, external_id: str, rows: list[tuple[int, dict[str, str]]]) -> TicketPreview:
        errors: list[ParseError] = []
        columns = self.columns
        events: list[StateEvent] = []
        for line, record in rows:
            state = (record.get(columns["state"]) or "").strip()
            if not state:
                errors.append(ParseError(line, columns["state"], f"{external_id}: missing state"))
            elif state not in self.roles:
                errors.append(
                    ParseError(
                        line,
                        columns["state"],
                        f"{external_id}: state {state!r} is not in the state mapping "
                        f"(mark it as {', '.join(ROLES)})",
                    )
                )
            value = record.get(columns["at"]) or ""
            try:
                if blank(value):
                    raise ValueError("missing event time")
                at = gc.parse_date(value, self.date_format, self.zone)
            except ValueError as exc:
                errors.append(ParseError(line, columns["at"], f"{external_id}: {exc}"))
                continue
            if state in self.roles:
                events.append(StateEvent(at, state, line))

        # Ticket-level columns: the last non-empty cell of the ticket's rows wins.
        filled: list[str] = []
        values: dict[str, Any] = {"external_id": external_id}
        value_lines: dict[str, int] = {}
        for name in TICKET_COLUMNS:
            column = columns.get(name)
            if column is None:
                continue
            cell = next(
                ((line, r[column]) for line, r in reversed(rows) if not blank(r.get(column))),
                None,
            )
            if cell is None:
                values[name] = None if name in DATE_FIELDS or name == "csat" else ""
                continue
            distinct = {r[column].strip() for _, r in rows if not blank(r.get(column))}
            if len(distinct) > 1 and LAST_VALUE.code not in filled:
                filled.append(LAST_VALUE.code)
            value_lines[name] = cell[0]
            try:
                values[name] = _ticket_value(name, cell[1], self.date_format, self.zone)
            except ValueError as exc:
                errors.append(ParseError(cell[0], column, f"{external_id}: {exc}"))

        timeline = fold_events(events, self.roles)
        opened_at: datetime | None = values.get("opened_at")
        if "opened_at" not in value_lines and events:
            opened_at = min(event.at for event in events)
        if opened_at is not None:
            for event in events:
                if event.at < opened_at:
                    errors.append(
                        ParseError(
                            event.line,
                            columns["at"],
                            f"{external_id}: {event.state!r} at {event.at:%Y-%m-%d %H:%M} is "
                            "before the "
                            f"ticket was opened ({opened_at:%Y-%m-%d %H:%M})",
                        )
                    )
            response = values.get("first_response_at")
            if response is not None and response < opened_at:
                line = value_lines["first_response_at"]
                errors.append(
                    ParseError(
                        line,
                        columns["first_response_at"],
                        f"{external_id}: first response is before the ticket was opened",
                    )
                )
        if "opened_at" not in value_lines and opened_at is not None:
            filled.append(OPENED_FROM_FIRST_EVENT.code)
        if values.get("first_response_at") is None and timeline.first_response_at is not None:
            filled.append(RESPONSE_FROM_HISTORY.code)
        values.update(
            opened_at=opened_at,
            first_response_at=values.get("first_response_at") or timeline.first_response_at,
            resolved_at=timeline.resolved_at,
            closed_at=timeline.closed_at,
            reopen_count=timeline.reopen_count,
            status_history=timeline.history,
        )
        errors.sort(key=lambda e: (e.line, e.field))
        return TicketPreview(
            external_id,
            (rows[0][0], rows[-1][0]),
            len(rows),
            values,
            errors,
            timeline.collapsed,
            tuple(filled),
        )


def parse_event_log(
    source: Source,
    mapping: Mapping[str, str],
    states: Mapping[str, str],
    *,
    date_format: str = gc.AUTO,
    timezone: str | None = None,
    preview_tickets: int = 0,
) -> EventLogResult:
    """Fold every ticket of an event-log export into a ticket row with its status history.

    ``mapping`` is ``{event field: column}`` (``external_id``, ``at`` and ``state`` required;
    a ``STATES_KEY`` entry is ignored); ``states`` is ``{state value: role}``. A row whose state
    has no role is an error on that row. A ticket with any problem is left out of ``rows`` and
    each problem is reported with its line and column. Raises ImportOptionError for a mapping
    that does not fit the file, an unknown role or undecidable dates.
    """
    if date_format not in gc.DATE_FORMATS:
        raise ImportOptionError(f"Unknown date format {date_format!r}.")
    roles = check_roles(states)
    header, records = gc.read_records(source)
    columns = check_mapping(mapping, header)
    zone = resolve_timezone(timezone) if timezone else None
    if date_format == gc.AUTO:
        date_columns = [columns[name] for name in DATE_FIELDS if name in columns]
        date_format = gc.detect_date_format(
            [record.get(column) or "" for _, record in records for column in date_columns]
        )
    result = EventLogResult(date_format=date_format, records=len(records))

    tickets: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, record in records:
        state = (record.get(columns["state"]) or "").strip()
        if state:
            result.states[state] += 1
        external_id = (record.get(columns["external_id"]) or "").strip()
        if blank(external_id):
            result.error(line, columns["external_id"], "missing ticket id")
            continue
        tickets.setdefault(external_id, []).append((line, record))
    result.unmapped = sorted(set(result.states) - set(roles))
    result.tickets = len(tickets)

    folder = _Folder(columns, roles, date_format, zone)
    for external_id, rows in tickets.items():
        ticket = folder.fold(external_id, rows)
        if ticket.errors:
            result.errors += ticket.errors
            result.problem_tickets += 1
            lines = {error.line for error in ticket.errors}
            result.refused_lines |= lines
            result.apply(TICKET_LEFT_OUT, sum(1 for line, _ in rows if line not in lines))
        else:
            result.rows.append(ticket.values)
            result.apply(REPEATED_STATE, ticket.collapsed)
            result.used += len(rows) - ticket.collapsed
            result.notes.update(ticket.filled)
        if len(result.preview) < preview_tickets:
            result.preview.append(ticket)
    result.errors.sort(key=lambda e: e.line)
    return result
