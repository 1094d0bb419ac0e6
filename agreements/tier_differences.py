"""Where an agreement departs from its tier template: fields, calendars, targets and the
service-credit schedule. Reads only; the drafter sees them on the document and the editor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agreements.calendars import chosen_calendars, tier_chosen_calendars
from agreements.formatting import format_number
from agreements.models import Agreement, Target, TierTarget
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.sections import SECTIONS, calendar_section_for, section_for_metric

# Fields an agreement takes from its tier; the agreement may override each one.
TIER_FIELDS = (
    "review_interval_months",
    "fee_amount",
    "fee_period",
    "currency",
    "credit_cap_percent",
    "maintenance_max_minutes",
    "maintenance_notice_days",
    "maintenance_excluded",
)
# The target's spec fields (the calendar by id) plus its place in the table and its
# burn-rate rules (docs/burn-rates.md), which a tier's target hands on to the agreement.
TARGET_COPY_FIELDS = (
    *(f"{f}_id" if f == "calendar" else f for f in TARGET_SPEC_FIELDS),
    "position",
    "burn_rules",
)
TARGET_COMPARE_FIELDS = tuple(f for f in TARGET_COPY_FIELDS if f != "position")


def _compared(target: Target | TierTarget, field: str):
    """A field's value as compared: no burn rules and an empty list both mean the default
    set, and rules show as their names, windows and factors rather than raw JSON."""
    value = getattr(target, field)
    if field != "burn_rules":
        return value
    if not value:
        return "default set"
    return "; ".join(
        f"{r.get('name')} ({r.get('severity')} above {r.get('factor')} over "
        f"{r.get('long_seconds')} s and {r.get('short_seconds')} s"
        f"{', at least ' + str(r['min_events']) + ' events' if 'min_events' in r else ''})"
        if isinstance(r, dict)
        else str(r)
        for r in value
    )


@dataclass(frozen=True)
class TierDifference:
    """One value where the agreement departs from its tier template."""

    section: str
    what: str
    tier_value: Any
    agreement_value: Any


def tier_differences(agreement: Agreement) -> list[TierDifference]:
    """Every field, target and credit band in which the agreement differs from its tier."""
    tier = agreement.tier
    if tier is None:
        return []
    diffs: list[TierDifference] = []
    labels = {
        f.name: f.verbose_name for f in Agreement._meta.get_fields() if hasattr(f, "verbose_name")
    }
    section_of = {field: s.title for s in SECTIONS for field in s.fields}
    for field in TIER_FIELDS:
        ours, theirs = getattr(agreement, field), getattr(tier, field)
        if ours != theirs:
            diffs.append(
                TierDifference(section_of.get(field, "Terms"), str(labels[field]), theirs, ours)
            )
    if agreement.support_calendar_id != tier.support_calendar_id:
        diffs.append(
            TierDifference(
                "Support levels", "desk hours", tier.support_calendar, agreement.support_calendar
            )
        )
    tier_service = {tier.service_calendar_id} - {None}
    ours_service = set(agreement.service_calendars.values_list("id", flat=True))
    if tier_service != ours_service:
        diffs.append(
            TierDifference(
                "Service hours",
                "calendars",
                ", ".join(str(c) for c in [tier.service_calendar] if c) or "none",
                ", ".join(str(c) for c in agreement.service_calendars.all()) or "none",
            )
        )
    diffs += _target_differences(agreement.targets.all(), tier.targets.all(), agreement)
    ours_bands = {
        (b.metric, b.achieved_below, b.credit_percent) for b in agreement.credit_bands.all()
    }
    tier_bands = {(b.metric, b.achieved_below, b.credit_percent) for b in tier.credit_bands.all()}
    if ours_bands != tier_bands:
        diffs.append(
            TierDifference(
                "Charges",
                "service-credit schedule",
                _bands_text(tier_bands),
                _bands_text(ours_bands),
            )
        )
    return diffs


def _bands_text(bands: set) -> str:
    ordered = sorted(bands, key=lambda b: -b[1])
    return (
        "; ".join(f"below {format_number(b[1])} → {format_number(b[2])} %" for b in ordered)
        or "none"
    )


def _target_differences(
    ours: Iterable[Target], theirs: Iterable[TierTarget], agreement: Agreement | None = None
) -> list[TierDifference]:
    ours_by_key = {t.scope_key: t for t in ours}
    theirs_by_key = {t.scope_key: t for t in theirs}
    calendars = _effective_calendar_ids(agreement) if agreement is not None else None
    diffs = []
    for key, target in ours_by_key.items():
        section = section_for_metric(target.metric).title
        template = theirs_by_key.get(key)
        if template is None:
            diffs.append(TierDifference(section, f"{target.label}: added", None, "added"))
            continue
        for field in TARGET_COMPARE_FIELDS:
            a, b = _compared(template, field), _compared(target, field)
            if field == "calendar_id" and calendars is not None:
                a, b = calendars(template), calendars(target)
            if a != b:
                name = field.removesuffix("_id").replace("_", " ")
                diffs.append(TierDifference(section, f"{target.label}: {name}", a, b))
    for key, template in theirs_by_key.items():
        if key not in ours_by_key:
            section = section_for_metric(template.metric).title
            diffs.append(TierDifference(section, f"{template.label}: removed", "present", None))
    return diffs


def _effective_calendar_ids(agreement: Agreement):
    """A function giving the calendar id a tier target or agreement target is measured in,
    each under its own section calendars (so an inherited calendar equals a named one)."""
    ours = chosen_calendars(agreement)
    theirs = tier_chosen_calendars(agreement.tier) if agreement.tier_id else {}

    def effective(target: Target | TierTarget) -> int | None:
        # Ids only: comparing must not load each target's calendar.
        if target.calendar_id:
            return target.calendar_id
        chosen = ours if isinstance(target, Target) else theirs
        key = calendar_section_for(target.metric, chosen)
        inherited = chosen.get(key) if key else None
        return inherited.pk if inherited is not None else None

    return effective


def differing_target_ids(agreement: Agreement) -> set[int]:
    """Targets whose values are not the tier's (new targets included)."""
    if agreement.tier is None:
        return set()
    theirs = {t.scope_key: t for t in agreement.tier.targets.all()}
    calendars = _effective_calendar_ids(agreement)
    result = set()
    for target in agreement.targets.all():
        template = theirs.get(target.scope_key)
        if template is None or any(
            (calendars(template) != calendars(target))
            if f == "calendar_id"
            else _compared(template, f) != _compared(target, f)
            for f in TARGET_COMPARE_FIELDS
        ):
            result.add(target.pk)
    return result
