"""``json.loads`` with a nesting limit.

Python's JSON decoder recurses once per nested array or object: 50,000 opening brackets
exhaust the stack and raise ``RecursionError``, which a view does not expect and answers with
a 500. The depth is measured first without recursion (at C speed for ordinary bodies) and a
body nested deeper than the limit is refused as invalid JSON, with the position of the first
bracket too many.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# Used by the webhook views, the bulk parsers and the API's parser alike.
DEFAULT_MAX_DEPTH = 64

# A JSON string, written "unrolled" so that the regex engine does not branch per character.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class JSONTooDeep(json.JSONDecodeError):
    """Raised like any other invalid JSON, so that callers' existing handling applies."""


def max_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (0 for a scalar); string contents do
    not count. Unbalanced text gives a number too: the decoder reports that error after."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(1 if ch in "[{" else -1 for ch in brackets), default=0)


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether ``text`` nests deeper than ``limit``: each pass removes the innermost empty
    pairs, so a body of depth d is empty after d passes (four or five for real payloads)."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        shorter = _INNERMOST_PAIR.sub("", brackets)
        if shorter == brackets:  # unbalanced: the decoder will say where
            break
        brackets = shorter
    if not brackets:
        return False
    return max_depth(text) > limit


def _first_too_deep(text: str, limit: int) -> int:
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def loads(text: str | bytes, *, limit: int | None = None) -> Any:
    """``json.loads(text)``, refusing nesting deeper than ``limit`` (default from the
    ``JSON_MAX_DEPTH`` setting when Django is configured, else 64)."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if limit is None:
        limit = configured_limit()
    if nests_deeper_than(text, limit):
        raise JSONTooDeep(f"nesting deeper than {limit} levels", text, _first_too_deep(text, limit))
    return json.loads(text)


def configured_limit() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))
    except Exception:  # Django not configured: a plain script or a pure test
        return DEFAULT_MAX_DEPTH
