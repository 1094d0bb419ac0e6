"""What the evaluation engine computes: ticket timers and period results, with their states and
levels, and the request that coalesces evaluation nudges.

Timers and open period results are recomputed whenever their data changes; the breaches and
alerts that come out of them are in ``monitoring.models.alerts``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from sla_portal.core.scoping import ScopedManager


class Status(models.TextChoices):
    """Timer and period states, from good to bad (see ``monitoring.compliance``)."""

    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    AT_RISK = "at_risk", "At risk"
    MISSED_TARGET = "missed_target", "Target missed"
    BREACHED = "breached", "Threshold breached"
    NO_DATA = "no_data", "No data"


class Level(models.TextChoices):
    WARNING = "warning", "Warning"
    MISSED_TARGET = "missed_target", "Target missed"
    BREACHED = "breached", "Threshold breached"
    CLOSED = "closed", "Recovered / closed"
    # A forecast's early warnings (monitoring.evaluation.forecasts): raised once per period
    # and level, ranked apart from the levels reached.
    PREDICTED_MISS = "predicted_miss", "Predicted to miss"
    PREDICTED_BREACH = "predicted_breach", "Predicted to breach"


class BurnLevel(models.TextChoices):
    """Levels of burn-rate alerts (docs/burn-rates.md): a rule fires once per period as a
    page or a warning, and says once that it recovered."""

    PAGE = "burn_page", "Budget burning fast (page)"
    WARN = "burn_warn", "Budget burning (warning)"
    RECOVERED = "burn_recovered", "Budget burn recovered"


# Levels that say something is over: nobody acknowledges them and no inbox waits on them.
RECOVERY_LEVELS = (Level.CLOSED.value, BurnLevel.RECOVERED.value)


class TicketTimer(models.Model):
    """One time target (first response or resolution) running on one ticket."""

    # Every index is maintained for each of the tens of thousands of timers a large log
    # writes, so a foreign key gets none of its own when a composite index already starts
    # with it: ticket (timer_unique_target), agreement (timer_target_decided).
    ticket = models.ForeignKey(
        "monitoring.Ticket", on_delete=models.CASCADE, related_name="timers", db_index=False
    )
    # Agreement, customer and version are copies of what the ticket and its agreement
    # already hold (the ticket's own foreign keys are checked by the database). They have no
    # database constraint: its check ran once per timer at commit, a third of the
    # evaluation's database time, always finding the same few rows. Django still applies
    # ``on_delete``, and none of these rows is deleted outside it.
    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.CASCADE,
        related_name="ticket_timers",
        db_index=False,
        db_constraint=False,
    )
    # Denormalised for scoping without joins.
    customer = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    # The signed version whose terms the timer measures against. No index: nothing reads
    # timers by version, and versions are never deleted (``FrozenVersionError``).
    version = models.ForeignKey(
        "agreements.AgreementVersion",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    target_key = models.CharField(max_length=400)
    target_label = models.CharField(max_length=200)
    metric = models.CharField(max_length=32)
    calendar_name = models.CharField(max_length=120, blank=True)
    target_seconds = models.FloatField()
    threshold_seconds = models.FloatField()
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    warning_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    threshold_due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    used_seconds = models.FloatField(default=0)
    state = models.CharField(max_length=16, choices=Status.choices)
    # The deadline loop's column: the next moment this timer changes state by itself.
    next_due = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField()

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["ticket", "target_key"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "target_key"], name="timer_unique_target"),
        ]
        indexes = [
            # The deadline loop asks "which timers are due now?" every second: only running
            # timers have a next_due, so the index stays as small as the open ticket count.
            models.Index(
                fields=["next_due"], condition=Q(next_due__isnull=False), name="timer_next_due"
            ),
            # Period compliance: timers of one target decided within a period.
            models.Index(
                fields=["agreement", "target_key", "decided_at"], name="timer_target_decided"
            ),
            # Open tickets at risk, sorted by time to breach.
            models.Index(
                fields=["agreement", "threshold_due_at"],
                condition=Q(stopped_at__isnull=True),
                name="timer_open_due",
            ),
            # The provider's tickets at risk across every agreement, nearest threshold first:
            # walked in order and left after the first twenty (breached ones are open breaches).
            models.Index(
                fields=["threshold_due_at"],
                condition=Q(stopped_at__isnull=True) & ~Q(state="breached"),
                name="timer_open_at_risk",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket} {self.target_label}: {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None


class PeriodResult(models.Model):
    """A target's achieved value in one measurement period. Frozen once ``closed_at`` is set
    (a database trigger refuses changes), so reports rest on what was known at period close."""

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="period_results"
    )
    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(
        "agreements.AgreementVersion", on_delete=models.PROTECT, related_name="+"
    )
    target_key = models.CharField(max_length=400)
    target_label = models.CharField(max_length=200)
    metric = models.CharField(max_length=32)
    unit = models.CharField(max_length=16)
    direction = models.CharField(max_length=8)
    target_value = models.DecimalField(max_digits=12, decimal_places=3)
    threshold_value = models.DecimalField(max_digits=12, decimal_places=3)
    compliance_target = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    compliance_threshold = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    period = models.CharField(max_length=8)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    # What ``value`` is compared against: the target values themselves, or for ticket time
    # targets the share of tickets that must meet them (compliance target and threshold).
    value_unit = models.CharField(max_length=16)
    goal_target = models.FloatField()
    goal_threshold = models.FloatField()
    value = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    final = models.BooleanField(default=False)
    details = models.JSONField(default=dict)
    evaluated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The deadline loop's column, as on ``TicketTimer``: while an outage is open, the next
    # moment the period's downtime crosses the warning share, the target or the threshold
    # (``monitoring.budget``). Empty when nothing more can be crossed by time passing.
    next_due = models.DateTimeField(null=True, blank=True)
    # The burn-rate deadline (docs/burn-rates.md): when the deadline loop next computes this
    # period's burn rates. Set to the evaluation's time when new data may have changed them,
    # and by the burn computation to the next moment a rule fires or recovers.
    burn_due = models.DateTimeField(null=True, blank=True)
    # The rules' rates at the last burn computation, and whether each fires.
    burn = models.JSONField(default=dict, blank=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["agreement", "target_key", "-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "target_key", "period_start"], name="period_unique_target"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")), name="period_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "-period_start"], name="period_agreement_start"),
            models.Index(
                fields=["period_end"], condition=Q(closed_at__isnull=True), name="period_open"
            ),
            # Only periods with an open outage have a next deadline: the index stays as
            # small as the outages going on.
            models.Index(
                fields=["next_due"], condition=Q(next_due__isnull=False), name="period_next_due"
            ),
            models.Index(
                fields=["burn_due"], condition=Q(burn_due__isnull=False), name="period_burn_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_label} {self.period_start:%Y-%m}: {self.get_status_display()}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class EvaluationRequest(models.Model):
    """The one outstanding ``monitoring.evaluate_changed`` task, and what it must cover.

    Every committed ingest batch nudges the evaluation. Instead of queueing a task per batch
    (thousands wait after a burst of single-ticket requests), a nudge records the agreements
    whose periods it changed here and queues a task only when none is outstanding
    (``queued_at`` empty, or so old that the task must have been lost). The task clears
    ``queued_at`` when it starts, before it reads anything, so data committed after that
    queues the next task; the agreements are removed only once their periods are evaluated.
    Marked tickets need no record: they are found by ``evaluated_at IS NULL``.
    """

    name = models.CharField(max_length=40, unique=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Agreement id (as text) -> the nudge sequence number that last asked for it.
    agreements = models.JSONField(default=dict)
    sequence = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} (queued {self.queued_at or 'no'})"
