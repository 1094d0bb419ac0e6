"""Status specs of the built-in probe: which HTTP status codes count as up.

Pure (standard library only): the probe reads a spec with it, and the ``ProbeState`` model and
the source form validate one before it is stored.
"""

from __future__ import annotations


def parse_expected(spec: str) -> list[tuple[int, int]]:
    """Read a status spec like ``"200-299,301"`` into inclusive ``(low, high)`` ranges.

    Raises ``ValueError`` for an empty spec, a code outside 100–599 or a range whose end comes
    before its start: a spec that can never match would report every service down.
    """
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        low_text, _, high_text = part.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if high_text else low
        except ValueError:
            raise ValueError(f"'{part}' is not a status code or range like 200-299") from None
        if not (100 <= low <= 599 and 100 <= high <= 599):
            raise ValueError(f"'{part}': status codes run from 100 to 599")
        if high < low:
            raise ValueError(f"'{part}': the range ends before it starts")
        ranges.append((low, high))
    if not ranges:
        raise ValueError("name at least one status code, e.g. 200-299")
    return ranges


def is_expected(code: int, spec: str) -> bool:
    """Whether ``code`` is one of the statuses ``spec`` accepts."""
    return any(low <= code <= high for low, high in parse_expected(spec))
