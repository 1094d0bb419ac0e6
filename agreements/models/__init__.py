from .agreement import Agreement, Signatory, SupportChannel
from .catalogue import Calendar, CalendarHours, ClosureDate, Service
from .targets import CreditBand, PriorityDefinition, Target, TierCreditBand, TierTarget
from .tiers import Tier

__all__ = [
    "Agreement",
    "Calendar",
    "CalendarHours",
    "ClosureDate",
    "CreditBand",
    "PriorityDefinition",
    "Service",
    "Signatory",
    "SupportChannel",
    "Target",
    "Tier",
    "TierCreditBand",
    "TierTarget",
]
