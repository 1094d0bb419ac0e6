"""Burn-rate alert rules of a target: the SRE workbook's default set and a target's own.

A rule says: alert ``severity`` when the error budget burns faster than ``factor`` over a
long window and a short one at once (docs/burn-rates.md). The rules are part of what the
parties sign (the target's ``burn_rules``, recorded in the version's snapshot), so they are
parsed and validated here, below monitoring, with clear errors per rule and field; the rates
themselves are computed by ``monitoring.compliance.burn``.

Pure, no Django (house style point 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DEFAULT_RULES",
    "PAGE",
    "REFERENCE_SECONDS",
    "WARN",
    "BurnRule",
    "burn_rule_messages",
    "parse_rules",
]

PAGE = "page"
WARN = "warn"
SEVERITIES = (PAGE, WARN)
# The workbook's rules are written for a 30-day window; default windows are this share of it.
REFERENCE_SECONDS = 30 * 86400.0
# A rule's window may be no shorter than this (a shorter one says nothing but noise).
MIN_WINDOW_SECONDS = 1.0
# Events (missed tickets, errors) the long window must hold before a rule on a count fires:
# a budget of a few dozen tickets makes a single miss burn far past 14.4, and one miss is
# not yet a burn. Availability has no events and ignores it.
DEFAULT_MIN_EVENTS = 2
MAX_MIN_EVENTS = 100000


@dataclass(frozen=True)
class BurnRule:
    """Fire ``severity`` when the burn rate over both windows exceeds ``factor``.

    ``long_seconds`` and ``short_seconds`` are seconds of counted time. ``scaled`` rules
    (the default set) are written for a 30-day period of round-the-clock time and are
    stretched to the period's counted time (``rules_for_period``); rules configured on a
    target are taken as written. On a count (tickets, errors) a rule fires only once its
    long window holds ``min_events`` events."""

    name: str
    severity: str
    long_seconds: float
    short_seconds: float
    factor: float
    scaled: bool = False
    min_events: int = DEFAULT_MIN_EVENTS

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "severity": self.severity,
            "long_seconds": self.long_seconds,
            "short_seconds": self.short_seconds,
            "factor": self.factor,
            "min_events": self.min_events,
        }


DEFAULT_RULES = (
    BurnRule("page-1h", PAGE, 3600.0, 300.0, 14.4, scaled=True),
    BurnRule("page-6h", PAGE, 6 * 3600.0, 1800.0, 6.0, scaled=True),
    BurnRule("warn-3d", WARN, 3 * 86400.0, 6 * 3600.0, 1.0, scaled=True),
)


def parse_rules(raw: object) -> tuple[tuple[BurnRule, ...], dict[str, str]]:
    """Rules from a target's configuration (a list of objects, see ``BurnRule.as_dict``),
    and the errors found, keyed ``"<index>.<field>"`` (empty when it is valid). ``None`` or
    an empty list is no configuration: the default set applies."""
    if raw in (None, []):
        return (), {}
    if not isinstance(raw, list):
        return (), {"rules": "Expected a list of rules."}
    rules, errors, names = [], {}, set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors[f"{index}"] = "Each rule is an object with name, severity, windows and factor."
            continue
        fields = {"name", "severity", "long_seconds", "short_seconds", "factor", "min_events"}
        unknown = set(item) - fields
        if unknown:
            errors[f"{index}"] = f"Unknown field(s): {', '.join(sorted(unknown))}."
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 40:
            errors[f"{index}.name"] = "A name of 1 to 40 characters is required."
        elif name in names:
            errors[f"{index}.name"] = f"The name {name!r} is used twice."
        names.add(name)
        severity = item.get("severity")
        if severity not in SEVERITIES:
            errors[f"{index}.severity"] = "Severity is 'page' or 'warn'."
        numbers = {}
        for key in ("long_seconds", "short_seconds", "factor"):
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors[f"{index}.{key}"] = "A number is required."
                continue
            try:
                number = float(value)
            except OverflowError:  # an integer past any float
                number = math.inf
            if not math.isfinite(number) or number <= 0:
                errors[f"{index}.{key}"] = "Must be a positive finite number."
            else:
                numbers[key] = number
        if len(numbers) == 3:
            if numbers["short_seconds"] < MIN_WINDOW_SECONDS:
                errors[f"{index}.short_seconds"] = "The short window is at least 1 second."
            if numbers["short_seconds"] >= numbers["long_seconds"]:
                errors[f"{index}.short_seconds"] = "The short window is shorter than the long one."
            if numbers["long_seconds"] > 366 * 86400:
                errors[f"{index}.long_seconds"] = "The long window is at most a year."
        min_events = item.get("min_events", DEFAULT_MIN_EVENTS)
        if (
            isinstance(min_events, bool)
            or not isinstance(min_events, int)
            or not 1 <= min_events <= MAX_MIN_EVENTS
        ):
            errors[f"{index}.min_events"] = f"A whole number from 1 to {MAX_MIN_EVENTS}."
        if not any(key.startswith(f"{index}") for key in errors):
            rules.append(
                BurnRule(
                    name,
                    severity,
                    numbers["long_seconds"],
                    numbers["short_seconds"],
                    numbers["factor"],
                    min_events=min_events,
                )
            )
    if len(raw) > 10:
        errors["rules"] = "At most 10 rules per target."
    return (tuple(rules) if not errors else ()), errors


def burn_rule_messages(errors: dict[str, str]) -> list[str]:
    """``parse_rules``' errors as sentences that name the rule and field: "Rule 1, factor:
    Must be a positive number." """
    found = []
    for key, reason in errors.items():
        index, _, name = key.partition(".")
        where = f"Rule {int(index) + 1}" if index.isdigit() else "Rules"
        found.append(f"{where}{f', {name}' if name else ''}: {reason}")
    return found
