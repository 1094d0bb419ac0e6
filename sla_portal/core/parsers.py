"""The API's JSON parser: REST framework's, with a nesting limit and a size limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from sla_portal.core.safejson import loads

READ_CHUNK = 64 * 1024


class PayloadTooLarge(ParseError):
    status_code = 413
    default_code = "payload_too_large"


class SafeJSONParser(JSONParser):
    """JSON bodies up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes and ``JSON_MAX_DEPTH`` levels.

    REST framework's parser hands the stream to ``json.load``: a body of 50,000 nested
    brackets raised ``RecursionError`` (a 500) and nothing bounded its size. Bulk ingest has
    its own parsers with their own size limit (``monitoring.api.ingest``)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(f"JSON body larger than {limit} bytes")
        try:
            return loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8 text") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
