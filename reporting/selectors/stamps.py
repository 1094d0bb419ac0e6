"""Moments as the dashboards print them, formatted once in Python.

A dashboard shows a hundred-odd times (each open deadline three ways, each breach's start);
through the template's ``date`` filter each costs a format-string parse and a translation
lookup, a visible share of a render. These give the same text as the filters they replace
(``date:'c'``, ``"j M H:i"``, ``"j M Y H:i"``, ``"j M Y H:i T"``) in the current time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dates import MONTHS_3


@dataclass(frozen=True)
class Stamp:
    iso: str  # date:'c', for <time datetime>
    short: str  # "7 Dec 04:07"
    dated: str  # "7 Dec 2026 04:07"
    full: str  # "7 Dec 2026 04:07 CET"


def stamp(moment: datetime) -> Stamp:
    """``moment`` in the current time zone, in the dashboards' formats."""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    day = f"{local.day} {str(MONTHS_3[local.month]).title()}"
    clock = f"{local.hour:02d}:{local.minute:02d}"
    dated = f"{day} {local.year} {clock}"
    return Stamp(local.isoformat(), f"{day} {clock}", dated, f"{dated} {local.tzname() or ''}")
