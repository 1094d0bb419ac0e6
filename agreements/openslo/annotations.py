"""The ``sla-portal/`` annotations: what an agreement's target has and OpenSLO has no field
for. The export writes them; the import reads them (and fills in by rule without them)."""

PREFIX = "sla-portal/"
NAME = PREFIX + "name"
SERVICE = PREFIX + "service"
THRESHOLD = PREFIX + "threshold-value"
UNIT = PREFIX + "unit"
WARNING = PREFIX + "warning-percent"
CALENDAR = PREFIX + "calendar"
COMPLIANCE_TARGET = PREFIX + "compliance-target"
COMPLIANCE_THRESHOLD = PREFIX + "compliance-threshold"
AGREEMENT = PREFIX + "agreement"


def path(key: str) -> str:
    return f'metadata.annotations["{key}"]'
