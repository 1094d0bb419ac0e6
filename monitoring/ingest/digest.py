"""The idempotency digest of an ingested ticket (pure, no Django).

A ticket row's digest lets a re-sent batch be recognised as unchanged without loading every
ticket's status history. On PostgreSQL it is computed in SQL from the staging tables
(``monitoring.ingest.upsert``); :func:`ticket_digest` is the same formula in Python, for the
fallback path and the data migration, and a test holds the two to the same answers.

The material is a canonical text: every value in a fixed order, separated by ``|``; NULL is
``~``; integers in decimal; texts prefixed with their length in characters (``5:Hello``), so
no text can imitate a separator; times as integer microseconds since the Unix epoch (UTC),
exactly what ``extract(epoch …)`` gives in PostgreSQL. The history is ``~`` when the row sent
none (the stored history stays) and ``[`` + one ``at,status,pauses,resolves;`` per entry in
time order + ``]`` when it did, so "no history sent" and "an empty history" differ.

:func:`legacy_digest` is the formula used before (a hash of a JSON encoding, 13 % of the
ingest's CPU): the data migration that introduced this one uses it to recognise which stored
digests still describe their row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoring.ingest.history import StatusEntry

# The ticket values covered, in the digest's order (the columns of ``monitoring_ticket``
# without their ``_id`` suffix distinction: ``agreement_id`` and ``service_id`` are ids).
DIGEST_FIELDS = (
    "agreement_id",
    "service_id",
    "priority",
    "category",
    "title",
    "assignee",
    "state",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "csat",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _part(value: Any) -> str:
    if value is None:
        return "~"
    if isinstance(value, bool):  # a bool is an int; never a ticket value, but be exact
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return str((value - EPOCH) // MICROSECOND)
    text = str(value)
    return f"{len(text)}:{text}"


def digest_material(values: Mapping[str, Any], history: Sequence[StatusEntry] | None) -> str:
    """The canonical text hashed by :func:`ticket_digest`."""
    parts = [_part(values.get(name)) for name in DIGEST_FIELDS]
    if history is None:
        parts.append("~")
    else:
        entries = "".join(
            f"{_part(e.at)},{_part(e.status)},{_part(e.pauses_clock)},{_part(e.resolves)};"
            for e in sorted(history, key=lambda e: e.at)
        )
        parts.append(f"[{entries}]")
    return "|".join(parts)


def ticket_digest(values: Mapping[str, Any], history: Sequence[StatusEntry] | None) -> str:
    """The 32-hex-digit digest of a cleaned ticket row (``values`` keyed as in
    :data:`DIGEST_FIELDS`) and its history (None when the row sent none)."""
    return hashlib.md5(digest_material(values, history).encode(), usedforsecurity=False).hexdigest()


def legacy_digest(values: Mapping[str, Any], history: Sequence[StatusEntry] | None) -> str:
    """The digest as computed before: BLAKE2b of a sorted-keys JSON encoding."""

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    material = {
        "values": {key: plain(value) for key, value in sorted(values.items())},
        "history": None
        if history is None
        else [(e.at.isoformat(), e.status, e.pauses_clock, e.resolves) for e in history],
    }
    encoded = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()
