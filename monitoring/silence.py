"""When a source's data has stopped arriving, and what its silence means for availability.

Plain arithmetic over datetimes (house style, point 2): ``monitoring.staleness`` reads the
sources from the database and feeds these functions; ``docs/evaluation.md`` ("When data stops
arriving") has the long form of the rules.

* A source is expected to send data at least every *expected interval*. A source whose latest
  data (its last evidence) is older than that is **stale** from ``last evidence + interval``.
* An outage still open when its source goes stale does not run on through the silence: it
  ends where the evidence ends, at ``last evidence + interval``.
* The silence after that is **no data**: neither up nor down, so it is left out of the
  measured time, unless the target's owner said that silence counts as down.
* A period that holds no evidence at all (its start is after the last evidence) has no
  verdict: nobody measured it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "Feed",
    "Silence",
    "clip_open_outages",
    "expected_interval",
    "is_stale",
    "service_silence",
    "stale_from",
]

Interval = tuple[datetime, datetime]


def expected_interval(
    kind: str,
    override_minutes: int | None,
    defaults: Mapping[str, int],
    probe_interval_seconds: int | None = None,
    probe_misses: int = 3,
) -> timedelta | None:
    """How long a source of ``kind`` may stay silent before it is stale.

    ``override_minutes`` (set on the source) wins; ``0`` there means "never stale" (a feed
    that only ever sends one-off imports on request, say). A probe of one service is expected
    every ``probe_interval_seconds``, so it is stale after ``probe_misses`` missed rounds.
    Otherwise ``defaults[kind]``, else ``defaults["default"]`` (minutes); no default: never."""
    if override_minutes is not None:
        return timedelta(minutes=override_minutes) if override_minutes > 0 else None
    if kind == "probe" and probe_interval_seconds:
        return timedelta(seconds=probe_interval_seconds * probe_misses)
    minutes = defaults.get(kind, defaults.get("default"))
    return timedelta(minutes=minutes) if minutes else None


def stale_from(last_evidence: datetime | None, interval: timedelta | None) -> datetime | None:
    """The moment a source with this last evidence becomes stale (None: it never does)."""
    if last_evidence is None or interval is None:
        return None
    return last_evidence + interval


def is_stale(last_evidence: datetime | None, interval: timedelta | None, now: datetime) -> bool:
    """Whether no data has come for longer than the expected interval."""
    moment = stale_from(last_evidence, interval)
    return moment is not None and now >= moment


@dataclass(frozen=True)
class Feed:
    """One source feeding a service: its last evidence and when that goes stale."""

    last_evidence: datetime | None
    stale_from: datetime | None


@dataclass(frozen=True)
class Silence:
    """A service whose every feed is stale: the last data came at ``last_evidence``; from
    ``since`` (last evidence + interval) nothing is known."""

    last_evidence: datetime
    since: datetime


def service_silence(feeds: Iterable[Feed], now: datetime) -> Silence | None:
    """The silence of a service fed by ``feeds``, or None while any feed is still fresh (or
    none is known). The service is silent from the latest of its feeds' stale moments."""
    feeds = list(feeds)
    if not feeds:
        return None
    if any(f.stale_from is None or f.last_evidence is None or now < f.stale_from for f in feeds):
        return None
    latest = max(feeds, key=lambda f: f.stale_from)  # type: ignore[arg-type, return-value]
    return Silence(last_evidence=latest.last_evidence, since=latest.stale_from)  # type: ignore[arg-type]


def clip_open_outages(
    outages: Iterable[tuple[datetime, datetime | None, int | None]],
    stale_moments: Mapping[int, datetime],
) -> list[tuple[datetime, datetime | None]]:
    """End every open outage whose source is stale at that source's stale moment.

    ``outages`` are ``(start, end or None, source id)``; ``stale_moments`` maps the ids of
    stale sources to the moment each went stale. Closed outages, and open ones of fresh
    sources (or of none), are returned as they are."""
    clipped: list[tuple[datetime, datetime | None]] = []
    for start, end, source_id in outages:
        moment = stale_moments.get(source_id) if source_id is not None else None
        if end is None and moment is not None:
            end = max(moment, start + timedelta(microseconds=1))
        clipped.append((start, end))
    return clipped
