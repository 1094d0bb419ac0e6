from .agreement import Agreement, Signatory, SupportChannel
from .audit import AuditEvent
from .catalogue import Calendar, CalendarHours, ClosureDate, Service
from .lifecycle import (
    Acceptance,
    AgreementVersion,
    Comment,
    FrozenVersionError,
    Review,
    ReviewAction,
    Signature,
    SupportingAgreement,
)
from .targets import CreditBand, PriorityDefinition, Target, TierCreditBand, TierTarget
from .tiers import Tier

__all__ = [
    "Acceptance",
    "Agreement",
    "AgreementVersion",
    "AuditEvent",
    "Calendar",
    "CalendarHours",
    "ClosureDate",
    "Comment",
    "CreditBand",
    "FrozenVersionError",
    "PriorityDefinition",
    "Review",
    "ReviewAction",
    "Service",
    "Signatory",
    "Signature",
    "SupportChannel",
    "SupportingAgreement",
    "Target",
    "Tier",
    "TierCreditBand",
    "TierTarget",
]
