"""The building blocks of validation: a checker collecting located problems, and the checks
shared by OpenSLO v1 and v1alpha (time windows, calendars, objective targets).

The rules follow the OpenSLO specification and the go-sdk's validators (``openslo/go-sdk``
``pkg/openslo/v1``): RFC 1123 names, exactly one time window, ``target`` in [0, 1] or
``targetPercent`` in [0, 100] (one of them; the go-sdk excludes 1 and 100, the portal accepts
them because an agreement may promise 100 %), ``timeSliceTarget`` and ``timeSliceWindow`` for
the time-slice budgeting methods, ``indicator`` xor ``indicatorRef``, duration shorthands,
IANA time zones, and no field the specification does not define (an unknown field is most
often a typo that would otherwise be dropped silently). Free-form parts (a metric source's
``spec``, a data source's ``connectionDetails``, Sloth plugin options) are not looked into.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agreements.openslo.problems import Problem

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DURATION_RE = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# Longer windows than this mean nothing for an agreement, and a count of hundreds of digits
# overflows a float when the window is compared to the portal's periods.
MAX_WINDOW_COUNT = 1_000_000
PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

V1 = "openslo/v1"
V1ALPHA = "openslo/v1alpha"
SLOTH = "prometheus/v1"
SLOTH_K8S = "sloth.slok.dev/v1"
V1_KINDS = (
    "SLO",
    "SLI",
    "Service",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
)
V1ALPHA_KINDS = ("SLO", "Service")
BUDGETING = ("Occurrences", "Timeslices", "RatioTimeslices")
OPERATORS = ("lt", "lte", "gt", "gte")
V1ALPHA_UNITS = ("Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year")
SUPPORTED = (
    f"{V1}, {V1ALPHA} (SLO and Service), Sloth's {SLOTH} and {SLOTH_K8S} PrometheusServiceLevel"
)


class Checker:
    """Collects the problems of one object; each check says where and why."""

    def __init__(self, index: int, kind: str = "", name: str = "") -> None:
        self.index, self.kind, self.name = index, kind, name
        self.problems: list[Problem] = []

    def error(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.index, self.kind, self.name, path, reason))

    def mapping(
        self,
        value: Any,
        path: str,
        allowed: tuple[str, ...] | None = None,
        required: tuple[str, ...] = (),
    ) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping of fields, not {type_name(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    known = ", ".join(allowed)
                    self.error(
                        join_path(path, str(key)), f"unknown field (the fields here are: {known})"
                    )
        for key in required:
            if value.get(key) is None:
                self.error(join_path(path, key), "required field is missing")
        return value

    def text(self, value: Any, path: str, *, max_length: int | None = None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(path, f"must be text, not {type_name(value)}")
            return None
        if max_length is not None and len(value) > max_length:
            self.error(path, f"at most {max_length} characters, not {len(value)}")
        return value

    def boolean(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            self.error(path, f"must be true or false, not {type_name(value)}")

    def number(self, value: Any, path: str) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, f"must be a number, not {type_name(value)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(path, f"must be a finite number, not {value}")
            return None
        return to_decimal(value)

    def one_of(self, value: Any, path: str, choices: tuple[str, ...]) -> None:
        if value is not None and value not in choices:
            self.error(path, f"must be one of {', '.join(choices)}, not {value!r}")

    def dns_name(self, value: Any, path: str) -> None:
        if value is None:
            self.error(path, "required field is missing")
            return
        if self.text(value, path) is None:
            return
        if len(value) > 63 or not NAME_RE.match(value):
            self.error(
                path,
                f"{value!r} is not an RFC 1123 name: at most 63 lower case letters, digits or "
                "'-', starting and ending with a letter or digit",
            )

    def duration(self, value: Any, path: str, *, numeric_ok: bool = False) -> None:
        if value is None:
            return
        if numeric_ok and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            self.window_count(value, path)
            return
        match = DURATION_RE.match(value) if isinstance(value, str) else None
        if match is None:
            self.error(
                path,
                f"{value!r} is not a duration shorthand: a positive whole number followed by "
                "m, h, d, w, M, Q or Y (for example 28d, 1M)",
            )
            return
        self.window_count(int(match.group(1)), path)

    def window_count(self, count: int, path: str) -> None:
        if count > MAX_WINDOW_COUNT:
            digits = len(str(count))
            shown = f"{count:,}" if digits <= 12 else f"a count of {digits} digits"
            self.error(path, f"{shown} is too long a window: at most {MAX_WINDOW_COUNT:,} units")

    def items(self, value: Any, path: str, *, required: bool = False) -> list:
        if value is None:
            if required:
                self.error(path, "required field is missing")
            return []
        if not isinstance(value, list):
            self.error(path, f"must be a list, not {type_name(value)}")
            return []
        if required and not value:
            self.error(path, "must hold at least one item")
        return value


def to_decimal(value: int | float) -> Decimal:
    # repr gives the shortest text that reads back to the same float: 0.999 stays 0.999.
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def show(value: Decimal) -> str:
    """A number as people write it: 99.9, not 99.900 or 9.99E+1."""
    return format(value.normalize(), "f")


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_time_window(check: Checker, windows: Any, path: str, alpha: bool = False) -> None:
    windows = check.items(windows, path)
    if len(windows) > 1:
        check.error(path, f"exactly one time window is allowed, not {len(windows)}")
    for i, window in enumerate(windows[:1]):
        where = f"{path}[{i}]"
        fields = (
            ("unit", "count", "isRolling", "calendar")
            if alpha
            else ("duration", "isRolling", "calendar")
        )
        window = check.mapping(window, where, fields, ("unit", "count") if alpha else ("duration",))
        if window is None:
            continue
        if alpha:
            check.one_of(window.get("unit"), f"{where}.unit", V1ALPHA_UNITS)
            count = window.get("count")
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or count < 1
            ):
                check.error(f"{where}.count", f"must be a positive whole number, not {count!r}")
            elif count is not None:
                check.window_count(count, f"{where}.count")
        else:
            check.duration(window.get("duration"), f"{where}.duration")
        check.boolean(window.get("isRolling"), f"{where}.isRolling")
        rolling = window.get("isRolling") is True
        calendar = window.get("calendar")
        if not alpha and rolling and calendar is not None:
            check.error(f"{where}.calendar", "'calendar' cannot be set when 'isRolling' is true")
        if not alpha and window.get("isRolling") is False and calendar is None:
            check.error(f"{where}.calendar", "'calendar' must be set when 'isRolling' is false")
        if calendar is not None:
            _check_calendar(check, calendar, f"{where}.calendar")


def _check_calendar(check: Checker, calendar: Any, path: str) -> None:
    calendar = check.mapping(calendar, path, ("startTime", "timeZone"), ("startTime", "timeZone"))
    if calendar is None:
        return
    start = calendar.get("startTime")
    if start is not None and not isinstance(start, (datetime, date)):
        try:
            datetime.strptime(str(start), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            check.error(
                f"{path}.startTime", f"{start!r} is not a date and time like 2022-01-01 12:00:00"
            )
    zone = calendar.get("timeZone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            check.error(
                f"{path}.timeZone", f"{zone!r} is not an IANA time zone (e.g. Europe/Warsaw)"
            )


def check_objective_target(check: Checker, objective: dict, where: str) -> None:
    has_target, has_percent = "target" in objective, "targetPercent" in objective
    if has_target == has_percent:
        check.error(where, "exactly one of target (a ratio) or targetPercent is required")
    if has_target:
        value = check.number(objective.get("target"), f"{where}.target")
        if objective.get("target") is None:
            check.error(f"{where}.target", "required field is missing")
        elif value is not None and not Decimal(0) <= value <= Decimal(1):
            hint = " (a ratio: 0.999 means 99.9 %)" if value > 1 else ""
            check.error(f"{where}.target", f"must lie between 0 and 1, not {value}{hint}")
    if has_percent:
        value = check.number(objective.get("targetPercent"), f"{where}.targetPercent")
        if value is not None and not Decimal(0) <= value <= Decimal(100):
            check.error(f"{where}.targetPercent", f"must lie between 0 and 100, not {value}")
