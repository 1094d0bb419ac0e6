"""What comes out of the evaluation: breaches and alerts, the digest and the escalation contacts.

Breaches and alerts are facts (house style point 6): a breach is opened once per ticket target
or period, an alert is raised once per subject and level, and the emails of an alert are
``core.Notification`` rows, unique per alert and recipient.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from monitoring.models.evaluation import BurnLevel, Level, PeriodResult
from sla_portal.core.scoping import ScopedManager


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
    level = models.CharField(max_length=16, choices=Level.choices + BurnLevel.choices)
    # Burn-rate alerts only: the rule that fired or recovered (docs/burn-rates.md).
    burn_rule = models.CharField(max_length=40, blank=True, default="", db_default="")
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
            # A burn-rate rule fires and recovers once per period: the rule is part of the
            # key (empty for the period's own levels).
            models.UniqueConstraint(
                fields=["period_result", "level", "burn_rule"],
                condition=Q(period_result__isnull=False),
                name="alert_once_per_period_level_rule",
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
