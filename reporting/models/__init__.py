"""The reporting app's models, one module per area; Django finds them through these names."""

from reporting.models.recompute import PeriodCorrection, RecomputeRun
from reporting.models.replay import ReplayRun
from reporting.models.reports import Report
from reporting.models.status import (
    Incident,
    IncidentUpdate,
    StatusNotice,
    StatusPage,
    Subscriber,
    SubscriberDelivery,
)

__all__ = [
    "Incident",
    "IncidentUpdate",
    "PeriodCorrection",
    "RecomputeRun",
    "ReplayRun",
    "Report",
    "StatusNotice",
    "StatusPage",
    "Subscriber",
    "SubscriberDelivery",
]
