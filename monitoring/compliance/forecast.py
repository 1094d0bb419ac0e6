"""Forecast of a period's end value, with an 80 % band, from what the period shows so far.

Every forecast target is one of three shapes (``docs/forecasts.md`` has the formulas):

``ratio``
    availability (``bad`` = downtime seconds, ``total`` = counted seconds elapsed) and ticket
    shares (``bad`` = tickets that missed, ``total`` = tickets decided); the value is
    ``100 * (1 - bad / total)`` and higher is better.
``count``
    error counts: the value is ``bad`` itself (errors so far); lower is better.
``mean``
    measured values (``bad`` = sum of the samples, ``total`` = their number); the value is
    their mean, either direction.

The rest of the period is ``remaining`` counted seconds (service hours, minus announced
maintenance for availability), against ``elapsed`` counted seconds so far, both optionally
weighted by a seasonal profile (``hour_of_week_profile``) so an hour that usually goes
badly counts for more. ``total`` grows at the period's own pace (``volume`` per counted
second), ``bad`` at a rate per unit of ``total`` that blends the current period's rate with
earlier periods' in proportion to the share of the period already seen: early in a period
history dominates, late in it the period itself. The band is a normal approximation of the
bad amount still to come: compound-Poisson noise of the events still to happen (outages of
the period's typical length, or single tickets and errors), plus the uncertainty of the
rate (the current one from its events, the historical one from the spread across periods).

Pure: no Django (house style point 2). The standard library's ``statistics.NormalDist`` is
all the statistics it needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist, fmean, pvariance
from zoneinfo import ZoneInfo

from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET, Interval
from monitoring.compliance.verdicts import Goal

__all__ = [
    "BAND",
    "KINDS",
    "PREDICTED_BREACH",
    "PREDICTED_MISS",
    "Forecast",
    "History",
    "Observation",
    "forecast",
    "hour_of_week_profile",
    "hour_of_week_profile_of",
    "naive_status",
    "weighted_seconds",
]

RATIO, COUNT, MEAN = "ratio", "count", "mean"
KINDS = (RATIO, COUNT, MEAN)
# The band's coverage: the 10th to the 90th percentile.
BAND = 0.80
_Z = NormalDist().inv_cdf(0.5 + BAND / 2)
# The forecast's own words for a status it predicts (the alert levels of the same name).
PREDICTED_MISS = "predicted_miss"
PREDICTED_BREACH = "predicted_breach"
PREDICTED = {MET: MET, MISSED_TARGET: PREDICTED_MISS, BREACHED: PREDICTED_BREACH}
# Seasonality needs this much history: four of each hour of the week, and enough events
# that an hour's share is not one outage's accident.
SEASON_MIN_DAYS = 28
SEASON_MIN_EVENTS = 20
# Half an event's worth of pseudo-evidence: a period with no event yet still has a band.
_JEFFREYS = 0.5
# No forecast is ever certain: a chance is kept within [1 - CAP, CAP], so one odd sample
# or a quiet start cannot claim 100 %.
CAP = 0.99
# Measured values: the samples' spread is never taken as less than this share of their
# mean (one sample, or equal samples, have no spread of their own to go on), and fewer
# than MIN_SAMPLES samples never alert (``Forecast.details["samples"]``).
MEAN_SD_SHARE = 0.1
MIN_SAMPLES = 2


@dataclass(frozen=True)
class Observation:
    """What the period shows so far, in the forecast's terms (see the module docstring)."""

    kind: str
    bad: float
    total: float
    events: int
    elapsed: float
    remaining: float
    # Availability: each event (outage) has its own length, so the noise of the events to
    # come is compound (2 s^2 per event for lengths spread like an exponential). Tickets and
    # errors count one each.
    sized_events: bool = False
    # Measured values: the spread of the samples.
    sample_variance: float = 0.0
    # How much worse the hours still to come usually go than the hours seen (1.0: no
    # seasonal profile): weighted remaining / remaining over weighted elapsed / elapsed.
    season_factor: float = 1.0
    # How much worse the hours still to come usually go than the average hour (1.0: no
    # profile): weighted remaining / remaining. History's rate is an average over whole
    # periods, so it is scaled by this, not by ``season_factor``.
    season_left: float = 1.0


@dataclass(frozen=True)
class History:
    """Earlier closed periods of the same target, one entry per period.

    ``rates``: bad per unit of total (downtime share, missed share, errors per counted
    second, the period's mean value); ``volumes``: total per counted second (tickets decided,
    samples); ``sizes``: the typical bad amount of one event (outage length)."""

    rates: Sequence[float] = ()
    volumes: Sequence[float] = ()
    sizes: Sequence[float] = ()


@dataclass(frozen=True)
class Forecast:
    """The period-end value, its 80 % band, the status it predicts and how sure it is."""

    value: float
    low: float
    high: float
    status: str  # met / missed_target / breached, as ``Goal.status`` of ``value``
    # Probability of ending at or beyond each level: missed_target includes breached.
    chance_missed: float
    chance_breached: float
    progress: float  # share of the period's counted time already seen
    seasonal: bool = False
    details: dict = field(default_factory=dict)

    @property
    def predicted(self) -> str:
        """``met``, ``predicted_miss`` or ``predicted_breach``."""
        return PREDICTED[self.status]

    @property
    def confidence(self) -> float:
        """How likely the predicted status is: the chance of ending where the point lands."""
        if self.status == BREACHED:
            return self.chance_breached
        if self.status == MISSED_TARGET:
            return self.chance_missed
        return 1 - self.chance_missed


def _value(kind: str, bad: float, total: float) -> float | None:
    if kind == COUNT:
        return bad
    if total <= 0:
        return None
    if kind == RATIO:
        return 100 * (1 - bad / total)
    return bad / total


def forecast(obs: Observation, goal: Goal, history: History | None = None) -> Forecast | None:
    """The forecast of the period's end value; ``None`` when there is nothing to go on
    (no sample of a measured value, no ticket decided and no history of ticket volume)."""
    history = history or History()
    exposure = obs.elapsed + obs.remaining
    progress = obs.elapsed / exposure if exposure > 0 else 1.0
    rates = [r for r in history.rates if math.isfinite(r)]
    has_history = bool(rates)
    # Weight of the current period against history: its share of the period seen.
    w = progress if has_history else 1.0

    # How much more "total" the rest of the period brings.
    if obs.kind == COUNT:
        total, future_total = obs.elapsed, obs.remaining
    elif obs.kind == RATIO and obs.sized_events:  # availability: total is counted time
        total, future_total = obs.total, obs.remaining
    else:
        pace = obs.total / obs.elapsed if obs.elapsed > 0 else None
        volumes = [v for v in history.volumes if math.isfinite(v)]
        if pace is None and not volumes:
            pace = 0.0
        elif pace is None:
            pace = fmean(volumes)
        elif volumes:
            pace = w * pace + (1 - w) * fmean(volumes)
        total, future_total = obs.total, pace * obs.remaining
    if total <= 0 and not has_history:
        if obs.kind == COUNT:
            total = 0.0
        else:
            return None

    current_rate = obs.bad / total if total > 0 else 0.0
    if total <= 0:
        w = 0.0
    if obs.kind != MEAN:
        rate = w * current_rate * obs.season_factor + (1 - w) * (
            fmean(rates) * obs.season_left if has_history else 0.0
        )
    else:
        rate = w * current_rate + (1 - w) * (fmean(rates) if has_history else 0.0)

    # Variance of the bad amount still to come.
    if obs.kind == MEAN:
        future_bad = rate * future_total
        # One sample, or equal ones, say nothing of the spread: the floor is the spread of
        # earlier periods' means or a share of the mean, whichever is larger.
        spread = max(
            obs.sample_variance if total >= MIN_SAMPLES else 0.0,
            pvariance(rates) if len(rates) > 1 else 0.0,
            (MEAN_SD_SHARE * abs(rate)) ** 2,
        )
        var = future_total * spread
        if total > 0:
            var += (w * future_total) ** 2 * spread / total
        if len(rates) > 1:
            var += ((1 - w) * future_total) ** 2 * pvariance(rates) / len(rates)
    else:
        size = 1.0
        if obs.sized_events:
            sizes = [s for s in history.sizes if s > 0]
            # An outage counted 0 s so far says nothing of how long outages last.
            if obs.events and obs.bad > 0:
                size = obs.bad / obs.events
            else:
                size = fmean(sizes) if sizes else 600.0
        noise = 2 * size if obs.sized_events else 1.0
        future_bad = rate * future_total
        # The event noise of what is still to come, at no less than half an event's rate.
        floor_rate = _JEFFREYS * size / max(total + future_total, 1e-9)
        var = noise * max(rate, floor_rate) * future_total
        # The uncertainty of the current rate, from its own events.
        if total > 0:
            var += (
                (w * future_total) ** 2
                * noise
                * max(current_rate, _JEFFREYS * size / total)
                / total
            )
        # The spread of the rate across earlier periods.
        if len(rates) > 1:
            var += ((1 - w) * future_total) ** 2 * pvariance(rates)
    sd = math.sqrt(max(var, 0.0))

    final_total = total + future_total
    point = _value(obs.kind, obs.bad + future_bad, final_total)
    if point is None:
        return None
    lows = future_bad - _Z * sd
    highs = future_bad + _Z * sd
    if obs.kind != MEAN:
        lows = max(lows, 0.0)
    a = _value(obs.kind, obs.bad + lows, final_total)
    b = _value(obs.kind, obs.bad + highs, final_total)
    low, high = min(a, b), max(a, b)
    status = goal.status(point)

    def chance_beyond(limit: float) -> float:
        """Probability that the final value is worse than ``limit``."""
        worse_is_more_bad = obs.kind != MEAN or not goal.higher_is_better
        if obs.kind == RATIO:
            limit_bad = (1 - limit / 100) * final_total - obs.bad
        elif obs.kind == COUNT:
            limit_bad = limit - obs.bad
        else:
            limit_bad = limit * final_total - obs.bad
        if sd == 0:
            beyond = future_bad > limit_bad if worse_is_more_bad else future_bad < limit_bad
            return 1.0 if beyond else 0.0
        below = NormalDist(future_bad, sd).cdf(limit_bad)
        return 1 - below if worse_is_more_bad else below

    missed = min(max(chance_beyond(goal.target), 1 - CAP), CAP)
    breached = min(max(chance_beyond(goal.threshold), 1 - CAP), missed)
    return Forecast(
        value=point,
        low=low,
        high=high,
        status=status,
        chance_missed=missed,
        chance_breached=breached,
        progress=progress,
        seasonal=obs.season_factor != 1.0 or obs.season_left != 1.0,
        details={
            "history": len(rates),
            "samples": int(obs.total) if obs.kind == MEAN else None,
            "rate": rate,
            "current_rate": current_rate,
            "weight": w,
            "sd": sd,
        },
    )


def naive_status(obs: Observation, goal: Goal) -> str | None:
    """The status of "the current value": what the period shows so far, as if nothing more
    happened (the baseline a forecast must beat)."""
    value = _value(obs.kind, obs.bad, obs.total if obs.kind != COUNT else obs.elapsed)
    if obs.kind == RATIO and obs.sized_events:
        # Availability so far counts the whole period's counted time: downtime to come is
        # what the naive view leaves out.
        value = _value(obs.kind, obs.bad, obs.elapsed + obs.remaining)
    return None if value is None else goal.status(value)


# --- Seasonality ---------------------------------------------------------------------------


def _hour_slots(start: datetime, end: datetime, tz: ZoneInfo) -> Iterable[tuple[int, float]]:
    """(hour of the week, seconds) for each local clock hour ``[start, end)`` touches."""
    cursor = start
    while cursor < end:
        local = cursor.astimezone(tz)
        next_hour = (
            local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        ).astimezone(start.tzinfo)
        stop = min(end, next_hour)
        yield local.weekday() * 24 + local.hour, (stop - cursor).total_seconds()
        cursor = stop


def hour_of_week_profile(
    events: Iterable[tuple[datetime, float]], exposure: Iterable[Interval], zone: str
) -> list[float] | None:
    """The relative intensity of bad events in each of the 168 hours of the week (local to
    ``zone``), 1.0 being the average, from earlier periods: ``events`` are (moment, amount),
    ``exposure`` the counted time they came from. ``None`` with less than
    ``SEASON_MIN_DAYS`` of exposure or ``SEASON_MIN_EVENTS`` events: too little to tell an
    hour's habit from chance. Each hour is shrunk toward the average by one average hour's
    worth of pseudo-evidence, so a quiet hour is not forecast as never failing."""
    tz = ZoneInfo(zone)
    slots: dict[tuple[int, int], list[float]] = {}
    for moment, amount in events:
        local = moment.astimezone(tz)
        slot = slots.setdefault((local.weekday(), local.hour), [0.0, 0])
        slot[0] += amount
        slot[1] += 1
    return hour_of_week_profile_of(
        [(day, hour, amount, n) for (day, hour), (amount, n) in slots.items()], exposure, zone
    )


def hour_of_week_profile_of(
    slots: Iterable[tuple[int, int, float, int]], exposure: Iterable[Interval], zone: str
) -> list[float] | None:
    """``hour_of_week_profile`` from events already summed per local hour of the week:
    (weekday 0-6, hour, amount, count), as the database groups them."""
    tz = ZoneInfo(zone)
    seconds = [0.0] * 168
    for a, b in exposure:
        for slot, length in _hour_slots(a, b, tz):
            seconds[slot] += length
    amounts = [0.0] * 168
    count = 0
    for day, hour, amount, n in slots:
        amounts[day * 24 + hour] += amount
        count += n
    exposed = sum(seconds)
    if exposed < SEASON_MIN_DAYS * 86400 or count < SEASON_MIN_EVENTS:
        return None
    mean_rate = sum(amounts) / exposed
    if mean_rate <= 0:
        return None
    prior = 3600.0  # one hour of exposure at the average rate
    return [
        (amounts[h] + mean_rate * prior) / (mean_rate * (seconds[h] + prior)) for h in range(168)
    ]


def weighted_seconds(intervals: Iterable[Interval], profile: Sequence[float], zone: str) -> float:
    """Seconds of ``intervals``, each hour weighted by its ``profile`` intensity."""
    tz = ZoneInfo(zone)
    return sum(
        length * profile[slot] for a, b in intervals for slot, length in _hour_slots(a, b, tz)
    )
