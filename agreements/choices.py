"""Choices shared by agreements, tiers and targets."""

from django.db import models


class Metric(models.TextChoices):
    RESPONSE_TIME = "response_time", "Response time"
    RESOLUTION_TIME = "resolution_time", "Resolution time"
    AVAILABILITY = "availability", "Availability"
    PERFORMANCE = "performance", "Service performance"
    ERROR_COUNT = "error_count", "Error count"
    RECOVERY_TIME = "recovery_time", "Recovery time"
    SECURITY_NOTIFICATION = "security_notification", "Security notification time"
    CUSTOM = "custom", "Custom measured value"
    # Experience beside compliance (docs/experience.md): the customer's view of the service.
    CSAT = "csat", "Customer satisfaction (CSAT)"
    NPS = "nps", "Net promoter score (NPS)"


class Unit(models.TextChoices):
    MINUTES = "minutes", "minutes"
    HOURS = "hours", "hours"
    SECONDS = "seconds", "seconds"
    MILLISECONDS = "ms", "milliseconds"
    PERCENT = "percent", "%"
    COUNT = "count", "count"
    SCORE = "score", "score"
    OTHER = "other", "other"


class Direction(models.TextChoices):
    LOWER_IS_BETTER = "lower", "Lower is better"
    HIGHER_IS_BETTER = "higher", "Higher is better"


class Period(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class Priority(models.TextChoices):
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


class DataSource(models.TextChoices):
    TICKETS = "tickets", "Service desk tickets"
    UPTIME = "uptime", "Uptime checks and outages"
    ERRORS = "errors", "Error events"
    MEASUREMENTS = "measurements", "Measured values"
    INCIDENTS = "incidents", "Continuity incidents"
    SECURITY_INCIDENTS = "security_incidents", "Security incidents"
    SURVEYS = "surveys", "Customer surveys"


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"
