"""The terms monitoring measures against: read from the signed version, never the working copy.

While an agreement is renegotiated its editable rows change, but what binds the parties is
the version in force. ``measured_terms`` turns that version's snapshot into plain values and
:class:`~agreements.clock.BusinessCalendar` clocks; versions are immutable, so the result is
cached per version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from agreements.burn_rules import BurnRule, parse_rules
from agreements.clock import BusinessCalendar
from agreements.public_holidays import public_holidays, years_around

# Seconds per unit of a time target.
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "ms": 0.001}
# Agreement states in which tickets and services are measured against the version in force.
MONITORED_STATES = frozenset({"active", "under_review", "renegotiating"})


@dataclass(frozen=True)
class MeasuredTarget:
    key: str
    label: str
    metric: str
    priority: str
    error_category: str
    name: str
    service: str
    unit: str
    direction: str
    period: str
    data_source: str
    target_value: Decimal
    threshold_value: Decimal
    compliance_target: Decimal | None
    compliance_threshold: Decimal | None
    warning_percent: Decimal
    calendar_name: str
    calendar: BusinessCalendar
    # CSAT and NPS targets: responses a period needs before it gets a verdict.
    min_responses: int | None = None
    # The target's own burn-rate rules; empty: the default set (docs/burn-rates.md).
    burn_rules: tuple[BurnRule, ...] = ()

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def is_ticket_timer(self) -> bool:
        return self.data_source == "tickets" and self.metric in {
            "response_time",
            "resolution_time",
        }

    @property
    def is_experience(self) -> bool:
        return self.metric in {"csat", "nps"}

    @property
    def zone(self) -> str:
        return self.calendar.timezone

    def seconds(self, value: Decimal) -> float:
        return float(value) * UNIT_SECONDS[self.unit]

    def applies_to_ticket(self, priority: str, service: str) -> bool:
        """A ticket target without a priority (or service) covers every priority (service)."""
        return (not self.priority or self.priority == priority) and (
            not self.service or self.service == service
        )


@dataclass(frozen=True)
class MeasuredTerms:
    version_id: int
    effective_from: date
    effective_to: date | None
    services: tuple[str, ...]
    maintenance_excluded: bool
    maintenance_notice_days: int
    maintenance_max_minutes: int
    targets: tuple[MeasuredTarget, ...]


def measured_terms(agreement) -> MeasuredTerms | None:
    """The measured terms of ``agreement``'s version in force (None when there is none)."""
    if not agreement.in_force_version_id:
        return None
    return terms_of_version(agreement.in_force_version_id)


_cache: dict[int, MeasuredTerms] = {}


def forget_measured_terms() -> None:
    """Drop the cached terms and public holidays, so the next evaluation reads them afresh
    (a recompute after the ``holidays`` package learned a holiday it did not know)."""
    _cache.clear()
    public_holidays.cache_clear()  # lru_cache: a package update is read on the next call


def terms_of_version(version_id: int) -> MeasuredTerms:
    """The measured terms of one signed version, read and decoded once per process.

    Versions never change (a database trigger refuses it), so the id is a safe cache key;
    the snapshot (several kilobytes of JSON) is loaded from the database only on a miss, so
    callers need not ``select_related`` it for every row they evaluate."""
    found = _cache.get(version_id)
    if found is None:
        from agreements.models import AgreementVersion

        snapshot = AgreementVersion.objects.values_list("snapshot", flat=True).get(pk=version_id)
        if len(_cache) > 512:
            _cache.clear()
        found = _cache[version_id] = terms_from_snapshot(version_id, snapshot)
    return found


def terms_from_snapshot(version_id: int, snapshot: dict) -> MeasuredTerms:
    """Plain measured terms from a version snapshot (``agreements.snapshot.build_snapshot``)."""
    calendars = {c["name"]: calendar_from_snapshot(c) for c in snapshot.get("calendars", [])}
    availability = snapshot["sections"]["availability"]["fields"]
    targets = []
    for row in snapshot["targets"]:
        name = row.get("calendar") or "24x7"
        targets.append(
            MeasuredTarget(
                key=row["key"],
                label=row.get("label") or row["key"],
                metric=row["metric"],
                priority=row.get("priority", ""),
                error_category=row.get("error_category", ""),
                name=row.get("name", ""),
                service=row.get("service", ""),
                unit=row["unit"],
                direction=row["direction"],
                period=row.get("period") or "month",
                data_source=row.get("data_source", ""),
                target_value=Decimal(row["target_value"]),
                threshold_value=Decimal(row["threshold_value"]),
                compliance_target=_decimal(row.get("compliance_target")),
                compliance_threshold=_decimal(row.get("compliance_threshold")),
                warning_percent=Decimal(row.get("warning_percent") or "75"),
                calendar_name=name if name in calendars else "24x7",
                calendar=calendars.get(name, BusinessCalendar.always()),
                min_responses=int(row["min_responses"]) if row.get("min_responses") else None,
                burn_rules=parse_rules(row.get("burn_rules"))[0],
            )
        )
    terms = snapshot["terms"]
    return MeasuredTerms(
        version_id=version_id,
        effective_from=date.fromisoformat(terms["effective_from"]),
        effective_to=date.fromisoformat(terms["effective_to"]) if terms["effective_to"] else None,
        services=tuple(terms.get("services", ())),
        maintenance_excluded=availability.get("maintenance_excluded") == "true",
        maintenance_notice_days=int(availability.get("maintenance_notice_days") or 0),
        maintenance_max_minutes=int(availability.get("maintenance_max_minutes") or 0),
        targets=tuple(targets),
    )


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value not in (None, "") else None


def calendar_from_snapshot(row: dict, today: date | None = None) -> BusinessCalendar:
    """The clock of a calendar as the signed version recorded it."""
    if row.get("is_24x7") == "true":
        weekly = {day: [(time(0), time(0))] for day in range(7)}
        return BusinessCalendar(timezone=row["timezone"], weekly_hours=weekly, holidays=set())
    weekly: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in row.get("hours", []):
        weekly.setdefault(int(weekday), []).append(
            (time.fromisoformat(start), time.fromisoformat(end))
        )
    closed = set(
        public_holidays(
            row.get("holiday_country", ""),
            row.get("holiday_subdivision", ""),
            years_around(today or date.today()),
        )
    )
    closed.update(date.fromisoformat(day) for day, _reason in row.get("closures", []))
    return BusinessCalendar(timezone=row["timezone"], weekly_hours=weekly, holidays=closed)
