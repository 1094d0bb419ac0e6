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
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
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


class UnreadableFileError(ImportOptionError):
    """The file itself cannot be read as the expected text: binary, truncated, not UTF-8.

    Its message is one sentence meant for the person who chose the file; nothing is imported.
    """


# Kinds of rule, in the order the summaries list them.
FILLED, CHANGED, MERGED, SKIPPED = "filled", "changed", "merged", "skipped"
RULE_KINDS = (FILLED, CHANGED, MERGED, SKIPPED)
KIND_LABELS = {
    FILLED: "value filled in",
    CHANGED: "value reinterpreted",
    MERGED: "merged into another row",
    SKIPPED: "left out",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """A documented way an importer reinterprets, fills, merges or leaves out rows.

    ``kind`` says what happens to the row (``filled``/``changed``: imported with a value the
    file did not say literally; ``merged``/``skipped``: not imported on its own). ``unit`` is
    what the count counts (rows of the file unless said otherwise). The codes are stable: they
    are stored on import jobs and quoted in ``docs/importers.md``.
    """

    code: str
    kind: str
    text: str
    unit: str = "rows"

    def line(self, count: int) -> str:
        """``"412 rows: resolved_at missing, ... (rule SN-R2)"``, as the summaries print it."""
        unit = self.unit[:-1] if count == 1 and self.unit.endswith("s") else self.unit
        return f"{count} {unit}: {self.text} (rule {self.code})"


RULES: dict[str, Rule] = {}
"""Every rule of every importer, by code (filled in as the importer modules are imported)."""


def rule(code: str, kind: str, text: str, unit: str = "rows") -> Rule:
    """Declare (register) one importer rule; importer modules call this at import time."""
    if kind not in RULE_KINDS:
        raise ValueError(f"unknown rule kind {kind!r}")
    declared = Rule(code, kind, text, unit)
    RULES[code] = declared
    return declared


@dataclass(frozen=True, slots=True)
class ParseError:
    """One problem in an input file, pinned to the physical line where its record starts."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


def _rule_order(item: tuple[str, int]) -> tuple[int, str]:
    return RULE_KINDS.index(RULES[item[0]].kind), item[0]


@dataclass
class Accounting:
    """What became of every record of the file, and which rules were applied how often.

    Every data record read is counted exactly once as *used* (it went into an imported row,
    possibly with a value a rule filled in or reinterpreted), *merged* or *skipped* by a rule,
    or *refused* (its line has an error that keeps it out). ``records == used + merged +
    skipped + refused`` (``balanced``); ``docs/importers.md`` explains the terms per format.
    ``notes`` counts each rule (by code) in the rule's own unit.
    """

    errors: list[ParseError] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)
    records: int = 0
    used: int = 0
    refused_lines: set[int] = field(default_factory=set)

    def error(self, line: int, field_name: str, reason: str, *, drop: bool = True) -> None:
        """Report a problem; ``drop`` says the record on ``line`` is left out because of it."""
        self.errors.append(ParseError(line, field_name, reason))
        if drop:
            self.refused_lines.add(line)

    def apply(self, declared: Rule, count: int = 1) -> None:
        """Count ``count`` applications of a rule."""
        if count:
            self.notes[declared.code] += count

    @property
    def refused(self) -> int:
        return len(self.refused_lines)

    def rule_count(self, kind: str) -> int:
        """Records a rule merged or skipped (rules counting other units are left out)."""
        return sum(
            count
            for code, count in self.notes.items()
            if RULES[code].kind == kind and RULES[code].unit == "rows"
        )

    @property
    def balanced(self) -> bool:
        merged, skipped = self.rule_count(MERGED), self.rule_count(SKIPPED)
        return self.records == self.used + merged + skipped + self.refused

    def summary(self) -> dict[str, Any]:
        """The record accounting and every rule applied, as stored on an import job."""
        return {
            "rows": {
                "read": self.records,
                "used": self.used,
                "merged": self.rule_count(MERGED),
                "skipped": self.rule_count(SKIPPED),
                "refused": self.refused,
            },
            "rules": [
                {
                    "code": code,
                    "kind": RULES[code].kind,
                    "count": count,
                    "unit": RULES[code].unit,
                    "text": RULES[code].text,
                    "line": RULES[code].line(count),
                }
                for code, count in sorted(self.notes.items(), key=_rule_order)
            ],
        }


@dataclass
class ParseResult(Accounting):
    """Rows a parser produced plus everything it could not use and every rule it applied."""

    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChecksResult(Accounting):
    """Check rows grouped per monitored key (monitor name, endpoint, site)."""

    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, key: str, row: dict[str, Any]) -> None:
        self.checks.setdefault(key, []).append(row)
        self.used += 1

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


def is_ambiguous(naive: datetime, zone: tzinfo) -> bool:
    """True when ``naive`` happened twice on the ``zone`` clock (the hour repeated in autumn)."""
    if zone is UTC:
        return False
    first, second = naive.replace(fold=0, tzinfo=zone), naive.replace(fold=1, tzinfo=zone)
    return first.utcoffset() != second.utcoffset()


def parse_iso_aware(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries its own offset (``Z`` accepted)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone offset")
    return parsed


# Magic bytes of files people pick by mistake instead of the CSV export.
_BINARY_KINDS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Word document"),
    (b"SQLite format 3", "an SQLite database"),
)


def _unwrap(data: bytes, member_suffix: str) -> bytes:
    """Unwrap zip or gzip content by its magic bytes, so uploads need no file name."""
    if data[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            # macOS archivers add "__MACOSX/._name" resource forks next to the real file.
            names = [
                n
                for n in archive.namelist()
                if not n.startswith("__MACOSX/") and n.lower().endswith(member_suffix)
            ]
            if len(names) != 1:
                if any(n.startswith("xl/") for n in archive.namelist()):
                    raise UnreadableFileError(
                        "This is an Excel workbook, not a CSV file: save it as CSV (UTF-8) first."
                    )
                raise UnreadableFileError(
                    f"Expected exactly one {member_suffix} file in the zip, "
                    f"found {names or 'none'}."
                )
            return archive.read(names[0])
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
            raise UnreadableFileError(
                f"The zip archive is damaged or truncated ({exc}): download or copy it again."
            ) from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise UnreadableFileError(
                f"The gzip file is damaged or truncated ({exc}): download or copy it again."
            ) from None
    return data


def decode_text(data: bytes) -> str:
    """The file's bytes as text; UnreadableFileError (one clear sentence) when not UTF-8 text."""
    for magic, kind in _BINARY_KINDS:
        if data.startswith(magic):
            raise UnreadableFileError(f"This is {kind}, not a CSV text file.")
    if b"\x00" in data[:65536]:
        raise UnreadableFileError("This is a binary file, not a CSV text file.")
    try:
        # utf-8-sig: spreadsheet tools often prepend a byte order mark to CSV exports.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableFileError(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): "
            "export it again as CSV UTF-8."
        ) from None


def read_bytes(source: Source, member_suffix: str = ".csv") -> bytes:
    """The (unwrapped) content of a path or binary stream."""
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            name = os.fspath(source)
            raise UnreadableFileError(f"Cannot read {name!r}: {exc.strerror}.") from None
    else:
        data = source.read()  # type: ignore[assignment]
    return _unwrap(data, member_suffix)


def open_text(source: Source, member_suffix: str = ".csv") -> IO[str]:
    """Open a path or stream as text, transparently unpacking ``.zip`` and ``.gz`` content.

    The whole content is decoded up front, so a binary, truncated or non-UTF-8 file is one
    ``UnreadableFileError`` before any row is used, never a decoding error half-way through.
    """
    if isinstance(source, io.TextIOBase) or (
        not isinstance(source, str | os.PathLike) and "b" not in getattr(source, "mode", "b")
    ):
        return source  # type: ignore[return-value]
    return io.StringIO(decode_text(read_bytes(source, member_suffix)), newline="")


READ_PROGRESS: ContextVar[Callable[[float], None] | None] = ContextVar(
    "READ_PROGRESS", default=None
)
"""Called with the share of the file read so far (0-1) while records are read, so a job can
move its progress bar through the parse; unset (None) for commands and tests."""
REPORT_EVERY = 10_000


def csv_lines(reader: Iterator[list[str]] | Any, stream: IO[str] | None = None) -> Iterator[Any]:
    """Iterate a csv reader, turning a malformed-CSV error into an UnreadableFileError.

    With ``stream`` (the text being read) and a ``READ_PROGRESS`` hook set, reports how much
    of the text has been read every ``REPORT_EVERY`` records.
    """
    report = READ_PROGRESS.get() if isinstance(stream, io.StringIO) else None
    size = len(stream.getvalue()) if report is not None else 0  # type: ignore[union-attr]
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableFileError(f"Line {reader.line_num} is not valid CSV ({exc}).") from None
        count += 1
        if report is not None and size and count % REPORT_EVERY == 0:
            report(stream.tell() / size)  # type: ignore[union-attr]
        yield row


def csv_records(
    source: Source, required: tuple[str, ...], member_suffix: str = ".csv"
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, record)`` for each CSV record, ``line`` being where the record starts.

    Quoted cells may span lines (Uptime Kuma messages do), so the start line is computed from
    the reader's line counter rather than by counting records. A file without the
    ``required`` columns (or without any header) raises ``ImportOptionError`` first.
    """
    text = open_text(source, member_suffix)
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise UnreadableFileError(f"The header line is not valid CSV ({exc}).") from None
    if not header:
        raise UnreadableFileError(
            f"The file is empty: expected a CSV with the columns {', '.join(required)}."
        )
    missing = [name for name in required if name not in header]
    if missing:
        shown = ", ".join(header[:12]) + (" ..." if len(header) > 12 else "")
        raise UnreadableFileError(
            f"Wrong columns: missing {', '.join(missing)} (the file has {shown}). "
            "Is this the right export and format?"
        )
    previous_end = reader.line_num
    for record in csv_lines(reader, text):
        yield previous_end + 1, record
        previous_end = reader.line_num


def blank(value: str | None) -> bool:
    """True for the export's ways of writing "no value"."""
    return value is None or value.strip() in MISSING
