"""The periodic NPS survey: rounds on a schedule per agreement, each contact asked once.

``nps_send_due`` runs from beat (``monitoring.send_nps_surveys``, hourly). For every
agreement in force with an NPS target and an :class:`~monitoring.models.NpsSchedule` whose
current round has come, it inserts one ``Survey`` per customer contact under the unique
(agreement, round due date, recipient) constraint and records its email in the same transaction
(``core.notifications.notify``, unique per event and recipient). A run repeated, or two
runs at once, ask nobody twice; a round missed while beat was down is sent on the next run,
and only the current round is ever sent (nobody receives last year's questions).
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements.models import Agreement
from agreements.terms import MONITORED_STATES
from monitoring.experience import tokens
from monitoring.experience.contacts import NPS_KIND, has_experience_target, survey_contacts
from monitoring.models import NpsSchedule, Survey
from sla_portal.core.notifications import notify

# The first round lies no earlier than this (an older one is a typo, not a plan) and at most
# a year ahead (a schedule is for this agreement's term, not a reminder for the next decade).
EARLIEST_START = date(2000, 1, 1)
LATEST_START_AHEAD = timedelta(days=366)


def current_round(starts_on: date, every_months: int, today: date) -> int | None:
    """The round due on ``today`` (1 from ``starts_on``), None before the first."""
    if today < starts_on:
        return None
    months = (today.year - starts_on.year) * 12 + (today.month - starts_on.month)
    if today.day < starts_on.day:
        months -= 1
    return months // every_months + 1


def nps_schedule_set(agreement: Agreement, every_months: int | None, starts_on: date | None):
    """Set (or with ``every_months`` None, remove) the agreement's NPS schedule."""
    if not every_months:
        NpsSchedule.objects.filter(agreement=agreement).delete()
        return None
    schedule, _ = NpsSchedule.objects.update_or_create(
        agreement=agreement,
        defaults={
            "customer_id": agreement.customer_id,
            "every_months": every_months,
            "starts_on": starts_on or timezone.localdate(),
        },
    )
    return schedule


def round_due_on(starts_on: date, every_months: int, number: int) -> date:
    """The day round ``number`` (1 from ``starts_on``) is due; the month's last day when
    ``starts_on``'s day is missing from that month (31 January, then 28 February)."""
    return add_months(starts_on, (number - 1) * every_months)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def nps_send_due(now: datetime | None = None) -> int:
    """Ask the current round's NPS question of every contact not asked yet; return how many
    surveys were new.

    A round is keyed by its due date. After a schedule change a round is sent only when the
    last round sent lies a whole period (``every_months``) before its due date: a changed
    anchor or interval never asks the customer twice within one period."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    schedules = NpsSchedule.objects.filter(
        agreement__status__in=MONITORED_STATES, starts_on__lte=today
    ).select_related("agreement", "agreement__customer")
    for schedule in schedules:
        number = current_round(schedule.starts_on, schedule.every_months, today)
        if number is None or not has_experience_target(schedule.agreement, "nps"):
            continue
        due_on = round_due_on(schedule.starts_on, schedule.every_months, number)
        # Another round (not this one) sent less than a period before this one's due date,
        # or after it: the schedule changed, and this round would ask again too soon.
        too_close = (
            Survey.objects.filter(
                kind=Survey.Kind.NPS,
                agreement=schedule.agreement,
                round_on__gt=add_months(due_on, -schedule.every_months),
            )
            .exclude(round_on=due_on)
            .exists()
        )
        if too_close:
            continue
        sent += _send_round(schedule.agreement, number, due_on)
    return sent


def _send_round(agreement: Agreement, number: int, due_on: date) -> int:
    sent = 0
    for contact in survey_contacts(agreement.customer_id):
        address = contact.email.lower()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    survey = Survey.objects.create(
                        kind=Survey.Kind.NPS,
                        agreement=agreement,
                        customer_id=agreement.customer_id,
                        round=number,
                        round_on=due_on,
                        recipient=address,
                    )
            except IntegrityError:
                continue  # asked already (this run repeated, or another one at once)
            links = [(score, tokens.survey_url(survey, score)) for score in range(11)]
            notify(
                NPS_KIND,
                f"nps:{agreement.pk}:{due_on.isoformat()}",
                [contact],
                "emails/nps_survey",
                {"agreement": agreement, "round": number, "links": links},
                agreement_id=agreement.pk,
            )
            sent += 1
    return sent
