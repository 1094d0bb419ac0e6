from .events import ContinuityIncident, ErrorEvent, Measurement
from .imports import ImportJob
from .probe import ProbeState
from .sources import Source
from .tickets import Ticket, TicketPause, TicketStatusChange
from .uptime import MaintenanceWindow, Outage, UptimeCheck

__all__ = [
    "ContinuityIncident",
    "ErrorEvent",
    "ImportJob",
    "MaintenanceWindow",
    "Measurement",
    "Outage",
    "ProbeState",
    "Source",
    "Ticket",
    "TicketPause",
    "TicketStatusChange",
    "UptimeCheck",
]
