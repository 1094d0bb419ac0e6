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
from typing import Any

from django.db import connection

# COPY's text format: a tab between columns, a newline after each row, \N for NULL; these
# characters (and the backslash itself) inside a value are written as backslash escapes.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value: Any) -> str:
    """One value in COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return str(value).translate(_ESCAPES)


def copy_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as a COPY text-format document."""
    return "".join("\t".join(map(copy_value, row)) + "\n" for row in rows)


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` with ``rows`` on the current connection."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO(copy_text(rows)))


def uses_copy() -> bool:
    """Whether the set-based PostgreSQL path applies (SQLite keeps the ORM path)."""
    return connection.vendor == "postgresql"
