"""A ticket's timer: elapsed business time against its target and threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agreements.clock import BusinessCalendar
from monitoring.compliance.intervals import merge_intervals
from monitoring.compliance.states import (
    AT_RISK,
    BREACHED,
    LEVELS,
    MET,
    MISSED_TARGET,
    PAUSED,
    RUNNING,
    Interval,
)


@dataclass(frozen=True)
class TimerInput:
    """One time target applied to one ticket.

    ``stop`` is the event that ends the clock (first response, or resolution); ``pauses`` are
    ``(start, end)`` pairs with ``end=None`` for a pause still going on.
    """

    start: datetime
    stop: datetime | None
    pauses: Sequence[tuple[datetime, datetime | None]]
    target_seconds: float
    threshold_seconds: float
    warning_percent: float


@dataclass(frozen=True)
class TimerResult:
    state: str
    warning_at: datetime | None
    due_at: datetime | None
    threshold_due_at: datetime | None
    used_seconds: float
    remaining_seconds: float | None
    stopped_at: datetime | None
    # When the timer was decided: its stop if it met the target, else the moment it missed it.
    decided_at: datetime | None
    # The next moment at which the state changes by itself (None: stopped or paused).
    next_due: datetime | None
    # Levels reached so far with the moment each was reached, in order.
    reached: tuple[tuple[str, datetime], ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None


def ticket_timer(calendar: BusinessCalendar, spec: TimerInput, now: datetime) -> TimerResult:
    """The state of one ticket's time target at ``now``.

    Business time runs in ``calendar`` from ``spec.start`` and stands still in every pause. The
    clock stops at ``spec.stop`` (an event at or before a deadline meets it). While a pause is
    still going on, deadlines that would fall after its start are unknown (``None``): nobody
    can say when the clock will run again.

    A level is reached when the clock runs past its moment (``docs/clock.md``, "Meeting and
    breaching a target"): a stopped clock reached it iff the business time up to the stop
    exceeds the level's seconds; an open clock reaches it at the first instant at or after
    the moment at which the clock runs again (the moment itself when the clock is running
    then, the next opening when the moment is a closing time, the end of a pause that starts
    right there). So a ticket due at Friday 17:00 and answered on Saturday or at Monday 09:00
    meets its target, and its alert fires on Monday at 09:00, not on Friday evening.
    ``reached`` and ``decided_at`` hold those instants; ``next_due`` is the next of them.
    """
    stopped = spec.stop is not None and spec.stop <= now
    end = spec.stop if stopped else now
    end = max(end, spec.start)
    known: list[Interval] = []
    open_since: datetime | None = None
    for start, stop in spec.pauses:
        if stop is None:
            if stopped:
                known.append((start, end))
            elif open_since is None or start < open_since:
                open_since = start
        else:
            known.append((start, stop))
    used_pauses = known + ([(open_since, end)] if open_since is not None else [])
    used = calendar.business_seconds(spec.start, end, used_pauses)

    merged_known = merge_intervals(known)
    # A clock that always runs (a 24x7 calendar, no pause) needs no calendar walk: a
    # deadline is the start plus the seconds, and every instant is one at which it runs.
    # Most tickets of a large log are like that; the general path gives the same instants.
    straight = calendar.is_always and not known and open_since is None

    def moment(seconds: float) -> datetime | None:
        if straight and float(seconds).is_integer() and seconds >= 0:
            return spec.start.astimezone(UTC) + timedelta(seconds=seconds)
        instant = calendar.deadline(spec.start, seconds, known)
        if open_since is not None and instant > open_since:
            return None
        return instant

    def runs_past(instant: datetime | None) -> datetime | None:
        """The first instant at or after ``instant`` at which the clock runs (None: unknown,
        because a pause still going on holds it)."""
        if instant is None or straight:
            return instant
        cursor = instant
        while True:
            cursor = calendar.next_business_start(cursor)
            inside = next((b for a, b in merged_known if a <= cursor < b), None)
            if inside is None:
                break
            cursor = inside
        if open_since is not None and cursor >= open_since:
            return None
        return cursor

    warning_seconds = spec.target_seconds * spec.warning_percent / 100
    moments = {
        "warning_at": moment(warning_seconds),
        "due_at": moment(spec.target_seconds),
        "threshold_due_at": moment(spec.threshold_seconds),
    }
    checks = {name: runs_past(instant) for name, instant in moments.items()}

    def reached_by(check: datetime | None) -> bool:
        if check is None:
            return False
        # An event exactly at the deadline meets it; an open clock has missed it at that moment.
        return check < end if stopped else check <= end

    reached = tuple((level, checks[name]) for level, name in LEVELS if reached_by(checks[name]))
    reached_levels = {level for level, _ in reached}
    if BREACHED in reached_levels:
        state = BREACHED
    elif MISSED_TARGET in reached_levels:
        state = MISSED_TARGET
    elif stopped:
        state = MET
    elif open_since is not None:
        state = PAUSED
    elif "warning" in reached_levels:
        state = AT_RISK
    else:
        state = RUNNING

    if MISSED_TARGET in reached_levels:
        decided_at = checks["due_at"]
    elif stopped:
        decided_at = spec.stop
    else:
        decided_at = None
    next_due = None
    if not stopped and open_since is None:
        upcoming = [m for m in checks.values() if m is not None and m > now]
        next_due = min(upcoming) if upcoming else None
    return TimerResult(
        state=state,
        warning_at=moments["warning_at"],
        due_at=moments["due_at"],
        threshold_due_at=moments["threshold_due_at"],
        used_seconds=used,
        remaining_seconds=spec.target_seconds - used,
        stopped_at=spec.stop if stopped else None,
        decided_at=decided_at,
        next_due=next_due,
        reached=reached,
    )
