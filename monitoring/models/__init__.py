from monitoring.models.alerts import Alert, Breach, DigestItem, EscalationContact
from monitoring.models.evaluation import (
    EvaluationRequest,
    Level,
    PeriodResult,
    Status,
    TicketTimer,
)
from monitoring.models.events import ContinuityIncident, ErrorEvent, Measurement
from monitoring.models.imports import ImportJob
from monitoring.models.probe import ProbeState
from monitoring.models.sources import SignedDelivery, Source, TicketEventStamp
from monitoring.models.tickets import Ticket, TicketPause, TicketStatusChange
from monitoring.models.uptime import MaintenanceWindow, Outage, UptimeCheck

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
