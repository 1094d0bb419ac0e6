from monitoring.models.alerts import Alert, Breach, DigestItem, EscalationContact
from monitoring.models.evaluation import (
    RECOVERY_LEVELS,
    BurnLevel,
    EvaluationRequest,
    Level,
    PeriodResult,
    Status,
    TicketTimer,
)
from monitoring.models.events import ContinuityIncident, ErrorEvent, Measurement
from monitoring.models.experience import NpsSchedule, Survey
from monitoring.models.imports import ImportJob
from monitoring.models.probe import ProbeState
from monitoring.models.sources import SignedDelivery, Source, TicketEventStamp
from monitoring.models.tickets import Ticket, TicketPause, TicketStatusChange
from monitoring.models.uptime import MaintenanceWindow, Outage, UptimeCheck

__all__ = [
    "RECOVERY_LEVELS",
    "Alert",
    "Breach",
    "BurnLevel",
    "ContinuityIncident",
    "DigestItem",
    "ErrorEvent",
    "EscalationContact",
    "EvaluationRequest",
    "ImportJob",
    "Level",
    "MaintenanceWindow",
    "Measurement",
    "NpsSchedule",
    "Outage",
    "PeriodResult",
    "ProbeState",
    "SignedDelivery",
    "Source",
    "Status",
    "Survey",
    "Ticket",
    "TicketEventStamp",
    "TicketPause",
    "TicketStatusChange",
    "TicketTimer",
    "UptimeCheck",
]
