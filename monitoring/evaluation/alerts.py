"""Alerts: raised once per subject and level, sent to the escalation matrix, exactly once.

An evaluation proposes the levels a ticket target or period has reached; ``raise_alerts``
inserts the ones not raised before under the database's unique constraints, so two workers
evaluating the same ticket raise one alert. ``deliver_new_alerts`` then turns each new alert
into ``core.Notification`` rows (unique per alert and recipient) or, for warnings to people
who chose a daily digest, into ``DigestItem`` rows; the notification loop sends them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement
from monitoring.evaluation.ack import ack_url, can_receive_ack_link
from monitoring.evaluation.bulk import upsert_rows
from monitoring.format import LEVEL_MEANINGS, duration, state_word
from monitoring.models import Alert, Breach, DigestItem, EscalationContact, Level, TicketTimer
from sla_portal.core.models import Role, User
from sla_portal.core.notifications import notify

RANK = {Level.WARNING: 1, Level.MISSED_TARGET: 2, Level.BREACHED: 3}


@dataclass(frozen=True)
class Candidate:
    """A level a subject has reached, with the moment and what to tell people about it."""

    level: str
    reached_at: datetime
    due_at: datetime | None
    value_text: str


def max_age() -> timedelta:
    return timedelta(minutes=settings.SLA_ALERT_MAX_AGE_MINUTES)


@dataclass(frozen=True)
class AlertRequest:
    """The levels one subject (a ticket's target, or a period result) has reached."""

    agreement: Agreement
    target_key: str
    target_label: str
    candidates: list[Candidate]
    zone: str
    ticket_id: int | None = None
    period_result_id: int | None = None
    breach: Breach | None = None
    # Set-based callers name the breach by id instead of passing the row.
    breach_id: int | None = None

    @property
    def breach_pk(self) -> int | None:
        return self.breach.pk if self.breach is not None else self.breach_id

    @property
    def subject(self) -> tuple:
        if self.ticket_id is not None:
            return ("ticket", self.ticket_id, self.target_key)
        return ("period", self.period_result_id)


def raise_alerts(
    *,
    agreement: Agreement,
    target_key: str,
    target_label: str,
    candidates: Iterable[Candidate],
    now: datetime,
    zone: str,
    ticket_id: int | None = None,
    period_result_id: int | None = None,
    breach: Breach | None = None,
) -> int:
    """Insert the alerts this subject has not had yet; return how many were new (see
    ``raise_alerts_for``)."""
    request = AlertRequest(
        agreement=agreement,
        target_key=target_key,
        target_label=target_label,
        candidates=list(candidates),
        zone=zone,
        ticket_id=ticket_id,
        period_result_id=period_result_id,
        breach=breach,
    )
    return raise_alerts_for([request], now)


def choose(existing: set[str], candidates: list[Candidate]) -> list[Candidate]:
    """The candidates to raise for a subject that already has the levels ``existing``.

    Levels escalate: a level at or below one already raised is not raised again, and when
    several are reached at once (data that arrived late, or a worker that was down across
    two deadlines) only the highest is raised, so a person is not woken three times for one
    event; its email also goes to the recipients of the levels it passed over (see
    ``_notify``), so nobody on the matrix is left out. ``closed`` is raised once, when a
    breach closes.
    """
    top = max((RANK.get(level, 0) for level in existing), default=0)
    escalations = [c for c in candidates if RANK.get(c.level, 0) > top]
    chosen = [max(escalations, key=lambda c: RANK[c.level])] if escalations else []
    chosen += [c for c in candidates if c.level == Level.CLOSED and Level.CLOSED not in existing]
    return chosen


def _existing_levels(requests: list[AlertRequest]) -> dict[tuple, set[str]]:
    """The levels already raised for each subject, in one query per kind of subject."""
    found: dict[tuple, set[str]] = {request.subject: set() for request in requests}
    tickets = {r.ticket_id for r in requests if r.ticket_id is not None}
    periods = {r.period_result_id for r in requests if r.ticket_id is None}
    if tickets:
        rows = Alert.objects.filter(ticket_id__in=tickets).values_list(
            "ticket_id", "target_key", "level"
        )
        for ticket_id, key, level in rows:
            found.setdefault(("ticket", ticket_id, key), set()).add(level)
    if periods:
        rows = Alert.objects.filter(period_result_id__in=periods).values_list(
            "period_result_id", "level"
        )
        for period_id, level in rows:
            found.setdefault(("period", period_id), set()).add(level)
    return found


ALERT_COLUMNS = (
    "agreement_id",
    "customer_id",
    "target_key",
    "target_label",
    "ticket_id",
    "period_result_id",
    "breach_id",
    "level",
    "reached_at",
    "raised_at",
    "due_at",
    "zone",
    "value_text",
    "emailed",
    "quiet_reason",
    "notified_at",
)
QUIET_REASON = "Reached long before it was evaluated (data that arrived late): recorded only."


def raise_alerts_for(
    requests: list[AlertRequest], now: datetime, quiet_reason: str | None = None
) -> int:
    """Insert the alerts these subjects have not had yet (``choose``), in one statement;
    return how many were new. The database's unique constraints (subject + level) make a
    concurrent or repeated run insert nothing more.

    Moments older than ``SLA_ALERT_MAX_AGE_MINUTES`` are recorded quietly: such an alert
    has nobody to notify, so it is stored as already notified and never joins the queue
    ``deliver_new_alerts`` works through (a year of imported history would otherwise leave
    tens of thousands of rows in it). ``quiet_reason`` records every alert so, with that
    reason (a recompute's findings about the past)."""
    existing = _existing_levels(requests)
    oldest = now - max_age()
    rows = []
    for request in requests:
        agreement = request.agreement
        for candidate in choose(existing[request.subject], request.candidates):
            loud = quiet_reason is None and candidate.reached_at >= oldest
            rows.append(
                (
                    agreement.pk,
                    agreement.customer_id,
                    request.target_key,
                    request.target_label,
                    request.ticket_id,
                    request.period_result_id,
                    request.breach_pk if candidate.level != Level.WARNING else None,
                    candidate.level,
                    candidate.reached_at,
                    now,
                    candidate.due_at,
                    request.zone,
                    candidate.value_text[:300],
                    loud,
                    "" if loud else (quiet_reason or QUIET_REASON)[:200],
                    None if loud else now,
                )
            )
    if not rows:
        return 0
    return upsert_rows(Alert, ALERT_COLUMNS, rows, conflict=())


# --- Who hears about it -----------------------------------------------------------------------


def team_members(agreement: Agreement) -> list[User]:
    """The owners of the agreement's services; every provider team member when none has one."""
    owners = list(
        User.objects.filter(owned_services__in=agreement.services.all(), is_active=True).distinct()
    )
    if owners:
        return owners
    return list(User.objects.filter(role=Role.PROVIDER_TEAM, is_active=True))


def service_manager(agreement: Agreement) -> list[User]:
    """Who drafted the agreement, or every service manager when that person is gone."""
    creator = agreement.created_by
    if creator is not None and creator.is_active and creator.can_draft_agreements:
        return [creator]
    return list(User.objects.filter(role=Role.SERVICE_MANAGER, is_active=True))


def signatories(agreement: Agreement, side: str) -> list[User | str]:
    found: list[User | str] = []
    for signatory in agreement.signatories.filter(side=side).select_related("user"):
        if signatory.user_id:
            found.append(signatory.user)
        elif signatory.email:
            found.append(signatory.email)
    return found


def default_recipients(agreement: Agreement, level: str) -> list[User | str]:
    """The default escalation matrix: the team hears of warnings; the team and the service
    manager of a missed target; for a threshold breach also the provider's signatories and
    the customer's named contacts (its signatories)."""
    people: list[User | str] = list(team_members(agreement))
    if level in (Level.MISSED_TARGET, Level.BREACHED):
        people += service_manager(agreement)
    if level == Level.BREACHED:
        people += signatories(agreement, "provider") + signatories(agreement, "customer")
    return people


def recipients(agreement: Agreement, level: str) -> list[User | str]:
    """The agreement's escalation contacts for ``level``, or the default matrix."""
    contacts = list(
        EscalationContact.objects.filter(agreement=agreement, level=level).select_related("user")
    )
    if contacts:
        return [c.user if c.user_id else c.email for c in contacts]
    return default_recipients(agreement, level)


# --- Sending ----------------------------------------------------------------------------------


def alert_url(alert: Alert) -> str:
    """The page of the alert's subject, as an absolute link for emails."""
    if alert.ticket_id:
        path = reverse("monitoring:ticket-detail", args=[alert.ticket_id])
    else:
        path = reverse("monitoring:compliance", args=[alert.agreement_id])
    return settings.SITE_URL + path


def threshold_text(alert: Alert, now: datetime) -> str:
    """How long until the ticket's threshold of unacceptable service, or how long past it:
    "Threshold in 1 h 20 min (2026-03-02 14:05 Europe/Berlin)". Empty for periods and for
    a recovery; "clock paused" while the ticket waits on someone else."""
    if not alert.ticket_id or alert.level == Level.CLOSED:
        return ""
    timer = (
        TicketTimer.objects.filter(ticket_id=alert.ticket_id, target_key=alert.target_key)
        .only("threshold_due_at", "stopped_at")
        .first()
    )
    if timer is None:
        return ""
    due = timer.threshold_due_at
    if due is None:
        return "clock paused (waiting on the customer or a third party): no threshold time"
    local = f"{due.astimezone(ZoneInfo(alert.zone or 'UTC')):%Y-%m-%d %H:%M} ({alert.zone})"
    left = (due - now).total_seconds()
    if left >= 0:
        return f"{duration(left)} left until the threshold, at {local}"
    return f"threshold passed {duration(-left)} ago, at {local}"


def alert_context(alert: Alert, now: datetime | None = None) -> dict:
    """What every recipient's email of ``alert`` says (the ack link is added per person)."""
    zone = ZoneInfo(alert.zone or "UTC")
    due = alert.due_at.astimezone(zone) if alert.due_at else None
    reached = alert.reached_at.astimezone(zone)
    ticket = alert.ticket if alert.ticket_id else None
    return {
        "alert": alert,
        "agreement": alert.agreement,
        "level": state_word(alert.level),
        "meaning": LEVEL_MEANINGS.get(alert.level, ""),
        "subject": alert.subject,
        "ticket_title": ticket.title if ticket else "",
        "ticket_assignee": ticket.assignee if ticket else "",
        "threshold_text": threshold_text(alert, now or timezone.now()),
        "due_text": f"{due:%Y-%m-%d %H:%M} ({alert.zone})" if due else "",
        "reached_text": f"{reached:%Y-%m-%d %H:%M} ({alert.zone})",
        "url": alert_url(alert),
        "alerts_url": settings.SITE_URL + reverse("monitoring:alert-list"),
        "ack_url": "",
    }


def deliver_all_new_alerts(now: datetime, limit: int = 500) -> int:
    """Record the emails of every alert raised but not yet notified, ``limit`` at a time,
    each slice in its own transaction; return how many alerts were handled."""
    total = 0
    while True:
        with transaction.atomic():
            done = deliver_new_alerts(now, limit)
        total += done
        if done < limit:
            return total


def deliver_new_alerts(now: datetime, limit: int = 500) -> int:
    """Record the emails (or digest entries) of alerts raised but not yet notified.

    Runs inside the caller's transaction: the alert rows are claimed with ``SKIP LOCKED``,
    their Notification rows are inserted (unique per alert and recipient) and the alerts are
    marked notified in the same commit, so a crash in between leaves them unnotified for the
    next run, never half-notified.
    """
    alerts = list(
        Alert.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(notified_at__isnull=True)
        .select_related("agreement", "ticket", "period_result", "breach")
        .order_by("raised_at", "id")[:limit]
    )
    for alert in alerts:
        if alert.emailed:
            _notify(alert, now)
    Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(notified_at=now)
    return len(alerts)


def _levels_covered(alert: Alert) -> list[str]:
    """The levels whose recipients hear about ``alert``: its own, plus lower levels that were
    never raised for its subject because it passed them at once (their people must not be
    left out when the escalation matrix names different people per level)."""
    level = alert.level
    if level == Level.CLOSED:
        return [alert.breach.level if alert.breach_id else Level.WARNING]
    subject = (
        {"ticket_id": alert.ticket_id, "target_key": alert.target_key}
        if alert.ticket_id
        else {"period_result_id": alert.period_result_id}
    )
    raised = set(
        Alert.objects.filter(**subject).exclude(pk=alert.pk).values_list("level", flat=True)
    )
    passed = [lower for lower, rank in RANK.items() if rank < RANK[level] and lower not in raised]
    return [level, *passed]


def _notify(alert: Alert, now: datetime) -> None:
    people: list[User | str] = []
    for level in _levels_covered(alert):
        people += recipients(alert.agreement, level)
    immediate: list[User | str] = []
    digest: list[User] = []
    for person in people:
        if alert.level == Level.WARNING and isinstance(person, User) and person.alert_digest:
            digest.append(person)
        else:
            immediate.append(person)
    if digest:
        DigestItem.objects.bulk_create(
            [DigestItem(alert=alert, user=user, created_at=now) for user in digest],
            ignore_conflicts=True,
        )
    if immediate:
        _email(alert, immediate, now)


def _email(alert: Alert, people: list[User | str], now: datetime) -> None:
    """One email per mailbox. Provider accounts get theirs with a personal one-click
    acknowledge link (a token bound to the alert and to them), so each is rendered alone;
    everybody else shares one rendering."""
    context = alert_context(alert, now)
    personal = [p for p in people if can_receive_ack_link(alert, p)]
    taken = {p.email.strip().lower() for p in personal}
    # A mailbox named both as a provider account and as a plain address hears once, as the
    # account (with its link).
    shared = [
        p
        for p in people
        if p not in personal and (p if isinstance(p, str) else p.email).strip().lower() not in taken
    ]
    kind = f"alert.{alert.level}"
    for user in personal:
        notify(
            kind,
            alert.notification_key,
            [user],
            "emails/alert",
            {**context, "ack_url": ack_url(alert, user)},
            agreement_id=alert.agreement_id,
        )
    if shared:
        notify(
            kind,
            alert.notification_key,
            shared,
            "emails/alert",
            context,
            agreement_id=alert.agreement_id,
        )


def send_digests(now: datetime) -> int:
    """One email per user with the warnings held for their digest; returns emails recorded.

    Each digest is a Notification keyed by the user and the items' last id, inserted in the
    same transaction that marks the items digested, so a digest is never sent twice or lost.
    """
    sent = 0
    users = (
        DigestItem.objects.filter(digested_at__isnull=True)
        # Without clearing the model's ordering (user, created_at), DISTINCT would run over
        # both columns and list a user once per item.
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user_id in list(users):
        with transaction.atomic():
            items = list(
                DigestItem.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(user_id=user_id, digested_at__isnull=True)
                .select_related("alert", "alert__agreement", "alert__ticket", "user")
                .order_by("created_at", "id")
            )
            if not items:
                continue
            user = items[0].user
            notify(
                "alert.digest",
                f"digest:{user.pk}:{items[-1].pk}",
                [user],
                "emails/alert_digest",
                {
                    "items": [(i.alert, alert_url(i.alert)) for i in items],
                    "alerts_url": settings.SITE_URL + reverse("monitoring:alert-list"),
                    "day": now.date(),
                },
            )
            DigestItem.objects.filter(pk__in=[i.pk for i in items]).update(digested_at=now)
            sent += 1
    return sent
