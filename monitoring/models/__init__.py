from .events import ContinuityIncident, ErrorEvent, Measurement
from .probe import ProbeState
from .sources import Source
from .tickets import Ticket, TicketPause, TicketStatusChange
from .uptime import MaintenanceWindow, Outage, UptimeCheck

__all__ = [
    "ContinuityIncident",
    "ErrorEvent",
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
