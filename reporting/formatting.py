"""How reports write numbers, money and their month: one function each, used by the page,
the PDF, the email and the notes of the CSV (whose value columns stay plain numbers).

Pure: no Django import, testable in milliseconds.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["amount", "money", "percent", "period_label"]


def _decimal(value: Decimal | str | int | float | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def amount(value: Decimal | str | int | float | None) -> str:
    """A sum of money: two decimals, a comma between thousands: ``12,000.00``."""
    number = _decimal(value)
    if number is None:
        return ""
    return f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def money(value: Decimal | str | int | float | None, currency: str) -> str:
    """A sum with its currency: ``12,000.00 EUR``."""
    text = amount(value)
    return f"{text} {currency}".strip() if text else ""


def percent(value: Decimal | str | int | float | None) -> str:
    """A share without trailing zeros: ``20 %``, ``99.5 %``, ``12.25 %``."""
    number = _decimal(value)
    if number is None:
        return ""
    normal = format(number.normalize(), "f")
    if "." in normal:
        normal = normal.rstrip("0").rstrip(".")
    return f"{'0' if normal in {'-0', ''} else normal} %"


def period_label(month: date, zone: str) -> str:
    """The calendar month a report covers, from local dates: ``1 – 30 Nov 2026
    (Europe/Berlin)``. Never derived from the UTC instants of its bounds, which east of UTC
    begin on the last day of the month before."""
    last = calendar.monthrange(month.year, month.month)[1]
    return f"1 – {last} {month:%b %Y} ({zone})"
