"""The emails of alerts, exactly once: ``deliver_new_alerts`` turns each new alert into
``core.Notification`` rows (unique per alert and recipient) or, for warnings to people who
chose a daily digest, into ``DigestItem`` rows; the notification loop sends them. The daily
digest is sent by ``send_digests``. Who hears about an alert: ``monitoring.evaluation.alerts``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from monitoring.evaluation.ack import ack_url, can_receive_ack_link
from monitoring.evaluation.alerts import RANK, recipients
from monitoring.format import LEVEL_MEANINGS, duration, state_word
from monitoring.models import Alert, BurnLevel, DigestItem, Level, TicketTimer
from sla_portal.core.models import User
from sla_portal.core.notifications import notify


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
        "burn": _burn_context(alert),
    }


def _burn_context(alert: Alert) -> dict:
    """A burn-rate alert's rule and rates, as the burn computation recorded them."""
    if not alert.burn_rule or alert.period_result is None:
        return {}
    rules = alert.period_result.burn.get("rules", [])
    found = next((r for r in rules if r.get("name") == alert.burn_rule), {})
    context = {**found, "rule": alert.burn_rule}
    if found.get("long_seconds"):
        context["long_text"] = duration(found["long_seconds"])
        context["short_text"] = duration(found["short_seconds"])
    return context


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


# The escalation matrix's level whose people hear of a burn-rate alert: a page goes to those
# of a missed target (the budget is on course to run out), a warning to those of a warning.
BURN_MATRIX_LEVEL = {BurnLevel.PAGE: Level.MISSED_TARGET, BurnLevel.WARN: Level.WARNING}


def _levels_covered(alert: Alert) -> list[str]:
    """The levels whose recipients hear about ``alert``: its own, plus lower levels that were
    never raised for its subject because it passed them at once (their people must not be
    left out when the escalation matrix names different people per level). A burn-rate
    alert goes to its matrix level's people; its recovery to those who heard it fire."""
    level = alert.level
    if level in BURN_MATRIX_LEVEL:
        return [BURN_MATRIX_LEVEL[level]]
    if level == BurnLevel.RECOVERED:
        fired = (
            Alert.objects.filter(
                period_result_id=alert.period_result_id,
                burn_rule=alert.burn_rule,
                level__in=list(BURN_MATRIX_LEVEL),
            )
            .values_list("level", flat=True)
            .first()
        )
        return [BURN_MATRIX_LEVEL.get(fired, Level.WARNING)]
    if level == Level.CLOSED:
        return [alert.breach.level if alert.breach_id else Level.WARNING]
    if level not in RANK:  # a forecast's level: its own matrix row (alerts.recipients)
        return [level]
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
    template = "emails/burn_alert" if alert.burn_rule else "emails/alert"
    for user in personal:
        notify(
            kind,
            alert.notification_key,
            [user],
            template,
            {**context, "ack_url": ack_url(alert, user)},
            agreement_id=alert.agreement_id,
        )
    if shared:
        notify(
            kind,
            alert.notification_key,
            shared,
            template,
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
