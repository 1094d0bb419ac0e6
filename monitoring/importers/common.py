"""Shared pieces of the importers: problem reports, result objects, opening files, dates.

Pure Python on purpose (house style point 2): the same parsers serve a management command, a
browser upload job and the API, and the tests run them over the real exports in seconds.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Source = str | os.PathLike[str] | IO[bytes] | IO[str]
"""What every parser accepts: a path, or an open binary or text stream."""

MISSING = frozenset({"", "?"})
"""Cell values that mean "no value" (ServiceNow's export writes ``?``)."""


class ImportOptionError(ValueError):
    """An option is missing or invalid; raised before any row is read."""


@dataclass(frozen=True, slots=True)
class ParseError:
    """One problem in an input file, pinned to the physical line where its record starts."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class ParseResult:
    """Rows a parser produced plus everything it could not use.

    ``notes`` counts applications of documented rules (a fallback taken, a repeat collapsed), so
    an import can show the user what was interpreted without flooding the error list.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)

    def error(self, line: int, field_name: str, reason: str) -> None:
        self.errors.append(ParseError(line, field_name, reason))


@dataclass
class ChecksResult:
    """Check rows grouped per monitored key (monitor name, endpoint, site)."""

    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)

    def error(self, line: int, field_name: str, reason: str) -> None:
        self.errors.append(ParseError(line, field_name, reason))

    def add(self, key: str, row: dict[str, Any]) -> None:
        self.checks.setdefault(key, []).append(row)

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self.checks.values())


def resolve_timezone(name: str | None) -> tzinfo:
    """Return the zone for naive timestamps; refuse to guess one.

    A naive export read in the wrong zone shifts every deadline by hours without any visible
    error, so the caller must say which zone the exporting system wrote in.
    """
    if not name:
        raise ImportOptionError(
            "This file has timestamps without a time zone: pass timezone='Area/City' "
            "(the zone the exporting system used, e.g. 'Europe/Lisbon' or 'UTC')."
        )
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportOptionError(f"Unknown time zone {name!r}.") from exc


def localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to a naive wall-clock time, rejecting times that never happened.

    Ambiguous times (the repeated hour when clocks go back) take the first occurrence
    (``fold=0``): the export does not say which one was meant. A time inside the spring-forward
    gap did not exist on that clock, so it is an error rather than a silent shift.
    """
    aware = naive.replace(tzinfo=zone)
    if zone is not UTC:
        round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != naive:
            raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (clock change)")
    return aware


def parse_iso_aware(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries its own offset (``Z`` accepted)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone offset")
    return parsed


def _sniff_binary(raw: IO[bytes], member_suffix: str) -> IO[bytes]:
    """Unwrap zip or gzip content by its magic bytes, so uploads need no file name."""
    data = raw.read()
    if data[:2] == b"PK":
        archive = zipfile.ZipFile(io.BytesIO(data))
        # macOS archivers add "__MACOSX/._name" resource forks next to the real file.
        names = [
            n
            for n in archive.namelist()
            if not n.startswith("__MACOSX/") and n.lower().endswith(member_suffix)
        ]
        if len(names) != 1:
            raise ImportOptionError(
                f"Expected exactly one {member_suffix} file in the zip, found {names or 'none'}."
            )
        return io.BytesIO(archive.read(names[0]))
    if data[:2] == b"\x1f\x8b":
        return io.BytesIO(gzip.decompress(data))
    return io.BytesIO(data)


def open_text(source: Source, member_suffix: str = ".csv") -> IO[str]:
    """Open a path or stream as text, transparently unpacking ``.zip`` and ``.gz`` content."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            binary = _sniff_binary(handle, member_suffix)
    elif isinstance(source, io.TextIOBase) or "b" not in getattr(source, "mode", "b"):
        return source  # type: ignore[return-value]
    else:
        binary = _sniff_binary(source, member_suffix)  # type: ignore[arg-type]
    # utf-8-sig: spreadsheet tools often prepend a byte order mark to CSV exports.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def csv_records(
    source: Source, required: tuple[str, ...], member_suffix: str = ".csv"
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, record)`` for each CSV record, ``line`` being where the record starts.

    Quoted cells may span lines (Uptime Kuma messages do), so the start line is computed from
    the reader's line counter rather than by counting records.
    """
    reader = csv.DictReader(open_text(source, member_suffix))
    header = reader.fieldnames or []
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportOptionError(f"Missing column(s) {', '.join(missing)}; found {header}.")
    previous_end = reader.line_num
    for record in reader:
        yield previous_end + 1, record
        previous_end = reader.line_num


def blank(value: str | None) -> bool:
    """True for the export's ways of writing "no value"."""
    return value is None or value.strip() in MISSING
