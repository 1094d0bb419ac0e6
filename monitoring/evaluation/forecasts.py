"""Forecasts of the period's end: fed from the database, computed by
``monitoring.compliance.forecast``, stored in the period result and alerted once.

``observe`` reads what a period showed at a moment (the live evaluation's clock, or a
moment inside a closed period for the backtest, ``monitoring.evaluation.backtest``), with the
same ``measure`` the evaluation uses, so a forecast and a verdict never count differently.
``history_of`` reads the earlier closed periods of the target, and the seasonal profile of
their bad events by hour of the week. ``record_forecast`` keeps the forecast in the
period's ``details["forecast"]`` with the moment it first crossed into "predicted to miss"
or "predicted to breach", and raises that level's alert once (``monitoring.evaluation.alerts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import pvariance
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DateTimeField, F, Q, Sum, Value
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, Least

from agreements.models import Agreement
from agreements.terms import MeasuredTarget, MeasuredTerms
from monitoring.compliance import forecast as fc
from monitoring.compliance.intervals import merge_intervals, total_seconds
from monitoring.compliance.states import AT_RISK, BREACHED, MET, MISSED_TARGET
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.evaluation import alerts
from monitoring.evaluation.period_breaches import value_text
from monitoring.models import ErrorEvent, Level, Measurement, Outage, PeriodResult
from monitoring.models.ownership import counted_for

# Earlier periods a forecast learns from (a year of months, four years of quarters).
HISTORY_PERIODS = 12
# The open period's details keep what ``history_of`` found under this key: it changes only
# when a period closes, so it is read once per period, not at every evaluation.
HISTORY_KEY = "forecast_history"
LEVEL_OF = {fc.PREDICTED_MISS: Level.PREDICTED_MISS, fc.PREDICTED_BREACH: Level.PREDICTED_BREACH}
# The crossing (``Verdict.crossings``) of the level each prediction is about.
CROSSING_OF = {Level.PREDICTED_MISS: MISSED_TARGET, Level.PREDICTED_BREACH: BREACHED}


def kind_of(target: MeasuredTarget) -> str | None:
    """The forecast's shape of a target (``monitoring.compliance.forecast``), or ``None``
    for targets without one (the longest recovery, survey scores)."""
    if target.is_ticket_timer:
        return fc.RATIO
    if target.is_experience:
        return None
    if target.metric == "availability" and target.data_source == "uptime":
        return fc.RATIO
    if target.data_source == "errors":
        return fc.COUNT
    if target.data_source == "measurements":
        return fc.MEAN
    return None


def target_kind_label(target: MeasuredTarget) -> str:
    """The kind of target as the backtest's tables name it."""
    if target.is_ticket_timer:
        return "ticket share"
    if target.metric == "availability":
        return "availability"
    if target.data_source == "errors":
        return "error count"
    return "measured value"


# monitoring.evaluation.measure.measure: (agreement, terms, target, service ids, window,
# now, closed) -> (verdict, unit, goal).
Measure = Callable[..., tuple[Verdict, str, Goal]]


@dataclass(frozen=True)
class Seen:
    """A period as seen at one moment: the forecast's observation and the verdict then."""

    observation: fc.Observation
    verdict: Verdict
    goal: Goal


def observe(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    service_ids: list[int],
    period: tuple[datetime, datetime],
    at: datetime,
    measure: Measure,
    profile: list[float] | None = None,
    known: tuple[Verdict, Goal] | None = None,
) -> Seen | None:
    """What ``period`` showed at ``at``, for a forecast; ``None`` when its kind has none or
    nothing was measured. ``measure`` is the evaluation's own
    (``monitoring.evaluation.measure.measure``, passed in: that module calls this one);
    ``known`` is its verdict at ``at`` when the caller has just measured it (the live
    evaluation), so it is not measured twice."""
    kind = kind_of(target)
    if kind is None:
        return None
    start, end = period
    at = min(max(at, start), end)
    calendar = target.calendar
    if target.metric == "availability" and not target.is_ticket_timer:
        verdict, goal = known or _measured(
            measure, agreement, terms, target, service_ids, period, at
        )
        d = verdict.details
        if verdict.value is None or "counted_seconds" not in d:
            return None
        if d.get("no_data_since") and not d.get("silence_counts_as_down"):
            # The data stopped arriving: the rest of the period is nobody's measurement,
            # and a forecast of it would be a guess (the page says "no data since").
            return None
        events = Outage.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=start),
            counted_for(agreement.customer_id),
            service_id__in=service_ids,
            started_at__lt=at,
        ).count()
        elapsed = d["elapsed_seconds"]
        remaining = max(d["counted_seconds"] - elapsed, 0.0)
        obs = fc.Observation(
            fc.RATIO,
            bad=d["down_seconds"],
            total=elapsed,
            events=events,
            elapsed=elapsed,
            remaining=remaining,
            sized_events=True,
            **_season(calendar, period, at, profile, target.zone),
        )
        return Seen(obs, verdict, goal)
    window = (start, at)
    verdict, goal = known or _measured(measure, agreement, terms, target, service_ids, window, at)
    if kind == fc.COUNT:
        # Every error counts, in service hours or not (``measure``): calendar time.
        elapsed = (at - start).total_seconds()
        remaining = (end - at).total_seconds()
    else:
        elapsed = calendar.business_seconds(start, at)
        remaining = calendar.business_seconds(at, end)
    d = verdict.details
    if target.is_ticket_timer:
        met, missed = d.get("met", 0), d.get("missed", 0)
        obs = fc.Observation(fc.RATIO, missed, met + missed, missed, elapsed, remaining)
    elif kind == fc.COUNT:
        if verdict.value is None:
            return None
        count = int(verdict.value)
        season = _season(None, period, at, profile, target.zone)
        obs = fc.Observation(fc.COUNT, count, 0, count, elapsed, remaining, **season)
    else:
        samples = _samples(agreement, target, service_ids, (start, at))
        if not samples:
            return None
        spread = pvariance(samples) if len(samples) > 1 else 0.0
        obs = fc.Observation(
            fc.MEAN, sum(samples), len(samples), 0, elapsed, remaining, sample_variance=spread
        )
    return Seen(obs, verdict, goal)


def _measured(measure: Measure, agreement, terms, target, service_ids, window, at):
    """The verdict and goal of ``window`` at ``at``, as the evaluation measures it with
    only what was known at ``at`` (``as_of``: no later outage, end or announcement)."""
    verdict, _unit, goal = measure(
        agreement, terms, target, service_ids, window, at, False, as_of=at
    )
    return verdict, goal


def _samples(
    agreement: Agreement,
    target: MeasuredTarget,
    service_ids: list[int],
    window: tuple[datetime, datetime],
) -> list[float]:
    values = Measurement.objects.filter(
        counted_for(agreement.customer_id),
        service_id__in=service_ids,
        measured_at__gte=window[0],
        measured_at__lt=window[1],
    )
    if target.name:
        values = values.filter(name=target.name)
    return list(values.values_list("value", flat=True))


def _season(calendar, period, at, profile, zone) -> dict[str, float]:
    """How much worse the rest of the period usually goes than what was seen
    (``season_factor``) and than the average hour (``season_left``), from the profile
    (``hour_of_week_profile``); 1.0 each without one. ``calendar`` ``None``: every hour
    counts (error counts)."""
    if profile is None:
        return {}
    start, end = period

    def hours(a, b):
        if b <= a:
            return []
        return merge_intervals(calendar.intervals(a, b)) if calendar is not None else [(a, b)]

    seen, left = hours(start, at), hours(at, end)
    if not left:
        return {}
    left_w = fc.weighted_seconds(left, profile, zone) / total_seconds(left)
    if not seen:
        return {"season_left": left_w}
    seen_w = fc.weighted_seconds(seen, profile, zone) / total_seconds(seen)
    return {"season_factor": left_w / seen_w if seen_w > 0 else 1.0, "season_left": left_w}


def history_of(
    agreement: Agreement,
    target: MeasuredTarget,
    service_ids: list[int],
    before: datetime,
) -> tuple[fc.History, list[float] | None]:
    """The earlier closed periods of ``target`` (at most ``HISTORY_PERIODS``, ending by
    ``before``) as the forecast's history, and the seasonal profile of their bad events
    (availability and error counts, where there is enough of it)."""
    rows = list(
        PeriodResult.objects.filter(
            agreement=agreement,
            target_key=target.key,
            closed_at__isnull=False,
            period_end__lte=before,
            value__isnull=False,
        )
        .order_by("-period_start")
        .values("period_start", "period_end", "value", "details")[:HISTORY_PERIODS]
    )
    if not rows:
        return fc.History(), None
    calendar = target.calendar
    rates, volumes, sizes = [], [], []
    for row in rows:
        d = row["details"] or {}
        service = calendar.business_seconds(row["period_start"], row["period_end"])
        if target.is_ticket_timer:
            decided = d.get("met", 0) + d.get("missed", 0)
            if decided:
                rates.append(d.get("missed", 0) / decided)
                volumes.append(decided / service if service else 0.0)
        elif target.metric == "availability":
            if d.get("counted_seconds"):
                rates.append(d.get("down_seconds", 0.0) / d["counted_seconds"])
        elif target.data_source == "errors":
            # Errors per calendar second: every error counts (``measure``).
            length = (row["period_end"] - row["period_start"]).total_seconds()
            if length:
                rates.append(row["value"] / length)
        else:
            rates.append(row["value"])
            if service and d.get("samples"):
                volumes.append(d["samples"] / service)
    first = min(row["period_start"] for row in rows)
    last = max(row["period_end"] for row in rows)
    counted = counted_for(agreement.customer_id)
    slots: list[tuple[int, int, float, int]] = []
    if target.metric == "availability" and not target.is_ticket_timer:
        outages = Outage.objects.filter(
            counted,
            service_id__in=service_ids,
            started_at__gte=first,
            started_at__lt=last,
            ended_at__isnull=False,
        )
        length = Least(F("ended_at"), Value(last, output_field=DateTimeField())) - F("started_at")
        slots = _hour_counts(outages, "started_at", target.zone, Sum(length))
        count = sum(n for *_, n in slots)
        if count:
            sizes.append(sum(amount for _, _, amount, _ in slots) / count)
        exposure = merge_intervals(calendar.intervals(first, last))
    elif target.data_source == "errors":
        errors = ErrorEvent.objects.filter(
            counted, service_id__in=service_ids, occurred_at__gte=first, occurred_at__lt=last
        )
        if target.error_category:
            errors = errors.filter(category=target.error_category)
        slots = _hour_counts(errors, "occurred_at", target.zone, None)
        exposure = [(first, last)]  # every error counts, in service hours or not
    profile = None
    if slots:
        profile = fc.hour_of_week_profile_of(slots, exposure, target.zone)
    return fc.History(rates, volumes, sizes), profile


def _hour_counts(rows, moment: str, zone: str, amount) -> list[tuple[int, int, float, int]]:
    """(weekday 0-6, hour, amount, count) of ``rows`` by the local hour of ``moment``,
    summed in PostgreSQL (``amount`` ``None``: one per row)."""
    tz = ZoneInfo(zone)
    grouped = (
        rows.order_by()
        .annotate(dow=ExtractIsoWeekDay(moment, tzinfo=tz), hour=ExtractHour(moment, tzinfo=tz))
        .values("dow", "hour")
        .annotate(n=Count("pk"), **({"amount": amount} if amount is not None else {}))
    )
    found = []
    for row in grouped:
        value = row.get("amount", row["n"])
        if isinstance(value, timedelta):
            value = value.total_seconds()
        found.append((row["dow"] - 1, row["hour"], float(value or 0.0), row["n"]))
    return found


def forecast_period(
    agreement: Agreement,
    terms: MeasuredTerms,
    target: MeasuredTarget,
    service_ids: list[int],
    period: tuple[datetime, datetime],
    at: datetime,
    measure: Measure,
    known: tuple[Verdict, Goal] | None = None,
    stored: dict | None = None,
) -> tuple[fc.Forecast, Seen, dict] | None:
    """The forecast of ``period``'s end as seen at ``at``, from its history up to its start
    (``known``: see ``observe``), and that history as kept in the details (``HISTORY_KEY``;
    ``stored``: as kept before, reused when it is of the same terms)."""
    if kind_of(target) is None:
        return None
    version = terms.version_id
    if stored and stored.get("version") == version:
        kept = stored
    else:
        kept = {
            "version": version,
            **history_as_details(*history_of(agreement, target, service_ids, period[0])),
        }
    history = fc.History(kept["rates"], kept["volumes"], kept["sizes"])
    profile = kept["profile"]
    seen = observe(agreement, terms, target, service_ids, period, at, measure, profile, known)
    if seen is None:
        return None
    made = fc.forecast(seen.observation, seen.goal, history)
    return (made, seen, kept) if made is not None else None


def history_as_details(history: fc.History, profile: list[float] | None) -> dict:
    """``history_of``'s answer as JSON for the period's details."""
    return {
        "rates": list(history.rates),
        "volumes": list(history.volumes),
        "sizes": list(history.sizes),
        "profile": profile,
    }


def as_details(made: fc.Forecast, now: datetime, previous: dict | None, unit: str) -> dict:
    """The forecast as stored in ``details["forecast"]``, keeping the moments it first
    crossed into each predicted level (a forecast that recovers keeps its history)."""
    crossed = dict((previous or {}).get("crossed", {}))
    if made.predicted != fc.MET:
        crossed.setdefault(made.predicted, now.isoformat())
        if made.predicted == fc.PREDICTED_BREACH:
            crossed.setdefault(fc.PREDICTED_MISS, now.isoformat())
    return {
        "value": made.value,
        "low": made.low,
        "high": made.high,
        "band": fc.BAND,
        "unit": unit,
        "status": made.status,
        "predicted": made.predicted,
        "confidence": made.confidence,
        "chance_missed": made.chance_missed,
        "chance_breached": made.chance_breached,
        "progress": made.progress,
        "seasonal": made.seasonal,
        "history_periods": made.details.get("history", 0),
        "samples": made.details.get("samples"),
        "made_at": now.isoformat(),
        "crossed": crossed,
    }


def forecast_text(made: dict, goal: Goal) -> str:
    """ "Forecast 99.62 % (80 % band 99.41 % to 99.80 %) against target 99.90 % (threshold
    99.50 %); 91 % likely to miss the target", for the alert's email."""
    unit = made["unit"]
    # A forecast count is an expectation: "5.3 errors", not "5.32038".
    low, value, top = (
        round(made[key], 1) if unit == "count" else made[key] for key in ("low", "value", "high")
    )
    band = value_text(low, unit, goal).split(" against ")[0]
    high = value_text(top, unit, goal).split(" against ")[0]
    text = value_text(value, unit, goal)
    head, _, rest = text.partition(" against ")
    chance = (
        made["chance_breached"]
        if made["predicted"] == fc.PREDICTED_BREACH
        else made["chance_missed"]
    )
    what = "breach the threshold" if made["predicted"] == fc.PREDICTED_BREACH else "miss the target"
    return (
        f"Forecast {head} (80 % band {band} to {high}) against {rest}; "
        f"{chance * 100:.0f} % likely to {what}"
    )


def alert_level(made: dict, verdict: Verdict) -> str | None:
    """The predicted level a stored forecast alerts about, or ``None``.

    "Predicted to miss" only while the period has not missed yet, "predicted to breach"
    only while it has not breached (a level that happened is alerted as such); a measured
    value only from ``MIN_SAMPLES`` samples on; only
    at ``SLA_FORECAST_ALERT_CONFIDENCE`` or more (a coin toss wakes nobody), and not when
    an open outage already has the moment of that very level scheduled
    (``Verdict.crossings``): the deadline loop raises the real level then, if the outage
    goes on."""
    level = LEVEL_OF.get(made["predicted"])
    if level is None or made["confidence"] < settings.SLA_FORECAST_ALERT_CONFIDENCE:
        return None
    # Each level only while it has not happened: a period that already missed may still
    # be predicted to breach.
    if level == Level.PREDICTED_MISS and verdict.status not in (MET, AT_RISK):
        return None
    if verdict.status == BREACHED:
        return None
    samples = made.get("samples")
    if samples is not None and samples < fc.MIN_SAMPLES:
        return None
    if CROSSING_OF[level] in verdict.crossings:
        return None
    return level


def record_forecast(
    agreement: Agreement,
    target: MeasuredTarget,
    row: PeriodResult,
    verdict: Verdict,
    goal: Goal,
    now: datetime,
) -> int:
    """Raise the predicted level's alert once for an open period (``alert_level``); return
    how many alerts were new."""
    made = (row.details or {}).get("forecast")
    if not made or row.is_closed:
        return 0
    level = alert_level(made, verdict)
    if level is None:
        return 0
    candidate = alerts.Candidate(level, now, row.period_end, forecast_text(made, goal))
    return alerts.raise_alerts(
        agreement=agreement,
        target_key=target.key,
        target_label=target.label[:200],
        candidates=[candidate],
        now=now,
        zone=target.zone,
        period_result_id=row.pk,
    )
