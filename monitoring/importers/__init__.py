"""Parsers for tickets, checks and maintenance windows exported by other tools.

Pure Python (no Django import, house style point 2): each parser takes a path or stream and
returns plain rows in the shapes ``monitoring.ingest`` accepts, with every unusable row reported
as a ``ParseError`` carrying its line. Mapping choices are documented in ``docs/importers.md``.
"""

from monitoring.importers.common import (
    RULES,
    ChecksResult,
    ImportOptionError,
    ParseError,
    ParseResult,
    Rule,
    UnreadableFileError,
    csv_records,
)

__all__ = [
    "RULES",
    "ChecksResult",
    "ImportOptionError",
    "ParseError",
    "ParseResult",
    "Rule",
    "UnreadableFileError",
    "csv_records",
]
