"""Streaming validated rows into PostgreSQL with ``COPY … FROM STDIN`` (text format).

The ingest writes a batch into temporary staging tables with one ``COPY`` each and moves it
into the real tables with ``INSERT … SELECT … ON CONFLICT`` (``monitoring.ingest.upsert``):
the rows cross the wire once, as compact text, and PostgreSQL does the set work in C. An
``INSERT`` per 2,000 rows (``bulk_create``) spent half of the worker's CPU building SQL.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection

# COPY's text format: a tab between columns, a newline after each row, \N for NULL; these
# characters (and the backslash itself) inside a value are written as backslash escapes.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def text(value: str) -> str:
    """A text value in COPY text format. Most values need no escape: ``isprintable`` is
    false for tab, newline and carriage return, and cheaper than translating every value."""
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_ESCAPES)


def number(value: int | None) -> str:
    return NULL if value is None else str(value)


def moment(value: datetime | None) -> str:
    """An aware datetime (ISO 8601 with its offset), or NULL."""
    return NULL if value is None else value.isoformat()


def flag(value: bool) -> str:
    return "t" if value else "f"


def copy_into(table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """``COPY table (columns) FROM STDIN`` on the current connection; ``lines`` are rows in
    COPY text format, each ending with a newline."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO("".join(lines)))


def uses_copy() -> bool:
    """Whether the set-based PostgreSQL path applies (SQLite keeps the ORM path)."""
    return connection.vendor == "postgresql"
