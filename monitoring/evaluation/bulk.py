"""Set-based writes for the evaluation: many rows in a few statements, whatever the batch size.

On PostgreSQL the rows are streamed with ``COPY … FROM STDIN`` into a temporary staging
table and moved into the real table with one ``INSERT … SELECT … ON CONFLICT``: the database
parses no SQL per row and Django builds no model instance per row, which is what made the
evaluation of a large log spend most of its time in ``bulk_create``. An upsert touches only
rows whose values changed (``IS DISTINCT FROM``), so re-evaluating an unchanged ticket
writes nothing. Other databases (SQLite for the demo) get the same result through
``bulk_create``.

Rows are plain tuples in the order of ``columns`` (column names, e.g. ``ticket_id``).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def upsert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    conflict: Sequence[str],
    update: Sequence[str] = (),
    compare: Sequence[str] | None = None,
) -> int:
    """Insert ``rows``; a row whose ``conflict`` columns match a stored row updates that
    row's ``update`` columns (or is skipped when ``update`` is empty), and only when one of
    ``compare`` (default: ``update``) differs. Returns the number of rows inserted or changed
    (on PostgreSQL; elsewhere the number of rows given)."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        nullable = [c for c in columns if _field(model, c).null]
        return _pg_upsert(model._meta.db_table, columns, nullable, rows, conflict, update, compare)
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    if update:
        model._default_manager.bulk_create(
            objects,
            batch_size=500,
            update_conflicts=True,
            unique_fields=list(conflict),
            update_fields=list(update),
        )
    else:
        model._default_manager.bulk_create(objects, batch_size=500, ignore_conflicts=True)
    return len(rows)


def _pg_upsert(
    table: str,
    columns: Sequence[str],
    nullable: Sequence[str],
    rows: Sequence[tuple],
    conflict: Sequence[str],
    update: Sequence[str],
    compare: Sequence[str] | None,
) -> int:
    cols = ", ".join(f'"{c}"' for c in columns)
    # One staging table per target table and column list, kept for the connection's life
    # (creating one per batch would churn the catalogue); emptied before each use.
    stage = f"eval_stage_{table}_{zlib.crc32(cols.encode()):08x}"
    if update:
        compared = compare if compare is not None else update
        sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update)
        old = ", ".join(f't."{c}"' for c in compared)
        new = ", ".join(f'EXCLUDED."{c}"' for c in compared)
        action = f"DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
    else:
        action = "DO NOTHING"
    # Without an update, any unique constraint may skip a row (like ``ignore_conflicts``).
    keys = "(" + ", ".join(f'"{c}"' for c in conflict) + ")" if update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{stage}" AS '
            f'SELECT {cols} FROM "{table}" WITH NO DATA'
        )
        cursor.execute(f'TRUNCATE "{stage}"')
        options = "FORMAT csv"
        if nullable:
            options += ", FORCE_NULL (" + ", ".join(f'"{c}"' for c in nullable) + ")"
        copy = f'COPY "{stage}" ({cols}) FROM STDIN WITH ({options})'
        cursor.copy_expert(copy, _copy_buffer(rows))
        cursor.execute(
            f'INSERT INTO "{table}" AS t ({cols}) SELECT {cols} FROM "{stage}" '
            f"ON CONFLICT {keys} {action}"
        )
        return cursor.rowcount


def _copy_buffer(rows: Sequence[tuple]) -> io.StringIO:
    """``rows`` as CSV, written by the C ``csv`` module: every string quoted, so an empty
    string stays empty while ``None`` (also written as an empty quoted field) is turned
    back into NULL by ``FORCE_NULL`` on the nullable columns."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    return buffer


def _field(model: type[Model], column: str):
    return next(f for f in model._meta.concrete_fields if f.column == column)
