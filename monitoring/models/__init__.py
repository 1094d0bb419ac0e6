from .events import ContinuityIncident, ErrorEvent, Measurement
from .sources import Source
from .tickets import Ticket, TicketPause, TicketStatusChange
from .uptime import MaintenanceWindow, Outage, UptimeCheck

__all__ = [
    "ContinuityIncident",
    "ErrorEvent",
    "MaintenanceWindow",
    "Measurement",
    "Outage",
    "Source",
    "Ticket",
    "TicketPause",
    "TicketStatusChange",
    "UptimeCheck",
]
