"""Folding a ticket's state-change events into its status history and lifecycle times.

Pure Python (house style point 2), shared by the ServiceNow importer and the generic event-log
import: both read "one row per state change" exports and must agree on what a history is.

* Events are ordered by time, then by an explicit order (ServiceNow's ``sys_mod_count``), then
  by their line in the file, so equal timestamps keep the exporter's order.
* An event that repeats the previous state is not a change and is collapsed (exports write a
  row for every field update, and the same state twice at one instant cannot be stored).
* Each state has one **role**: ``new`` (open, nobody has responded yet), ``open`` (being worked
  on), ``paused`` (waiting on the customer or a vendor: the clock stops), ``resolved`` and
  ``closed`` (both end the clock; ``closed`` also closes the ticket).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NEW, OPEN, PAUSED, RESOLVED, CLOSED = "new", "open", "paused", "resolved", "closed"
ROLES = (NEW, OPEN, PAUSED, RESOLVED, CLOSED)
"""Every role a state can play, in the order a ticket usually passes through them."""
ENDING_ROLES = frozenset({RESOLVED, CLOSED})


@dataclass(frozen=True, slots=True)
class StateEvent:
    """One row of an event log: the ticket was in ``state`` from ``at`` on."""

    at: datetime
    state: str
    line: int = 0
    order: int = 0


@dataclass
class Timeline:
    """What a ticket's events say about it.

    ``resolved_at`` is the start of the resolution the history ends in (``None`` when the
    ticket is open again); ``closed_at`` likewise for the closing state; ``reopen_count`` counts
    returns from a resolving or closing state to any other.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    collapsed: int = 0


def status_history(
    events: Iterable[StateEvent], pausing: frozenset[str], resolving: frozenset[str]
) -> tuple[list[dict[str, Any]], int]:
    """The ordered, de-duplicated history rows for ``tickets_ingest`` and how many collapsed.

    Each row is ``{"at", "status", "pauses_clock", "resolves"}``.
    """
    history: list[dict[str, Any]] = []
    collapsed = 0
    for event in sorted(events, key=lambda e: (e.at, e.order, e.line)):
        if history and history[-1]["status"] == event.state:
            collapsed += 1
            continue
        history.append(
            {
                "at": event.at,
                "status": event.state,
                "pauses_clock": event.state in pausing,
                "resolves": event.state in resolving,
            }
        )
    return history, collapsed


def first_response_at(history: list[dict[str, Any]], new_states: frozenset[str]) -> datetime | None:
    """When the ticket first left a "new" state: the first act of a person on it.

    A history whose first entry is already past "new" responds at that entry. Without any
    state marked as new the log cannot say when anyone responded, so the answer is ``None``.
    """
    if not new_states:
        return None
    return next((entry["at"] for entry in history if entry["status"] not in new_states), None)


def fold_events(events: Iterable[StateEvent], roles: Mapping[str, str]) -> Timeline:
    """Fold one ticket's events by the role of each state (``roles``: state → role).

    Every event's state must be in ``roles``; checking that (and reporting the lines) is the
    caller's job, because only the caller knows the file.
    """
    pausing = frozenset(state for state, role in roles.items() if role == PAUSED)
    ending = frozenset(state for state, role in roles.items() if role in ENDING_ROLES)
    new_states = frozenset(state for state, role in roles.items() if role == NEW)
    history, collapsed = status_history(events, pausing, ending)
    timeline = Timeline(history=history, collapsed=collapsed)
    timeline.first_response_at = first_response_at(history, new_states)
    ended = False
    for entry in history:
        role = roles[entry["status"]]
        if role in ENDING_ROLES:
            if not ended:
                # Resolved → Closed is one resolution: it started at the first ending state.
                timeline.resolved_at, timeline.closed_at = entry["at"], None
                ended = True
            if role == CLOSED and timeline.closed_at is None:
                timeline.closed_at = entry["at"]
        elif ended:
            timeline.reopen_count += 1
            timeline.resolved_at = timeline.closed_at = None
            ended = False
    return timeline
