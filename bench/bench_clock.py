"""Benchmark of the business-time clock (``agreements.clock``).

Times ``business_seconds`` and ``deadline`` on random ticket spans with a Berlin office
calendar (Mon-Fri 09:00-17:00, public holidays of Berlin from the ``holidays`` package).

Usage::

    .venv/bin/python bench/bench_clock.py            # 1,000,000 tickets per main scenario
    .venv/bin/python bench/bench_clock.py 200000     # fewer tickets

The script needs no Django; run it from the project root.
"""

from __future__ import annotations

import gc
import platform
import random
import sys
import time as clock
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import holidays

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agreements.clock import BusinessCalendar

SEED = 20260101
YEARS = range(2024, 2030)
WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_SECONDS = 3 * 365 * 86400
TARGETS = [3600, 4 * 3600, 8 * 3600, 24 * 3600, 40 * 3600]


def office_calendar() -> BusinessCalendar:
    berlin_holidays = holidays.country_holidays("DE", subdiv="BE", years=YEARS)
    return BusinessCalendar(
        timezone="Europe/Berlin",
        weekly_hours={day: [(time(9), time(17))] for day in range(5)},
        holidays=set(berlin_holidays),
    )


def random_start(rng: random.Random) -> datetime:
    return WINDOW_START + timedelta(seconds=rng.randrange(WINDOW_SECONDS))


def ticket_length(rng: random.Random) -> timedelta:
    """Mostly short tickets, a tail of long-running ones (up to a year)."""
    roll = rng.random()
    if roll < 0.89:
        return timedelta(seconds=rng.randrange(3 * 86400))
    if roll < 0.99:
        return timedelta(seconds=rng.randrange(30 * 86400))
    return timedelta(seconds=rng.randrange(365 * 86400))


def spans(rng: random.Random, count: int, length: timedelta | None = None) -> list:
    result = []
    for _ in range(count):
        start = random_start(rng)
        result.append((start, start + (length if length is not None else ticket_length(rng))))
    return result


def with_pauses(rng: random.Random, tickets: Sequence) -> list:
    """Give every ticket one or two pauses somewhere inside its span."""
    result = []
    for start, end in tickets:
        total = int((end - start).total_seconds()) + 1
        pauses = []
        for _ in range(rng.randint(1, 2)):
            offset = rng.randrange(total)
            pauses.append(
                (start + timedelta(seconds=offset), start + timedelta(seconds=offset + 7200))
            )
        result.append((start, end, pauses))
    return result


def run(label: str, op: Callable, args: Sequence, results: list) -> None:
    gc.collect()
    began = clock.perf_counter()
    for item in args:
        op(*item)
    elapsed = clock.perf_counter() - began
    per_op = elapsed / len(args) * 1e6
    results.append((label, len(args), per_op))
    print(f"{label:<52} {len(args):>9,} ops {per_op:8.2f} µs/op {elapsed:7.2f} s", flush=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    side = max(1, count // 5)
    rng = random.Random(SEED)
    print(f"Python {platform.python_version()} on {platform.machine()}, {count:,} tickets")

    cal = office_calendar()
    began = clock.perf_counter()
    cal.business_seconds(WINDOW_START - timedelta(days=400), WINDOW_START + timedelta(days=1600))
    warm = clock.perf_counter() - began
    print(f"{'cache warm-up (2000 days, first call)':<52} {warm * 1e3:8.2f} ms")

    results: list = []
    mixed = spans(rng, count)
    run("business_seconds, mixed ticket spans", cal.business_seconds, mixed, results)
    deadlines = [(random_start(rng), rng.choice(TARGETS)) for _ in range(count)]
    run("deadline, targets 1h..40h", cal.deadline, deadlines, results)

    run(
        "business_seconds, 3-day spans",
        cal.business_seconds,
        spans(rng, side, timedelta(days=3)),
        results,
    )
    run(
        "business_seconds, 30-day spans",
        cal.business_seconds,
        spans(rng, side, timedelta(days=30)),
        results,
    )
    run(
        "business_seconds, 1-year spans",
        cal.business_seconds,
        spans(rng, side, timedelta(days=365)),
        results,
    )
    run(
        "business_seconds, mixed spans, 1-2 pauses",
        cal.business_seconds,
        with_pauses(rng, mixed[:side]),
        results,
    )
    paused_deadlines = [(s, rng.choice(TARGETS), p) for s, _, p in with_pauses(rng, mixed[:side])]
    run("deadline, targets 1h..40h, 1-2 pauses", cal.deadline, paused_deadlines, results)
    run(
        "deadline, 2000h target (about a year)",
        cal.deadline,
        [(random_start(rng), 2000 * 3600) for _ in range(side)],
        results,
    )

    weekly = cal.weekly_hours
    days_off = cal.holidays

    def fresh_calendar(start: datetime, end: datetime) -> float:
        # Code that rebuilds the calendar from stored settings for every ticket.
        return BusinessCalendar("Europe/Berlin", weekly, days_off).business_seconds(start, end)

    run("new calendar per ticket + business_seconds", fresh_calendar, mixed[:side], results)

    always = BusinessCalendar.always()
    run("always(): business_seconds, mixed spans", always.business_seconds, mixed[:side], results)
    run("always(): deadline", always.deadline, deadlines[:side], results)


if __name__ == "__main__":
    main()
