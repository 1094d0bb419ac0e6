"""Customer surveys (docs/experience.md): a CSAT question per resolved ticket, NPS rounds.

A ``Survey`` row is the question, recorded before its email goes out, and later its answer:
one CSAT survey per ticket (however often the ticket is resolved again, whoever of the
customer's contacts answers first) and one NPS survey per agreement, round and contact.
The unique constraints make "asked once" a database fact; the conditional update of
``monitoring.services.experience.survey_answer`` makes "answered once" one.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from sla_portal.core.scoping import ScopedManager


class Survey(models.Model):
    class Kind(models.TextChoices):
        CSAT = "csat", "CSAT (1-5, per resolved ticket)"
        NPS = "nps", "NPS (0-10, periodic)"

    kind = models.CharField(max_length=4, choices=Kind.choices)
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="surveys"
    )
    # Denormalised from the agreement, so scoping needs no join (as on tickets).
    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    # CSAT: the ticket asked about.
    ticket = models.ForeignKey(
        "monitoring.Ticket",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="surveys",
    )
    # NPS: the round (1, 2, ... from the agreement's effective date) and the contact asked.
    round = models.PositiveIntegerField(null=True, blank=True)
    # NPS: the day the round was due. A round is keyed by it, not by its number: a changed
    # schedule renumbers the rounds, but never re-asks a round already sent.
    round_on = models.DateField(null=True, blank=True)
    recipient = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.SmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, max_length=2000)
    # Who answered, when signed in (the link needs no login; the CSAT link goes to every
    # contact and the first answer counts); blank for an anonymous answer.
    answered_by = models.EmailField(blank=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=Q(kind="csat"), name="survey_csat_once_per_ticket"
            ),
            models.UniqueConstraint(
                fields=["agreement", "round_on", "recipient"],
                condition=Q(kind="nps"),
                name="survey_nps_once_per_round_contact",
            ),
            models.CheckConstraint(
                condition=(Q(kind="csat") & Q(ticket__isnull=False))
                | (
                    Q(kind="nps")
                    & Q(round__isnull=False)
                    & Q(round_on__isnull=False)
                    & ~Q(recipient="")
                ),
                name="survey_kind_subject",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True)
                | Q(kind="csat", score__gte=1, score__lte=5)
                | Q(kind="nps", score__gte=0, score__lte=10),
                name="survey_score_range",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, score__isnull=True)
                | Q(answered_at__isnull=False, score__isnull=False),
                name="survey_answer_complete",
            ),
        ]
        indexes = [
            models.Index(
                fields=["agreement", "kind", "answered_at"],
                condition=Q(answered_at__isnull=False),
                name="survey_answered",
            ),
        ]

    def __str__(self) -> str:
        subject = f"ticket {self.ticket_id}" if self.kind == "csat" else f"round {self.round}"
        return f"{self.get_kind_display()} {subject}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None


class NpsSchedule(models.Model):
    """When an agreement's customer contacts are asked the NPS question: every
    ``every_months`` months from ``starts_on``. Round 1 is due on ``starts_on``, round 2
    ``every_months`` later, and so on; each round asks each contact once (``Survey``)."""

    agreement = models.OneToOneField(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="nps_schedule"
    )
    customer = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+")
    every_months = models.PositiveSmallIntegerField(
        help_text="Ask the NPS question every this many months (1-12)."
    )
    starts_on = models.DateField(help_text="The day of the first round.")
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("customer",)
    objects = ScopedManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(every_months__gte=1, every_months__lte=12),
                name="nps_schedule_every_range",
            ),
        ]

    def __str__(self) -> str:
        return f"NPS every {self.every_months} month(s) from {self.starts_on}"
