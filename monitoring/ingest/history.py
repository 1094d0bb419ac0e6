"""Clock pauses derived from a ticket's status history (pure, no Django)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One entry of a service desk's status log, already validated and in UTC."""

    at: datetime
    status: str
    pauses_clock: bool = False
    resolves: bool = False


@dataclass(frozen=True, slots=True)
class Pause:
    start: datetime
    end: datetime | None
    reason: str


def pauses_from_history(history: Iterable[StatusEntry]) -> list[Pause]:
    """A pause runs from a pausing status to the next non-pausing status.

    Consecutive pausing statuses ("waiting for customer" then "waiting for vendor") extend
    one pause rather than opening a second: the clock was stopped throughout, and the reason
    recorded is the status that stopped it. A pause still running at the end has no end."""
    pauses: list[Pause] = []
    open_start: datetime | None = None
    reason = ""
    for entry in sorted(history, key=lambda e: e.at):
        if entry.pauses_clock and open_start is None:
            open_start, reason = entry.at, entry.status
        elif not entry.pauses_clock and open_start is not None:
            pauses.append(Pause(open_start, entry.at, reason))
            open_start = None
    if open_start is not None:
        pauses.append(Pause(open_start, None, reason))
    return pauses
