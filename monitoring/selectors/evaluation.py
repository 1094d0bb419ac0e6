"""Reads of what the evaluation engine concluded, always scoped to the acting user.

Alerts, breaches, period results and ticket timers carry their customer organisation, so
``visible_to(user)`` is the one scoping rule here as everywhere: a customer never loads a row
of another organisation, and asking for one answers 404 like a row that does not exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import CharField, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat

from agreements.models import Agreement
from agreements.selectors import agreements_visible_to
from agreements.terms import measured_terms
from monitoring.evaluation.alerts import FORECAST_MATRIX, default_recipients, recipients
from monitoring.format import state_word
from monitoring.models import (
    Alert,
    Breach,
    DigestItem,
    EscalationContact,
    Level,
    PeriodResult,
    Ticket,
    TicketTimer,
)
from sla_portal.core.models import Notification, User

# Past periods listed per target on the compliance page; older ones are in the API and reports.
PAST_PERIODS = 12


# --- Alerts -----------------------------------------------------------------------------------


def alerts_visible_to(user: User) -> QuerySet[Alert]:
    """Alerts of the customers the user may see, newest first, with what a list row shows."""
    return (
        Alert.objects.visible_to(user)
        .select_related("agreement", "ticket", "period_result", "acknowledged_by", "breach")
        .order_by("-raised_at", "-id")
    )


@dataclass
class Delivery:
    """Where the emails of one alert are: counts per state and the rows behind them."""

    sent: int = 0
    pending: int = 0
    failed: int = 0
    digest: int = 0
    notifications: list[Notification] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.pending + self.failed


def alert_deliveries(alerts: Iterable[Alert]) -> dict[int, Delivery]:
    """The delivery state of each alert's emails (``core.Notification`` rows keyed
    ``alert:<id>``) and daily-digest entries, in two queries for any number of alerts.

    The alerts are already scoped; their notifications are read by key, so nothing of an
    alert the user may not see is loaded."""
    alerts = list(alerts)
    found: dict[int, Delivery] = {alert.pk: Delivery() for alert in alerts}
    if not alerts:
        return found
    by_key = {alert.notification_key: alert.pk for alert in alerts}
    rows = Notification.objects.filter(key__in=list(by_key), kind__startswith="alert.").only(
        "key", "recipient", "status", "attempts", "last_error", "sent_at", "next_attempt_at"
    )
    for row in rows.order_by("recipient"):
        delivery = found[by_key[row.key]]
        delivery.notifications.append(row)
        if row.status == Notification.Status.SENT:
            delivery.sent += 1
        elif row.status == Notification.Status.FAILED:
            delivery.failed += 1
        else:  # pending, or being sent right now
            delivery.pending += 1
    digests = (
        DigestItem.objects.filter(alert_id__in=list(found))
        .values("alert_id")
        .annotate(n=Count("pk"))
        .values_list("alert_id", "n")
    )
    for alert_id, count in digests:
        found[alert_id].digest = count
    return found


# --- Breaches ---------------------------------------------------------------------------------


def breaches_visible_to(user: User) -> QuerySet[Breach]:
    """Breaches of the customers the user may see, newest first."""
    return (
        Breach.objects.visible_to(user)
        .select_related("agreement", "ticket", "period_result", "root_cause_by")
        .order_by("-opened_at", "-id")
    )


def breach_alerts(breach: Breach) -> QuerySet[Alert]:
    """Every alert of the breach's subject, the warning before it included, oldest first.

    A breach's alerts are raised for its own subject, so the subject's unique index finds
    them all (alerts have no index on ``breach``)."""
    if breach.ticket_id:
        subject = Q(ticket_id=breach.ticket_id, target_key=breach.target_key)
    else:
        subject = Q(period_result_id=breach.period_result_id)
    return (
        Alert.objects.filter(subject)
        .select_related("agreement", "ticket", "period_result", "acknowledged_by", "breach")
        .order_by("reached_at", "id")
    )


# --- Compliance -------------------------------------------------------------------------------


@dataclass
class TargetCompliance:
    """One target of an agreement: its current period and the periods before it."""

    key: str
    label: str
    current: PeriodResult | None
    past: list[PeriodResult]
    more: int = 0


def agreement_visible(user: User, pk: int) -> Agreement:
    """One agreement the user may see (raises ``Agreement.DoesNotExist`` otherwise)."""
    return agreements_visible_to(user).select_related("in_force_version").get(pk=pk)


def agreement_compliance(user: User, agreement: Agreement, now: datetime) -> list[TargetCompliance]:
    """Per target of the agreement, in the order of its terms: the period ``now`` falls in
    (or the latest one) and up to ``PAST_PERIODS`` earlier periods, newest first."""
    results = (
        PeriodResult.objects.visible_to(user)
        .filter(agreement=agreement)
        .order_by("target_key", "-period_start")
    )
    grouped: dict[str, list[PeriodResult]] = defaultdict(list)
    for row in results:
        grouped[row.target_key].append(row)
    terms = measured_terms(agreement)
    order = [target.key for target in terms.targets] if terms else []
    order += sorted(key for key in grouped if key not in order)
    found = []
    for key in order:
        rows = grouped.get(key)
        if not rows:
            continue
        current = next((r for r in rows if r.period_start <= now < r.period_end), rows[0])
        past = [r for r in rows if r.period_start < current.period_start]
        found.append(
            TargetCompliance(
                key=key,
                label=current.target_label,
                current=current,
                past=past[:PAST_PERIODS],
                more=max(len(past) - PAST_PERIODS, 0),
            )
        )
    return found


def open_breaches(user: User, agreement: Agreement) -> QuerySet[Breach]:
    """The agreement's breaches still open, newest first."""
    return breaches_visible_to(user).filter(agreement=agreement, closed_at__isnull=True)


# --- Escalation matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixEntry:
    """One recipient of one level: an explicit contact (removable) or a default."""

    name: str
    email: str
    contact: EscalationContact | None = None

    @property
    def is_default(self) -> bool:
        return self.contact is None


@dataclass(frozen=True)
class MatrixLevel:
    level: str
    label: str
    entries: list[MatrixEntry]
    explicit: bool


ESCALATION_LEVELS = (
    Level.WARNING,
    Level.MISSED_TARGET,
    Level.BREACHED,
    Level.PREDICTED_MISS,
    Level.PREDICTED_BREACH,
)


def escalation_contacts(user: User, agreement: Agreement) -> QuerySet[EscalationContact]:
    """The agreement's explicit escalation contacts the user may see."""
    return (
        EscalationContact.objects.visible_to(user)
        .filter(agreement=agreement)
        .select_related("user")
        .order_by("level", "id")
    )


def escalation_matrix(user: User, agreement: Agreement) -> list[MatrixLevel]:
    """Who hears of each alert level: the explicit contacts of the level, or when it has
    none the default matrix (``alerts.default_recipients``). ``closed`` alerts go to the
    recipients of the breach's level, so they have no row of their own."""
    contacts: dict[str, list[EscalationContact]] = defaultdict(list)
    for contact in escalation_contacts(user, agreement):
        contacts[contact.level].append(contact)
    matrix = []
    for level in ESCALATION_LEVELS:
        explicit = contacts.get(level, [])
        if explicit:
            entries = [
                MatrixEntry(
                    name=c.user.display_name if c.user_id else "",
                    email=c.user.email if c.user_id else c.email,
                    contact=c,
                )
                for c in explicit
            ]
        elif level in FORECAST_MATRIX:
            # A forecast's level without contacts of its own goes to the people of the level
            # it stands in for, explicit or default (``alerts.recipients``).
            entries = _unique_entries(recipients(agreement, level))
        else:
            entries = _unique_entries(default_recipients(agreement, level))
        matrix.append(MatrixLevel(level, state_word(level), entries, bool(explicit)))
    return matrix


def _unique_entries(people: Iterable[User | str]) -> list[MatrixEntry]:
    # The default matrix can name one person twice (owner and signatory); one email goes out.
    seen: set[str] = set()
    entries = []
    for person in people:
        if isinstance(person, User):
            entry = MatrixEntry(person.display_name, person.email)
        else:
            entry = MatrixEntry("", person)
        mailbox = entry.email.lower() or entry.name
        if mailbox in seen:
            continue
        seen.add(mailbox)
        entries.append(entry)
    return entries


# --- Ticket timers ----------------------------------------------------------------------------


def ticket_timers(user: User, ticket: Ticket) -> QuerySet[TicketTimer]:
    """The time targets running or decided on one ticket, first response before resolution."""
    return (
        TicketTimer.objects.visible_to(user)
        .filter(ticket=ticket)
        .order_by("-metric", "target_label")
    )


# --- Rows of the REST API ------------------------------------------------------------------


def timers_visible_to(user: User) -> QuerySet[TicketTimer]:
    """Ticket timers the user may see, newest ticket first, with ticket and agreement."""
    return (
        TicketTimer.objects.visible_to(user)
        .select_related("ticket", "agreement")
        .order_by("-started_at", "ticket_id", "target_key")
    )


def period_results_visible_to(user: User) -> QuerySet[PeriodResult]:
    """Period results the user may see, by agreement and target, latest period first."""
    return (
        PeriodResult.objects.visible_to(user)
        .select_related("agreement")
        .order_by("agreement_id", "target_key", "-period_start")
    )


def _delivery_count(*statuses: str) -> Coalesce:
    # An alert's emails are the Notification rows of kind "alert.<level>" keyed "alert:<id>":
    # matching the kind too lets the lookup use the unique (kind, key, recipient) index.
    text = CharField()
    rows = (
        Notification.objects.filter(
            kind=Concat(Value("alert."), OuterRef("level"), output_field=text),
            key=Concat(Value("alert:"), Cast(OuterRef("pk"), text), output_field=text),
            status__in=statuses,
        )
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def alerts_with_deliveries_visible_to(user: User) -> QuerySet[Alert]:
    """Alerts the user may see, latest first, each annotated with how its emails fared
    (``delivery_sent``, ``delivery_pending``, ``delivery_failed``) in the same query."""
    return (
        Alert.objects.visible_to(user)
        .select_related("agreement", "ticket", "period_result", "acknowledged_by")
        .annotate(
            delivery_sent=_delivery_count(Notification.Status.SENT),
            delivery_pending=_delivery_count(
                Notification.Status.PENDING, Notification.Status.SENDING
            ),
            delivery_failed=_delivery_count(Notification.Status.FAILED),
        )
    )
