"""Writes to agreements: drafting (services/drafting.py), the lifecycle (services/lifecycle.py)
and the audit trail (services/audit.py)."""

from agreements.services.drafting import (
    DEFAULT_PRIORITIES,
    AgreementError,
    agreement_create_from_tier,
    calendar_frozen_reason,
    next_reference,
    next_target_position,
)

__all__ = [
    "DEFAULT_PRIORITIES",
    "AgreementError",
    "agreement_create_from_tier",
    "calendar_frozen_reason",
    "next_reference",
    "next_target_position",
]
