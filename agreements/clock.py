"""Business-time clock for SLA targets.

A :class:`BusinessCalendar` describes when the clock of an SLA runs: weekly opening hours
in an IANA time zone, minus holidays.  It answers two questions for the monitoring code:

* ``business_seconds(start, end, pauses)``: how much business time elapsed, and
* ``deadline(start, seconds, pauses)``: when a time target runs out.

The module is deliberately free of Django so that it can be used from workers, reports
and tests alike; it relies on the standard library only.

Semantics (see ``docs/clock.md`` for the long form):

* An interval ``(a, b)`` listed for weekday ``w`` applies to every local date with that
  weekday.  If ``b <= a`` the interval ends on the following day, so ``(time(9), time(0))``
  ends at the midnight that ends the day, ``(time(0), time(0))`` is the whole day and
  ``(time(22), time(6))`` is an overnight shift from 22:00 to 06:00 the next morning.
* Intervals of one weekday that overlap or touch are merged (in local wall-clock time)
  before they are converted to instants.
* Wall-clock times become instants with ``zoneinfo`` and ``fold=0``; a time inside a DST
  gap therefore uses the offset in force before the gap.  An interval whose converted end
  is not after its converted start is empty.  Business time is the union of all converted
  intervals and is measured in real elapsed time, so a DST change inside business hours
  counts the seconds that really passed.
* A holiday suppresses the intervals scheduled for that local date, including the part
  of an overnight interval that spills into the next day.  An overnight interval that
  started the evening before a holiday still runs into the holiday morning.
* All intervals are half-open: ``[start, end)``.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from numbers import Real
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "TimeAccount", "time_account"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_US = timedelta(microseconds=1)
_US_PER_SECOND = 1_000_000
_DAY_US = 86_400 * _US_PER_SECOND
_MIN_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _US
_MAX_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _US

# Merged interval starts, ends and prefix sums of their lengths (one more entry than starts).
_Chunk = tuple[list[int], list[int], list[int]]

# The timeline is cut into fixed UTC chunks whose merged intervals and prefix sums are cached.
# A query then costs two bisections per chunk it touches, whatever the number of days inside.
_CHUNK_DAYS = 128
_CHUNK_US = _CHUNK_DAYS * _DAY_US
# Owned intervals start no earlier than a day before their local date (UTC offsets stay
# within -12h..+14h) and end at most two local days after it; this margin of local dates
# guarantees that every interval reaching into a chunk is generated for it.
_DATES_BEFORE = 3
_DATES_AFTER = 2
# Searching forwards gives up after this much time without any business time, so a calendar
# made only of holidays cannot make a deadline computation run for ever.
_MAX_IDLE_US = 3653 * _DAY_US
# Cached chunk arrays are dropped wholesale beyond this count; per-chunk totals stay cached.
_MAX_CACHED_CHUNKS = 512
# Equal calendars share their caches, so code that builds a calendar per ticket from stored
# settings still pays for each chunk only once.  Bounded, oldest entries go first.
_MAX_SHARED_CALENDARS = 256
_shared_caches: dict[tuple, tuple[dict[int, _Chunk], dict[int, int]]] = {}
_shared_caches_lock = threading.Lock()


def _to_us(value: datetime, what: str) -> int:
    """Convert an aware datetime into integer microseconds since the Unix epoch."""
    try:
        return (value - _EPOCH) // _US
    except TypeError:
        if isinstance(value, datetime):
            raise ValueError(
                f"{what} must be a timezone-aware datetime, got naive {value!r}; "
                "attach a tzinfo such as ZoneInfo('Europe/Berlin') or datetime.timezone.utc"
            ) from None
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}") from None


def _from_us(us: int) -> datetime:
    if not _MIN_US <= us <= _MAX_US:
        raise ValueError("the resulting instant lies outside the datetime range")
    return _EPOCH + timedelta(microseconds=us)


def _seconds_to_us(seconds: float | int | timedelta) -> int:
    """Convert a target into whole microseconds, rounding to the nearest one.

    Rounding to the nearest (rather than up) makes ``deadline(start, business_seconds(...))``
    reproduce the instant exactly: the float returned by ``business_seconds`` is the nearest
    float to a whole number of microseconds, and rounding recovers that number.
    """
    if isinstance(seconds, timedelta):
        us = seconds // _US
    elif isinstance(seconds, int):
        us = seconds * _US_PER_SECOND
    elif isinstance(seconds, float):
        if not math.isfinite(seconds):
            raise ValueError(f"seconds must be finite, got {seconds!r}")
        if seconds.is_integer():
            us = int(seconds) * _US_PER_SECOND
        else:
            us = round(Fraction(seconds) * _US_PER_SECOND)
    elif isinstance(seconds, Real):
        us = round(Fraction(seconds) * _US_PER_SECOND)
    else:
        raise TypeError(f"seconds must be a number or a timedelta, got {type(seconds).__name__}")
    if us < 0:
        raise ValueError(f"seconds must not be negative, got {seconds!r}")
    return us


def _time_us(value: time) -> int:
    return (
        (value.hour * 60 + value.minute) * 60 + value.second
    ) * _US_PER_SECOND + value.microsecond


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching half-open spans; the input need not be sorted."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _normalize_weekly(
    weekly_hours: Mapping[int, Iterable[tuple[time, time]]],
) -> tuple[dict[int, tuple[tuple[time, time], ...]], tuple[tuple[tuple[int, int], ...], ...]]:
    """Validate the weekly schedule.

    Returns the schedule as given (for ``repr`` and pickling) and, per weekday, the merged
    spans as microsecond offsets from local midnight, ends possibly beyond 24h.
    """
    if not isinstance(weekly_hours, Mapping):
        raise TypeError("weekly_hours must be a mapping of weekday (0=Monday) to intervals")
    given: dict[int, tuple[tuple[time, time], ...]] = {}
    offsets: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for day, spans in weekly_hours.items():
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"weekday keys must be integers 0 (Monday) to 6 (Sunday), got {day!r}")
        pairs: list[tuple[time, time]] = []
        for pair in spans:
            try:
                start, end = pair
            except (TypeError, ValueError):
                raise ValueError(
                    f"weekday {day}: each interval must be a (start, end) pair, got {pair!r}"
                ) from None
            for value in (start, end):
                if not isinstance(value, time):
                    raise ValueError(f"weekday {day}: interval bounds must be times, got {value!r}")
                if value.tzinfo is not None:
                    raise ValueError(
                        f"weekday {day}: interval bounds are local wall-clock times and must "
                        f"not carry a tzinfo, got {value!r}"
                    )
            start = start.replace(fold=0)
            end = end.replace(fold=0)
            pairs.append((start, end))
            start_us = _time_us(start)
            end_us = _time_us(end)
            if end_us <= start_us:
                end_us += _DAY_US
            offsets[day].append((start_us, end_us))
        given[day] = given.get(day, ()) + tuple(pairs)
    return given, tuple(tuple(_merge(day_offsets)) for day_offsets in offsets)


def _prefix(chunk: _Chunk, us: int) -> int:
    """Business microseconds from the start of ``chunk`` up to ``us`` (within the chunk)."""
    starts, ends, cum = chunk
    i = bisect_right(starts, us) - 1
    if i < 0:
        return 0
    end = ends[i]
    return cum[i] + (us if us < end else end) - starts[i]


class BusinessCalendar:
    """Weekly business hours in one time zone, minus holidays.

    ``weekly_hours`` maps weekdays (0 = Monday .. 6 = Sunday) to ``(start, end)`` pairs of
    naive :class:`datetime.time` values.  An end that is not after its start lies on the
    following day, which expresses both "until midnight" (``end=time(0)``) and overnight
    shifts such as ``(time(22), time(6))``.  ``holidays`` are local dates whose intervals do
    not count.

    Instances are immutable, comparable and hashable by their configuration.  They cache
    interval tables per 128-day chunk of the timeline; equal calendars share these caches,
    so rebuilding a calendar from stored settings is cheap.  Sharing between threads is safe
    because a cache entry is always fully built before it is stored.
    """

    __slots__ = (
        "_always",
        "_chunks",
        "_given",
        "_has_hours",
        "_hash",
        "_holiday_dates",
        "_holidays",
        "_key",
        "_offsets",
        "_totals",
        "_zone",
    )

    def __init__(
        self,
        timezone: str | ZoneInfo,
        weekly_hours: Mapping[int, Iterable[tuple[time, time]]],
        holidays: Iterable[date] = (),
    ) -> None:
        if isinstance(timezone, ZoneInfo):
            zone = timezone
        elif isinstance(timezone, str):
            zone = ZoneInfo(timezone)
        else:
            raise TypeError(f"timezone must be an IANA name or a ZoneInfo, got {timezone!r}")
        if not zone.key:
            raise ValueError("the time zone must have an IANA key (ZoneInfo.from_file has none)")
        given, offsets = _normalize_weekly(weekly_hours)
        holiday_dates: set[date] = set()
        for day in holidays:
            # A datetime is a date subclass but never equals a date, so it would silently
            # fail to match; refuse it rather than ignore the holiday.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holidays must be dates, got {day!r}")
            holiday_dates.add(day)
        frozen_holidays = frozenset(holiday_dates)
        has_hours = any(offsets)
        always = not frozen_holidays and all(
            any(start == 0 and end >= _DAY_US for start, end in day) for day in offsets
        )
        init = object.__setattr__
        init(self, "_zone", zone)
        init(self, "_key", zone.key)
        init(self, "_given", given)
        init(self, "_offsets", offsets)
        init(self, "_holiday_dates", frozen_holidays)
        init(self, "_holidays", frozenset(day.toordinal() for day in frozen_holidays))
        init(self, "_has_hours", has_hours)
        init(self, "_always", always)
        init(self, "_hash", hash((zone.key, offsets, frozen_holidays)))
        identity = (zone, offsets, frozen_holidays)
        with _shared_caches_lock:
            caches = _shared_caches.get(identity)
            if caches is None:
                caches = ({}, {})
                if len(_shared_caches) >= _MAX_SHARED_CALENDARS:
                    del _shared_caches[next(iter(_shared_caches))]
                _shared_caches[identity] = caches
        init(self, "_chunks", caches[0])
        init(self, "_totals", caches[1])

    @classmethod
    def always(cls) -> BusinessCalendar:
        """A 24x7 calendar in UTC: business time equals elapsed time."""
        return cls("UTC", {day: [(time(0), time(0))] for day in range(7)})

    # -- value semantics -------------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[type[BusinessCalendar], tuple[str, dict, frozenset]]:
        return (type(self), (self._key, self._given, self._holiday_dates))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return (
            self._key == other._key
            and self._offsets == other._offsets
            and self._holiday_dates == other._holiday_dates
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        days = ", ".join(
            f"{day}: [{', '.join(f'({a.isoformat()}, {b.isoformat()})' for a, b in spans)}]"
            for day, spans in sorted(self._given.items())
        )
        return (
            f"BusinessCalendar(timezone={self._key!r}, weekly_hours={{{days}}}, "
            f"holidays=<{len(self._holiday_dates)} dates>)"
        )

    @property
    def timezone(self) -> str:
        """The IANA name of the calendar's time zone."""
        return self._key

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._zone

    @property
    def weekly_hours(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """The weekly schedule as given (before merging), keyed by weekday."""
        return dict(self._given)

    @property
    def holidays(self) -> frozenset[date]:
        """The local dates whose intervals do not count."""
        return self._holiday_dates

    @property
    def is_always(self) -> bool:
        """True if every instant is business time (24x7 without holidays)."""
        return self._always

    # -- public queries --------------------------------------------------------------------

    def business_seconds(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> float:
        """Business seconds elapsed in ``[start, end)`` outside every pause.

        ``start`` and ``end`` must be aware datetimes; ``start > end`` raises
        :class:`ValueError` and ``start == end`` gives ``0.0``.  Pauses are ``(start, end)``
        pairs of aware datetimes; they may overlap, be unordered or reach outside business
        time, and a pause whose end is not after its start is ignored.
        """
        return self._measure(start, end, pauses) / _US_PER_SECOND

    def business_duration(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        """Like :meth:`business_seconds` but exact, as a :class:`~datetime.timedelta`."""
        return timedelta(microseconds=self._measure(start, end, pauses))

    def deadline(
        self,
        start: datetime,
        seconds: float | int | timedelta,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """The earliest instant ``t`` with ``business_seconds(start, t, pauses) == seconds``.

        The result is an aware UTC datetime.  A ticket whose event happens at or before it
        meets the target; the target is breached at any later instant at which the clock
        has advanced.  ``seconds=0`` returns ``start``.  ``seconds`` may be an int, a float or
        a :class:`~datetime.timedelta`; it is rounded to the nearest microsecond.  Raises
        :class:`ValueError` if the calendar has no business hours or if no business time
        occurs for about ten years.
        """
        start_us = _to_us(start, "start")
        need = _seconds_to_us(seconds)
        if need == 0:
            return _from_us(start_us)
        if not self._has_hours:
            raise ValueError("the calendar has no business hours, so no deadline can be reached")
        cur = start_us
        for pause_start, pause_end in _normalize_pauses(pauses):
            if pause_end <= cur:
                continue
            if pause_start > cur:
                available = self._span(cur, pause_start)
                if available >= need:
                    return _from_us(self._advance(cur, need))
                need -= available
            cur = pause_end
        return _from_us(self._advance(cur, need))

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The merged business intervals overlapping ``[start, end)``, clipped, in UTC."""
        start_us, end_us = self._bounds(start, end)
        if start_us == end_us:
            return []
        if self._always:
            return [(_from_us(start_us), _from_us(end_us))]
        spans: list[tuple[int, int]] = []
        for k in range(start_us // _CHUNK_US, (end_us - 1) // _CHUNK_US + 1):
            starts, ends, _ = self._chunk(k)
            lo = bisect_right(ends, start_us)
            hi = bisect_left(starts, end_us)
            for a, b in zip(starts[lo:hi], ends[lo:hi], strict=True):
                a = max(a, start_us)
                b = min(b, end_us)
                # Chunks split intervals at their boundaries; join the pieces again.
                if spans and spans[-1][1] == a:
                    spans[-1] = (spans[-1][0], b)
                else:
                    spans.append((a, b))
        return [(_from_us(a), _from_us(b)) for a, b in spans]

    def is_business_time(self, instant: datetime) -> bool:
        """True if ``instant`` lies inside a business interval (starts count, ends do not)."""
        us = _to_us(instant, "instant")
        if self._always:
            return True
        starts, ends, _ = self._chunk(us // _CHUNK_US)
        i = bisect_right(starts, us) - 1
        return i >= 0 and us < ends[i]

    def next_business_start(self, instant: datetime) -> datetime:
        """The earliest business instant at or after ``instant``, in UTC.

        Returns ``instant`` itself when it already is business time.  Raises
        :class:`ValueError` if the calendar has no business hours or none occur for about
        ten years.
        """
        us = _to_us(instant, "instant")
        if self._always:
            return _from_us(us)
        if not self._has_hours:
            raise ValueError("the calendar has no business hours")
        k = us // _CHUNK_US
        starts, ends, _ = self._chunk(k)
        i = bisect_right(starts, us) - 1
        if i >= 0 and us < ends[i]:
            return _from_us(us)
        if i + 1 < len(starts):
            return _from_us(starts[i + 1])
        limit = us + _MAX_IDLE_US
        while True:
            k += 1
            if k * _CHUNK_US > min(limit, _MAX_US):
                raise ValueError(
                    f"no business time within about ten years after {instant.isoformat()}"
                )
            starts, _, _ = self._chunk(k)
            if starts:
                return _from_us(starts[0])

    # -- internals -------------------------------------------------------------------------

    def _bounds(self, start: datetime, end: datetime) -> tuple[int, int]:
        start_us = _to_us(start, "start")
        end_us = _to_us(end, "end")
        if start_us > end_us:
            raise ValueError(f"start ({start.isoformat()}) is after end ({end.isoformat()})")
        return start_us, end_us

    def _measure(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]],
    ) -> int:
        start_us, end_us = self._bounds(start, end)
        total = self._span(start_us, end_us)
        if pauses:
            for pause_start, pause_end in _normalize_pauses(pauses):
                a = pause_start if pause_start > start_us else start_us
                b = pause_end if pause_end < end_us else end_us
                if a < b:
                    total -= self._span(a, b)
        return total

    def _span(self, start_us: int, end_us: int) -> int:
        """Business microseconds in ``[start_us, end_us)``; requires ``start_us <= end_us``."""
        if self._always:
            return end_us - start_us
        first = start_us // _CHUNK_US
        last = end_us // _CHUNK_US
        chunk = self._chunk(first)
        if first == last:
            return _prefix(chunk, end_us) - _prefix(chunk, start_us)
        total = chunk[2][-1] - _prefix(chunk, start_us)
        totals = self._totals
        for k in range(first + 1, last):
            chunk_total = totals.get(k)
            if chunk_total is None:
                chunk_total = self._chunk(k)[2][-1]
            total += chunk_total
        if end_us > last * _CHUNK_US:
            total += _prefix(self._chunk(last), end_us)
        return total

    def _advance(self, start_us: int, need: int) -> int:
        """The earliest instant at which ``need`` (> 0) business microseconds have elapsed."""
        if self._always:
            return start_us + need
        k = start_us // _CHUNK_US
        chunk = self._chunk(k)
        target = _prefix(chunk, start_us) + need
        idle_since = start_us
        while target > chunk[2][-1]:
            consumed = chunk[2][-1] - (target - need)
            if consumed:
                idle_since = (k + 1) * _CHUNK_US
            need -= consumed
            k += 1
            if k * _CHUNK_US - idle_since > _MAX_IDLE_US:
                raise ValueError(
                    f"no business time within about ten years after {_from_us(idle_since)}"
                )
            if k * _CHUNK_US > _MAX_US:
                raise ValueError("the deadline lies beyond the datetime range")
            chunk = self._chunk(k)
            target = need
        starts, _, cum = chunk
        i = bisect_left(cum, target) - 1
        return starts[i] + (target - cum[i])

    def _chunk(self, k: int) -> _Chunk:
        chunk = self._chunks.get(k)
        if chunk is None:
            chunk = self._build_chunk(k)
            if len(self._chunks) >= _MAX_CACHED_CHUNKS:
                self._chunks.clear()
            self._chunks[k] = chunk
            self._totals[k] = chunk[2][-1]
        return chunk

    def _build_chunk(self, k: int) -> _Chunk:
        """Merged business intervals clipped to chunk ``k`` with prefix sums of their lengths."""
        lo = k * _CHUNK_US
        hi = lo + _CHUNK_US
        first = max(1, _EPOCH_ORDINAL + lo // _DAY_US - _DATES_BEFORE)
        last = min(_MAX_ORDINAL, _EPOCH_ORDINAL + hi // _DAY_US + _DATES_AFTER)
        offsets = self._offsets
        holidays = self._holidays
        raw: list[tuple[int, int]] = []
        for ordinal in range(first, last + 1):
            spans = offsets[(ordinal + 6) % 7]
            if not spans or ordinal in holidays:
                continue
            midnight = (ordinal - _EPOCH_ORDINAL) * _DAY_US
            for start_offset, end_offset in spans:
                a = self._local_to_us(midnight + start_offset)
                b = self._local_to_us(midnight + end_offset)
                if a is None or b is None or b <= a or b <= lo or a >= hi:
                    continue
                raw.append((a if a > lo else lo, b if b < hi else hi))
        starts: list[int] = []
        ends: list[int] = []
        cum = [0]
        for a, b in _merge(raw):
            starts.append(a)
            ends.append(b)
            cum.append(cum[-1] + b - a)
        return starts, ends, cum

    def _local_to_us(self, naive_us: int) -> int | None:
        """Convert a local wall-clock time (microseconds since local 1970-01-01) with fold=0."""
        try:
            naive = _EPOCH_NAIVE + timedelta(microseconds=naive_us)
        except OverflowError:
            return None
        return naive_us - naive.replace(tzinfo=self._zone).utcoffset() // _US


def _normalize_pauses(pauses: Iterable[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint microsecond spans; empty or inverted pauses are dropped."""
    spans = []
    for pause in pauses:
        try:
            pause_start, pause_end = pause
        except (TypeError, ValueError):
            raise ValueError(f"each pause must be a (start, end) pair, got {pause!r}") from None
        a = _to_us(pause_start, "pause start")
        b = _to_us(pause_end, "pause end")
        if b > a:
            spans.append((a, b))
    if len(spans) > 1:
        return _merge(spans)
    return spans


@dataclass(frozen=True)
class TimeAccount:
    """Where the wall-clock time between two instants went, for one calendar and its pauses.

    ``elapsed == counted + paused + outside_hours`` exactly (they are whole microseconds):

    * ``counted``: business time outside every pause (what a ticket's clock used),
    * ``paused``: business time the pauses took out (waiting on the customer, say),
    * ``outside_hours``: time outside the calendar's hours or on its holidays, paused or not.
    """

    elapsed: timedelta
    counted: timedelta
    paused: timedelta
    outside_hours: timedelta


def time_account(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    pauses: Iterable[tuple[datetime, datetime]] = (),
) -> TimeAccount:
    """Split ``[start, end)`` into counted, paused and out-of-hours time (see ``TimeAccount``).

    Pauses follow :meth:`BusinessCalendar.business_seconds`: they may overlap, be unordered or
    reach outside ``[start, end)``. ``start > end`` raises :class:`ValueError`."""
    pauses = list(pauses)
    business = calendar.business_duration(start, end)
    counted = calendar.business_duration(start, end, pauses)
    elapsed = timedelta(microseconds=_to_us(end, "end") - _to_us(start, "start"))
    return TimeAccount(
        elapsed=elapsed,
        counted=counted,
        paused=business - counted,
        outside_hours=elapsed - business,
    )
