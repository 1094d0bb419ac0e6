"""Parsing of row values shared by the ingest functions.

Each parser takes the raw value (from JSON, CSV or an importer) and returns the clean value or
raises :class:`FieldError` with the reason. Empty strings count as absent, because CSV cannot
tell an empty cell from a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class FieldError(ValueError):
    """One field's value is invalid; the message is the reason shown to the sender."""


NO_ZONE = "timestamp has no time zone and the source sets none"


def source_zone(name: str) -> ZoneInfo | None:
    """The source's zone for naive timestamps, or None when it sets none (or an unknown one:
    then naive timestamps are refused rather than guessed)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def timestamp(value: Any, zone: ZoneInfo | None) -> datetime:
    """An aware UTC datetime from a datetime or an ISO-8601 string; naive ones are read in
    ``zone`` (the source's zone)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(f"not an ISO-8601 timestamp: {value!r}") from None
    else:
        raise FieldError(f"expected an ISO-8601 timestamp, got {type(value).__name__}")
    if parsed.tzinfo is UTC:  # "Z" or "+00:00": already what is stored
        return parsed
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if zone is None:
            raise FieldError(NO_ZONE)
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def optional_timestamp(row: Mapping, key: str, zone: ZoneInfo | None) -> datetime | None:
    value = row.get(key)
    return None if is_blank(value) else timestamp(value, zone)


def required_timestamp(row: Mapping, key: str, zone: ZoneInfo | None) -> datetime:
    value = row.get(key)
    if is_blank(value):
        raise FieldError("required")
    return timestamp(value, zone)


def integer(value: Any) -> int:
    # bool is an int in Python, but True is no count.
    if isinstance(value, bool):
        raise FieldError("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise FieldError(f"expected an integer, got {value!r}")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise FieldError(f"expected true or false, got {value!r}")


def text(row: Mapping, key: str, max_length: int, *, required: bool = False) -> str:
    value = row.get(key)
    if is_blank(value):
        if required:
            raise FieldError("required")
        return ""
    if not isinstance(value, str | int):
        raise FieldError(f"expected text, got {type(value).__name__}")
    value = str(value).strip()
    if len(value) > max_length:
        raise FieldError(f"longer than {max_length} characters")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; refused here rather than failing the batch's write.
        raise FieldError("contains a NUL character")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            # A lone surrogate (JSON allows "\ud800") is no character the database can store.
            raise FieldError("not valid Unicode text") from None
    return value
