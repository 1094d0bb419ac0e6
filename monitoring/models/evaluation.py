"""What the evaluation engine concludes: ticket timers, period results, breaches and alerts.

Timers and open period results are recomputed whenever their data changes; breaches and
alerts are the facts that come out of them (house style point 6): a breach is opened once per
ticket target or period, an alert is raised once per subject and level, and the emails of an
alert are ``core.Notification`` rows, unique per alert and recipient.
"""

from __future__ import annotations

from django.conf import settings
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
        ]

    def __str__(self) -> str:
        return f"{self.target_label} {self.period_start:%Y-%m}: {self.get_status_display()}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Breach(models.Model):
    """A target missed by one ticket or one period: opened when it happens, closed when the
    ticket stops or the period closes, with a root-cause note for the review."""

    # No index of their own where a composite index starts with the key: agreement
    # (breach_agreement_opened), ticket (breach_once_per_ticket_target), period result
    # (breach_once_per_period); the user who wrote the root cause is mostly empty
    # (breach_root_cause_by, partial). Each index is written for every breach stored.
    # Agreement and customer are copies of the subject's (no database constraint, as on
    # ``TicketTimer``: Django applies ``on_delete``).
    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.PROTECT,
        related_name="breaches",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    target_key = models.CharField(max_length=400)
    target_label = models.CharField(max_length=200)
    ticket = models.ForeignKey(
        "monitoring.Ticket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    period_result = models.ForeignKey(
        PeriodResult,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="breaches",
        db_index=False,
    )
    level = models.CharField(max_length=16, choices=Level.choices)
    opened_at = models.DateTimeField(help_text="When the target was missed.")
    closed_at = models.DateTimeField(null=True, blank=True)
    value_text = models.CharField(max_length=300, blank=True)
    root_cause = models.TextField(blank=True)
    root_cause_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    root_cause_at = models.DateTimeField(null=True, blank=True)
    # Set when a later evaluation finds the target met after all (a holiday learned late, data
    # corrected): the row stays (it was announced), reports and dashboards leave it out.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=200, blank=True, db_default="")

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=False, period_result__isnull=True)
                | Q(ticket__isnull=True, period_result__isnull=False),
                name="breach_one_subject",
            ),
            # Not partial, so bulk upserts can name it; NULL subjects never clash.
            models.UniqueConstraint(
                fields=["ticket", "target_key"], name="breach_once_per_ticket_target"
            ),
            # Partial: ticket breaches (nearly all) have no period result. Period breaches
            # are created one by one, never through an upsert that would have to name it.
            models.UniqueConstraint(
                fields=["period_result"],
                condition=Q(period_result__isnull=False),
                name="breach_once_per_period",
            ),
            models.CheckConstraint(
                condition=Q(level__in=["missed_target", "breached"]), name="breach_level_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "-opened_at"], name="breach_agreement_opened"),
            models.Index(
                fields=["-opened_at"], condition=Q(closed_at__isnull=True), name="breach_open"
            ),
            # For SET_NULL when a user is deleted.
            models.Index(
                fields=["root_cause_by"],
                condition=Q(root_cause_by__isnull=False),
                name="breach_root_cause_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_label}: {self.get_level_display()} ({self.subject})"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def subject(self) -> str:
        if self.ticket_id:
            return f"ticket {self.ticket.external_id}"
        return f"period {self.period_result.period_start:%Y-%m-%d}"


class Alert(models.Model):
    """One level reached by one ticket target or period, raised once (database-enforced).

    Its emails are ``core.Notification`` rows keyed ``alert:<id>``. ``emailed`` is False when
    the moment lies further back than ``SLA_ALERT_MAX_AGE_MINUTES`` (history imported late):
    the alert is recorded but nobody is woken for it.
    """

    # No index of their own where a composite index starts with the key: agreement
    # (alert_agreement_raised), ticket (alert_once_per_ticket_level), period result
    # (alert_once_per_period_level); the acknowledging user is mostly empty
    # (alert_acknowledged_by, partial). The breach has none: a breach's alerts are read by
    # their subject (``breach_alerts``) and breaches are never deleted. Each index is
    # written for every alert stored.
    # Agreement and customer are copies of the subject's (no database constraint, as on
    # ``TicketTimer``: Django applies ``on_delete``).
    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.PROTECT,
        related_name="alerts",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    target_key = models.CharField(max_length=400)
    target_label = models.CharField(max_length=200)
    ticket = models.ForeignKey(
        "monitoring.Ticket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    period_result = models.ForeignKey(
        PeriodResult,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
        db_index=False,
    )
    breach = models.ForeignKey(
        Breach,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
        db_index=False,
    )
    level = models.CharField(max_length=16, choices=Level.choices)
    reached_at = models.DateTimeField(help_text="The moment the level was reached.")
    raised_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    # The zone of the target's calendar, for times in emails and pages.
    zone = models.CharField(max_length=64, default="UTC")
    value_text = models.CharField(max_length=300, blank=True)
    emailed = models.BooleanField(default=True)
    quiet_reason = models.CharField(max_length=200, blank=True)
    # Set once the emails were recorded (core.Notification rows exist for every recipient).
    notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=False, period_result__isnull=True)
                | Q(ticket__isnull=True, period_result__isnull=False),
                name="alert_one_subject",
            ),
            # NULL subjects never clash. Alerts are inserted with ``ON CONFLICT DO NOTHING``
            # naming no constraint, so the period one can be partial (ticket alerts, nearly
            # all, have no period result).
            models.UniqueConstraint(
                fields=["ticket", "target_key", "level"], name="alert_once_per_ticket_level"
            ),
            models.UniqueConstraint(
                fields=["period_result", "level"],
                condition=Q(period_result__isnull=False),
                name="alert_once_per_period_level",
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "-raised_at"], name="alert_agreement_raised"),
            models.Index(
                fields=["raised_at"], condition=Q(notified_at__isnull=True), name="alert_unnotified"
            ),
            # For SET_NULL when a user is deleted.
            models.Index(
                fields=["acknowledged_by"],
                condition=Q(acknowledged_by__isnull=False),
                name="alert_acknowledged_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.target_label} ({self.subject})"

    @property
    def subject(self) -> str:
        if self.ticket_id:
            return f"ticket {self.ticket.external_id}"
        return f"period from {self.period_result.period_start:%Y-%m-%d}"

    @property
    def notification_key(self) -> str:
        return f"alert:{self.pk}"


class DigestItem(models.Model):
    """A warning held for a user who asked for a daily digest instead of immediate emails."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="digest_items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="digest_once_per_alert_user")
        ]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=Q(digested_at__isnull=True),
                name="digest_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert} for {self.user}"


class EscalationContact(models.Model):
    """Who hears about which level of an agreement's alerts (the escalation matrix).

    An agreement without contacts for a level uses the default matrix
    (``monitoring.evaluation.recipients``).
    """

    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="escalation_contacts"
    )
    level = models.CharField(max_length=16, choices=Level.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    email = models.EmailField(blank=True, help_text="A contact without a portal account.")

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["agreement", "level", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(email=""))
                | (Q(user__isnull=True) & ~Q(email="")),
                name="escalation_user_or_email",
            ),
            models.UniqueConstraint(
                fields=["agreement", "level", "user"],
                condition=Q(user__isnull=False),
                name="escalation_unique_user",
            ),
            models.UniqueConstraint(
                fields=["agreement", "level", "email"],
                condition=~Q(email=""),
                name="escalation_unique_email",
            ),
        ]

    def __str__(self) -> str:
        who = self.user.display_name if self.user_id else self.email
        return f"{self.get_level_display()}: {who}"


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
