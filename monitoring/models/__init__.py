from .evaluation import (
    Alert,
    Breach,
    DigestItem,
    EscalationContact,
    EvaluationRequest,
    Level,
    PeriodResult,
    Status,
    TicketTimer,
)
from .events import ContinuityIncident, ErrorEvent, Measurement
from .imports import ImportJob
from .probe import ProbeState
from .sources import SignedDelivery, Source, TicketEventStamp
from .tickets import Ticket, TicketPause, TicketStatusChange
from .uptime import MaintenanceWindow, Outage, UptimeCheck

__all__ = [
    "Alert",
    "Breach",
    "ContinuityIncident",
    "DigestItem",
    "ErrorEvent",
    "EscalationContact",
    "EvaluationRequest",
    "ImportJob",
    "Level",
    "MaintenanceWindow",
    "Measurement",
    "Outage",
    "PeriodResult",
    "ProbeState",
    "SignedDelivery",
    "Source",
    "Status",
    "Ticket",
    "TicketEventStamp",
    "TicketPause",
    "TicketStatusChange",
    "TicketTimer",
    "UptimeCheck",
]
