from agreements.models.agreement import Agreement, Signatory, SupportChannel
from agreements.models.audit import AuditEvent
from agreements.models.catalogue import Calendar, CalendarHours, ClosureDate, Service
from agreements.models.lifecycle import (
    Acceptance,
    AgreementVersion,
    Comment,
    FrozenVersionError,
    Review,
    ReviewAction,
    Signature,
    SupportingAgreement,
)
from agreements.models.targets import (
    CreditBand,
    PriorityDefinition,
    Target,
    TierCreditBand,
    TierTarget,
)
from agreements.models.tiers import Tier

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
