"""Writes to agreements: drafting (services/drafting.py), the lifecycle (services/lifecycle.py)
and the audit trail (services/audit.py)."""

from agreements.services.drafting import (
    DEFAULT_PRIORITIES,
    TARGET_COMPARE_FIELDS,
    TARGET_COPY_FIELDS,
    TIER_FIELDS,
    AgreementError,
    TargetCalendar,
    TierDifference,
    agreement_completeness,
    agreement_create_from_tier,
    calendar_frozen_reason,
    chosen_calendars,
    differing_target_ids,
    missing_sections,
    next_reference,
    next_target_position,
    target_calendar,
    tier_chosen_calendars,
    tier_differences,
)

__all__ = [
    "DEFAULT_PRIORITIES",
    "TARGET_COMPARE_FIELDS",
    "TARGET_COPY_FIELDS",
    "TIER_FIELDS",
    "AgreementError",
    "TargetCalendar",
    "TierDifference",
    "agreement_completeness",
    "agreement_create_from_tier",
    "calendar_frozen_reason",
    "chosen_calendars",
    "differing_target_ids",
    "missing_sections",
    "next_reference",
    "next_target_position",
    "target_calendar",
    "tier_chosen_calendars",
    "tier_differences",
]
