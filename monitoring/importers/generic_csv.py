"""Any service desk's CSV export (Jira, Zammad, osTicket, ...) → ticket rows, by a column mapping.

Pure Python (house style point 2). The caller says which CSV column holds each ticket field
(``{"external_id": "Key", "opened_at": "Created", ...}``); this module guesses a mapping from
header names, detects how dates are written and turns each record into a row for
``tickets_ingest``, reporting every unusable cell as a ``ParseError`` with its line.

Rules (also shown on the mapping page):

* **Dates.** ISO 8601 (``2024-03-05 14:30``, ``2024-03-05T14:30:00+01:00``) or numeric
  ``D/M/Y`` / ``M/D/Y`` with ``/``, ``.`` or ``-``, an optional ``HH:MM[:SS]`` and optional
  AM/PM. *Auto* looks at every value of the mapped date columns: ISO when they all are; when
  any first number is above 12 the file is day-first, when any second number is, month-first;
  when neither happens (every day is ≤ 12) the order cannot be known and the user must choose.
* **Time zones.** A value with an offset keeps it; a naive value is read in the chosen zone,
  and without one it is an error (a guessed zone shifts every deadline silently).
* **Priority.** ``P1``-``P4`` and ``1``-``4`` (also ``"1 - Critical"``) keep their number;
  words map by meaning: critical/urgent/highest/blocker → P1, high/major → P2,
  medium/moderate/normal → P3, low/lowest/minor/trivial → P4. Anything else is an error.
* ``reopen_count`` and ``csat`` are whole numbers (csat 1-5); text fields are stripped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from monitoring.importers.common import (
    CHANGED,
    FILLED,
    ImportOptionError,
    ParseError,
    ParseResult,
    Source,
    blank,
    csv_lines,
    localize,
    open_text,
    resolve_timezone,
    rule,
)

TICKET_FIELDS = (
    "external_id",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "priority",
    "category",
    "reopen_count",
    "csat",
    "agreement",
    "service",
)
REQUIRED_FIELDS = ("external_id", "opened_at")
DATE_FIELDS = ("opened_at", "first_response_at", "resolved_at", "closed_at")

PRIORITY_WORD = rule(
    "CSV-R1",
    CHANGED,
    "priority written as a word, mapped by its meaning (critical → P1, high → P2, "
    "medium → P3, low → P4)",
)
NO_REOPEN_COUNT = rule("CSV-R2", FILLED, "reopen_count empty: read as 0")

AUTO, DAYFIRST, MONTHFIRST, ISO = "auto", "dayfirst", "monthfirst", "iso"
DATE_FORMATS = (AUTO, DAYFIRST, MONTHFIRST, ISO)

# Lower-cased, punctuation-free header names that usually hold each field, best first.
GUESSES: dict[str, tuple[str, ...]] = {
    "external_id": ("key", "issuekey", "number", "ticketnumber", "id", "ticketid", "ticket"),
    "opened_at": ("created", "createdat", "opened", "openedat", "createdon", "datecreated"),
    "first_response_at": ("firstresponse", "firstresponseat", "firstresponsetime", "responded"),
    "resolved_at": ("resolved", "resolvedat", "resolutiondate", "solvedat", "solved"),
    "closed_at": ("closed", "closedat", "closedate", "dateclosed"),
    "priority": ("priority", "prio", "urgency", "severity"),
    "category": ("category", "issuetype", "type", "group", "component", "components"),
    "reopen_count": ("reopencount", "reopened", "reopens", "reopentimes"),
    "csat": ("csat", "satisfaction", "satisfactionrating", "rating"),
    "agreement": ("agreement", "sla", "contract"),
    "service": ("service", "businessservice", "servicename"),
}

PRIORITY_WORDS = {
    "critical": "P1",
    "urgent": "P1",
    "highest": "P1",
    "blocker": "P1",
    "high": "P2",
    "major": "P2",
    "medium": "P3",
    "moderate": "P3",
    "normal": "P3",
    "low": "P4",
    "lowest": "P4",
    "minor": "P4",
    "trivial": "P4",
}

_NUMERIC_DATE = re.compile(
    r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_LEADING_NUMBER = re.compile(r"^\s*[Pp]?(\d)\b")
NO_ZONE = "has no time zone: choose the time zone of the file"


class DateFormatError(ImportOptionError):
    """The dates' day/month order cannot be decided from the values: the user must choose."""


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One mapped record for the preview table: its line, values and problems."""

    line: int
    values: dict[str, Any]
    errors: list[ParseError]

    @property
    def cells(self) -> list[tuple[str, Any]]:
        """``(field, value)`` for every ticket field in table order; dates as ISO text."""
        return [
            (name, value.isoformat() if isinstance(value, datetime) else value)
            for name in TICKET_FIELDS
            for value in [self.values.get(name)]
        ]


@dataclass
class MappedResult(ParseResult):
    """A ``ParseResult`` plus what the mapping page shows.

    ``date_format`` is the order actually used (auto resolved); ``problem_lines`` counts
    records with at least one problem; ``preview`` holds the first records as mapped.
    """

    date_format: str = ISO
    problem_lines: int = 0
    records: int = 0
    preview: list[PreviewRow] = field(default_factory=list)

    @property
    def needs_timezone(self) -> bool:
        """True when some date had no offset and no zone was given to read it in."""
        return any(error.reason.endswith(NO_ZONE) for error in self.errors)


def normalise_name(name: str) -> str:
    """A header name lower-cased without punctuation, as ``GUESSES`` spells them."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def read_header(source: Source) -> list[str]:
    """The file's column names, in order; an empty file is an option error."""
    header = next(csv_lines(csv.reader(open_text(source))), None)
    if not header:
        raise ImportOptionError("The file is empty: expected a CSV with a header row.")
    return [name.strip() for name in header]


def guess_mapping(header: list[str]) -> dict[str, str]:
    """A first mapping from header names: each field gets the best-named unused column."""
    by_name = {normalise_name(column): column for column in reversed(header)}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for ticket_field, names in GUESSES.items():
        for name in names:
            column = by_name.get(name)
            if column is not None and column not in used:
                mapping[ticket_field] = column
                used.add(column)
                break
    return mapping


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def detect_date_format(values: list[str]) -> str:
    """``dayfirst``, ``monthfirst`` or ``iso`` for these date strings.

    Raises ImportOptionError when day and month cannot be told apart (every first and second
    number is at most 12) or when the values contradict each other.
    """
    present = [value.strip() for value in values if not blank(value)]
    if all(_is_iso(value) for value in present):
        return ISO
    day_first = month_first = False
    for value in present:
        match = _NUMERIC_DATE.match(value)
        if match is None:
            continue
        day_first |= int(match.group(1)) > 12
        month_first |= int(match.group(2)) > 12
    if day_first and month_first:
        raise DateFormatError(
            "The dates contradict each other (some are day-first, some month-first): "
            "check the date columns of the mapping."
        )
    if day_first:
        return DAYFIRST
    if month_first:
        return MONTHFIRST
    raise DateFormatError(
        "Every date in the file has a day of 12 or less, so 03/04 could be 3 April or "
        "4 March: choose day-first or month-first."
    )


def parse_date(value: str, date_format: str, zone: tzinfo | None) -> datetime:
    """One cell as an aware datetime; ValueError says why it cannot be."""
    text = value.strip()
    match = _NUMERIC_DATE.match(text) if date_format in (DAYFIRST, MONTHFIRST) else None
    if match is not None:
        first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        day, month = (first, second) if date_format == DAYFIRST else (second, first)
        hour = int(match.group(4) or 0)
        if match.group(7):
            if not 1 <= hour <= 12:
                raise ValueError(f"{value!r}: hour {hour} with AM/PM")
            hour = hour % 12 + (12 if match.group(7).lower() == "pm" else 0)
        try:
            naive = datetime(
                year, month, day, hour, int(match.group(5) or 0), int(match.group(6) or 0)
            )
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date ({exc})") from None
    else:
        try:
            naive = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            expected = {DAYFIRST: "D/M/YYYY", MONTHFIRST: "M/D/YYYY"}.get(date_format, "ISO")
            raise ValueError(f"{value!r} is not a {expected} date") from None
        if naive.tzinfo is not None:
            return naive
    if zone is None:
        raise ValueError(f"{value!r} {NO_ZONE}")
    return localize(naive, zone)


def normalise_priority(value: str) -> str:
    """``"1"``, ``"P1"``, ``"1 - Critical"``, ``"Critical"`` → ``"P1"``; blank → ``""``."""
    if blank(value):
        return ""
    match = _LEADING_NUMBER.match(value)
    if match is not None and match.group(1) in "1234":
        return f"P{match.group(1)}"
    word = PRIORITY_WORDS.get(value.strip().lower())
    if word is None:
        raise ValueError(f"{value!r} is not a priority (P1-P4, 1-4 or critical/high/medium/low)")
    return word


def whole_number(value: str, low: int, high: int | None = None) -> int:
    """``value`` as an int within ``low``..``high``; ValueError says why it is not."""
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < low or (high is not None and number > high):
        raise ValueError(f"{number} is outside {low}-{high}" if high else f"{number} < {low}")
    return number


def check_mapping(mapping: Mapping[str, str], header: list[str]) -> dict[str, str]:
    """The mapping without empty entries; raises ImportOptionError when it cannot be used."""
    clean = {key: column for key, column in mapping.items() if column}
    unknown_fields = sorted(set(clean) - set(TICKET_FIELDS))
    if unknown_fields:
        raise ImportOptionError(f"Unknown ticket field(s) {', '.join(unknown_fields)}.")
    missing = [name for name in REQUIRED_FIELDS if name not in clean]
    if missing:
        raise ImportOptionError(f"Choose a column for the required field(s) {', '.join(missing)}.")
    absent = sorted({column for column in clean.values() if column not in header})
    if absent:
        raise ImportOptionError(f"Column(s) {', '.join(map(repr, absent))} are not in the file.")
    return clean


def read_records(source: Source) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and every non-empty record as ``(line, {column: cell})``."""
    text = open_text(source)
    reader = csv.reader(text)
    header = [name.strip() for name in next(csv_lines(reader), None) or []]
    if not header:
        raise ImportOptionError("The file is empty: expected a CSV with a header row.")
    records: list[tuple[int, dict[str, str]]] = []
    previous_end = reader.line_num
    for cells in csv_lines(reader, text):
        if any(cell.strip() for cell in cells):
            records.append((previous_end + 1, dict(zip(header, cells, strict=False))))
        previous_end = reader.line_num
    return header, records


def _map_record(
    record: dict[str, str], mapping: dict[str, str], date_format: str, zone: tzinfo | None
) -> tuple[dict[str, Any], list[tuple[str, str]], set[str]]:
    """One record as a ticket row plus ``(field, reason)`` problems and the rules it used."""
    row: dict[str, Any] = {}
    notes: set[str] = set()
    problems: list[tuple[str, str]] = []
    for ticket_field, column in mapping.items():
        value = record.get(column) or ""
        try:
            if ticket_field in DATE_FIELDS:
                row[ticket_field] = None if blank(value) else parse_date(value, date_format, zone)
            elif ticket_field == "priority":
                row[ticket_field] = normalise_priority(value)
                if not blank(value) and value.strip().lower() in PRIORITY_WORDS:
                    notes.add(PRIORITY_WORD.code)
            elif ticket_field == "reopen_count":
                row[ticket_field] = 0 if blank(value) else whole_number(value, 0)
                if blank(value):
                    notes.add(NO_REOPEN_COUNT.code)
            elif ticket_field == "csat":
                row[ticket_field] = None if blank(value) else whole_number(value, 1, 5)
            else:
                row[ticket_field] = "" if blank(value) else value.strip()
        except ValueError as exc:
            problems.append((ticket_field, str(exc)))
    for ticket_field in REQUIRED_FIELDS:
        if ticket_field not in dict(problems) and not row.get(ticket_field):
            problems.append((ticket_field, "missing"))
    opened = row.get("opened_at")
    for ticket_field in DATE_FIELDS[1:]:
        later = row.get(ticket_field)
        if opened and later and later < opened:
            problems.append((ticket_field, "before opened_at"))
    return row, problems, notes


def parse_tickets(
    source: Source,
    mapping: Mapping[str, str],
    *,
    date_format: str = AUTO,
    timezone: str | None = None,
    preview_rows: int = 0,
) -> MappedResult:
    """Map every record of a CSV export to a ticket row.

    ``mapping`` is ``{ticket field: column}``; ``external_id`` and ``opened_at`` are required.
    ``timezone`` is needed only when dates carry no offset (each such cell is otherwise an
    error). A record with any problem is left out of ``rows`` and each problem is reported.
    Raises ImportOptionError for a mapping that does not fit the file or undecidable dates.
    """
    if date_format not in DATE_FORMATS:
        raise ImportOptionError(f"Unknown date format {date_format!r}.")
    header, records = read_records(source)
    columns = check_mapping(mapping, header)
    zone = resolve_timezone(timezone) if timezone else None
    if date_format == AUTO:
        date_columns = [columns[name] for name in DATE_FIELDS if name in columns]
        date_format = detect_date_format(
            [record.get(column) or "" for _, record in records for column in date_columns]
        )
    result = MappedResult(date_format=date_format, records=len(records))
    first_line: dict[str, int] = {}
    for line, record in records:
        row, problems, notes = _map_record(record, columns, date_format, zone)
        external_id = row.get("external_id")
        if external_id and external_id in first_line:
            problems.append(("external_id", f"duplicate of line {first_line[external_id]}"))
        elif external_id:
            first_line[external_id] = line
        errors = [ParseError(line, name, reason) for name, reason in problems]
        result.errors += errors
        if errors:
            result.problem_lines += 1
            result.refused_lines.add(line)
        else:
            result.rows.append(row)
            result.used += 1
            result.notes.update(notes)
        if len(result.preview) < preview_rows:
            result.preview.append(PreviewRow(line, row, errors))
    return result
