"""Bulk writes the ORM makes slow: updating many saved rows by primary key."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

BATCH_SIZE = 2000


def bulk_update_rows(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
    batch_size: int = BATCH_SIZE,
) -> None:
    """Write ``fields`` of ``rows`` (saved instances) by primary key, ``batch_size`` rows per
    statement. Like ``bulk_update``, it runs no ``save()``, signals or ``auto_now``.

    On PostgreSQL this is one ``UPDATE … FROM (VALUES …)`` per batch. Django's
    ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` expression per row and field in
    Python: 10,000 changed tickets took 50 s, almost all of it CPU in the ORM, against 1-2 s
    here (``bench/ingest.py``, ``docs/benchmarks.md``). Other databases (SQLite in
    development) keep ``bulk_update``."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, list(fields), batch_size=max(batch_size // 4, 1))
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    key = quote(meta.pk.column)
    names = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(
        f"{quote(column.column)} = v.{quote(column.column)}" for column in columns[1:]
    )
    # Every value is cast to its column's type: a VALUES list has no column types, and a
    # NULL or a string in the first row would otherwise make the whole column text.
    row_template = "(" + ", ".join(f"%s::{c.cast_db_type(connection)}" for c in columns) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            params = [
                column.get_db_prep_save(getattr(row, column.attname), connection)
                for row in batch
                for column in columns
            ]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments}"
                f" FROM (VALUES {', '.join([row_template] * len(batch))}) AS v({names})"
                f" WHERE t.{key} = v.{key}",
                params,
            )
