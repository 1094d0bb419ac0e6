"""Serialising a short critical section across processes with a database lock."""

from __future__ import annotations

import zlib

from django.db import connection


def hold_transaction_lock(name: str) -> None:
    """Wait for and hold the lock called ``name`` until the current transaction ends.

    On PostgreSQL a transaction-level advisory lock, so two web processes numbering new rows
    at the same moment take turns instead of picking the same number. SQLite serialises
    writing transactions itself, so nothing is needed there. Call it inside ``atomic()``.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode())])
