"""The statuses of timers and periods, and the tolerance of every comparison."""

from __future__ import annotations

from datetime import datetime

RUNNING = "running"
PAUSED = "paused"
AT_RISK = "at_risk"
MET = "met"
MISSED_TARGET = "missed_target"
BREACHED = "breached"
NO_DATA = "no_data"

# Alert levels in the order a ticket reaches them, with the timer field that holds the moment.
LEVELS = (("warning", "warning_at"), (MISSED_TARGET, "due_at"), (BREACHED, "threshold_due_at"))

Interval = tuple[datetime, datetime]

# Absolute slack when a computed value is compared with a limit (see Goal.status).
TOLERANCE = 1e-9
