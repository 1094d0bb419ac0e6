"""Body parsers of the bulk ingest endpoints: JSON arrays, CSV with a header row, NDJSON.

They stream the body and stop at ``INGEST_MAX_BODY_BYTES`` (50 MB by default): Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body`` and form parsing, neither of which
these views use, so the portal-wide limit stays small while ingest can take large batches. A
body that cannot be read as rows is answered in the per-row error format.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser

from monitoring.ingest import RowError
from sla_portal.core import safejson

DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
# A sender fixing a broken export needs the first problems, not a response of megabytes.
MAX_REPORTED_ERRORS = 1000
READ_CHUNK = 256 * 1024


def max_body_bytes() -> int:
    return getattr(settings, "INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class BadBody(APIException):
    """The body cannot be read as rows at all; answered in the per-row error format."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(errors_body([RowError(index, "", reason)]))


def errors_body(errors: list[RowError]) -> dict[str, Any]:
    return {
        "errors": [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]],
        "error_count": len(errors),
    }


def _read_limited(stream: Any, parser_context: dict | None) -> bytes:
    """The whole body, refusing it as soon as it is known to exceed the limit."""
    limit = max_body_bytes()
    too_large = PayloadTooLarge(
        f"The body is larger than {limit // (1024 * 1024)} MB; split the batch into smaller ones."
    )
    request = (parser_context or {}).get("request")
    if request is not None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
    buffer = io.BytesIO()
    while chunk := stream.read(READ_CHUNK):
        if buffer.tell() + len(chunk) > limit:
            raise too_large
        buffer.write(chunk)
    return buffer.getvalue()


def _text(stream: Any, parser_context: dict | None) -> str:
    try:
        return _read_limited(stream, parser_context).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBody(-1, "the body is not UTF-8 text") from None


class JSONRowsParser(BaseParser):
    """A JSON array of row objects."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        try:
            rows = safejson.loads(_text(stream, parser_context))
        except json.JSONDecodeError as exc:
            raise BadBody(-1, f"invalid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise BadBody(-1, "the body must be a JSON array of rows")
        return rows


class NDJSONRowsParser(BaseParser):
    """One JSON object per line; blank lines are skipped."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        rows = []
        for line in _text(stream, parser_context).splitlines():
            if not line.strip():
                continue
            try:
                rows.append(safejson.loads(line))
            except json.JSONDecodeError as exc:
                raise BadBody(len(rows), f"invalid JSON: {exc}") from None
        return rows


class CSVRowsParser(BaseParser):
    """Comma-separated values with a header row naming the row keys. Empty cells are absent
    values; ``status_history`` cannot be expressed in a cell and is refused."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> list:
        reader = csv.DictReader(io.StringIO(_text(stream, parser_context), newline=""))
        if reader.fieldnames and "status_history" in reader.fieldnames:
            raise BadBody(-1, "status_history is not supported in CSV; send JSON or NDJSON")
        rows = []
        for row in reader:
            if None in row:
                raise BadBody(len(rows), "more cells than the header has columns")
            rows.append(row)
        return rows


BULK_PARSERS = [JSONRowsParser, CSVRowsParser, NDJSONRowsParser]
