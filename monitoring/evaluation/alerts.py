"""Alerts: raised once per subject and level, sent to the escalation matrix, exactly once.

An evaluation proposes the levels a ticket target or period has reached; ``raise_alerts``
inserts the ones not raised before under the database's unique constraints, so two workers
evaluating the same ticket raise one alert. Who hears about an alert is decided here too
(``recipients``); its emails are recorded by ``monitoring.evaluation.alert_emails``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from agreements.models import Agreement
from monitoring.evaluation.bulk import upsert_rows
from monitoring.models import Alert, Breach, EscalationContact, Level
from sla_portal.core.models import Role, User

RANK = {Level.WARNING: 1, Level.MISSED_TARGET: 2, Level.BREACHED: 3}
# A forecast's levels escalate among themselves: "predicted to breach" raised, "predicted to
# miss" is not raised after it. Whatever happens for real is alerted on its own ranks.
FORECAST_RANK = {Level.PREDICTED_MISS: 1, Level.PREDICTED_BREACH: 2}
# Who hears of a forecast when the agreement names nobody for its level: the people of the
# level it warns of, one step down (a prediction is not yet a miss; the customer's
# signatories are not paged on a forecast).
FORECAST_MATRIX = {Level.PREDICTED_MISS: Level.WARNING, Level.PREDICTED_BREACH: Level.MISSED_TARGET}


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
    predicted = max((FORECAST_RANK.get(level, 0) for level in existing), default=0)
    forecasts = [c for c in candidates if FORECAST_RANK.get(c.level, 0) > predicted]
    if forecasts:
        chosen.append(max(forecasts, key=lambda c: FORECAST_RANK[c.level]))
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
    """The agreement's escalation contacts for ``level``, or the default matrix (a forecast's
    level falls back to the contacts of the level it stands in for, ``FORECAST_MATRIX``)."""
    contacts = list(
        EscalationContact.objects.filter(agreement=agreement, level=level).select_related("user")
    )
    if contacts:
        return [c.user if c.user_id else c.email for c in contacts]
    if level in FORECAST_MATRIX:
        return provider_side(agreement, recipients(agreement, FORECAST_MATRIX[level]))
    return default_recipients(agreement, level)


def provider_side(agreement: Agreement, people: list[User | str]) -> list[User | str]:
    """``people`` without the customer's side: its users, and addresses that are a customer
    user's or a customer signatory's. A forecast is the provider's early warning; the
    customer hears of what happens, not of what might (docs/forecasts.md)."""
    customer = agreement.customer_id
    theirs = {
        email.lower()
        for email in User.objects.filter(organisation_id=customer).values_list("email", flat=True)
        if email
    }
    theirs |= {
        email.lower()
        for email in agreement.signatories.filter(side="customer").values_list("email", flat=True)
        if email
    }
    kept: list[User | str] = []
    for person in people:
        if isinstance(person, User):
            if person.organisation_id == customer or person.is_customer:
                continue
        elif person.lower() in theirs:
            continue
        kept.append(person)
    return kept
