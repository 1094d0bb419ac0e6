"""The ceiling of a write: ``COPY … FROM STDIN`` of exactly the rows the subject stored, into
the same indexed tables. The rows are read back with ``COPY (SELECT …) TO STDOUT``, with the
keys that must stay unique moved aside (new ticket ids, another external id or service)."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence


def copy_out(select: str, params: Sequence = ()) -> io.BytesIO:
    from django.db import connection

    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        sql = cursor.mogrify(select, params).decode()
        cursor.cursor.copy_expert(f"COPY ({sql}) TO STDOUT", buffer)
    buffer.seek(0)
    return buffer


def copy_in(parts: list[tuple[str, list[str], io.BytesIO]]) -> float:
    """COPY every (table, columns, rows) in one transaction; return the seconds it took."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in parts:
            rows.seek(0)
            cursor.cursor.copy_expert(
                f"COPY {table} ({', '.join(quoted(columns))}) FROM STDIN", rows
            )
    return time.perf_counter() - started


def quoted(names: Sequence[str]) -> list[str]:
    return [f'"{name}"' for name in names]


def select_list(names: Sequence[str], replace: dict[str, str]) -> str:
    """The columns to read back, some replaced by an expression (a new key)."""
    return ", ".join(replace.get(name, f'"{name}"') for name in names)


def columns(model: type, *, without: Sequence[str] = ()) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if f.column not in without]
