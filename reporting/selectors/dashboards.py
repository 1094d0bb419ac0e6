"""Reads behind the dashboards: live compliance per agreement for the customer, the
provider's overview.

Everything here reads the evaluation engine's rollups (``PeriodResult``, ``TicketTimer``,
``Breach``) and a few small derived rows (``Outage``, ``MaintenanceWindow``, ``Review``), never
raw tickets or uptime checks, so a dashboard costs the same handful of queries at ten tickets
as at ten million. Every query goes through ``visible_to(user)``: a customer user only ever
loads rows of their own organisation. The figures are turned into words here too (house
style: the template shows, it does not compute), with the wording helpers of the compliance
pages so a value reads the same on every page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from agreements.lifecycle import AGREED, STAGE_OF_STATE, STAGES, STATE_LABELS
from agreements.models import Agreement, Review
from agreements.selectors import agreements_visible_to
from agreements.terms import MONITORED_STATES
from monitoring.models import Breach, PeriodResult
from reporting.selectors import recent
from reporting.selectors.breaches import (
    BREACH_HISTORY,
    OPEN_BREACHES,
    OPEN_TICKETS,
    TICKETS_AT_RISK,
    TicketRow,
    open_breaches,
    ticket_row,
)
from reporting.selectors.recent import BREACH_COUNT_CAP
from reporting.selectors.states import BreachRow, State, breach_rows, state_of
from reporting.selectors.targets import TargetPanel, _panel, panels_by_agreement, target_order
from reporting.selectors.timelines import Timeline, agreement_timelines
from sla_portal.core.models import Notification, User
from sla_portal.core.selectors import pending_problems

DELIVERY_PROBLEMS = 10

EXPIRY_DAYS = 90

REVIEW_DAYS = 90


@dataclass
class AgreementPanel:
    """Everything the customer dashboard shows for one agreement."""

    agreement: Agreement
    targets: list[TargetPanel]
    timeline: Timeline | None
    tickets: list[TicketRow]  # the nearest OPEN_TICKETS deadlines
    breaches: list[BreachRow]  # the newest BREACH_HISTORY
    counts: Counter = field(default_factory=Counter)
    open_ticket_count: int = 0  # every open ticket target
    breach_count: int = 0  # every breach, counted up to BREACH_COUNT_CAP + 1

    @property
    def more_tickets(self) -> bool:
        return self.open_ticket_count > len(self.tickets)

    @property
    def more_breaches(self) -> bool:
        return self.breach_count > len(self.breaches)

    @property
    def breach_count_text(self) -> str:
        """The total as a dashboard says it: exact up to the cap, then "more than"."""
        if self.breach_count > BREACH_COUNT_CAP:
            return f"more than {BREACH_COUNT_CAP:,}"
        return f"{self.breach_count:,}"


def monitored_agreements(user: User) -> QuerySet[Agreement]:
    """The agreements in force and measured that the user may see, by reference."""
    return (
        Agreement.objects.visible_to(user)
        .filter(status__in=MONITORED_STATES, in_force_version__isnull=False)
        .select_related("customer")
        .order_by("reference")
    )


def signed_agreements_to_come(user: User) -> QuerySet[Agreement]:
    """Agreements every signatory signed whose effective date is still to come: not measured
    yet, but the customer should find them on the dashboard with the day their figures start."""
    return (
        agreements_visible_to(user)
        .filter(status=AGREED, has_final_version=True)
        .order_by("effective_from", "reference")
    )


def customer_dashboard(user: User, now: datetime | None = None) -> list[AgreementPanel]:
    """Per monitored agreement the user may see: each target's current period (value, gauge,
    what is left, trend), the availability timeline, the nearest open deadlines and the latest
    breaches with their totals. A constant number of queries, whatever the number of
    agreements or tickets; each list is bounded (``recent``)."""
    now = now or timezone.now()
    agreements = list(
        recent.with_counts(user, monitored_agreements(user)).prefetch_related("services")
    )
    if not agreements:
        return []
    ids = [a.pk for a in agreements]
    panels = panels_by_agreement(user, agreements, now)
    timelines = agreement_timelines(user, agreements, panels, now)
    tickets: dict[int, list[TicketRow]] = defaultdict(list)
    for timer in recent.nearest_timers(user, ids, OPEN_TICKETS):
        tickets[timer.agreement_id].append(ticket_row(timer, now))
    breaches: dict[int, list[Breach]] = defaultdict(list)
    for breach in recent.latest_breaches(user, ids, BREACH_HISTORY):
        breaches[breach.agreement_id].append(breach)
    found = []
    for agreement in agreements:
        targets = panels.get(agreement.pk, [])
        found.append(
            AgreementPanel(
                agreement=agreement,
                targets=targets,
                timeline=timelines.get(agreement.pk),
                tickets=tickets.get(agreement.pk, []),
                breaches=breach_rows(breaches.get(agreement.pk, [])),
                counts=Counter(t.state.rag for t in targets),
                open_ticket_count=agreement.open_ticket_count,
                breach_count=agreement.breach_count,
            )
        )
    return found


@dataclass
class AgreementLight:
    """One agreement's row of traffic lights: each target's current state."""

    agreement: Agreement
    targets: list[TargetPanel]
    worst: State


@dataclass
class Deadline:
    agreement: Agreement
    on: date
    what: str
    days: int
    review: Review | None = None

    @property
    def overdue(self) -> int:
        return -self.days


@dataclass
class ProviderDashboard:
    """The provider's overview of every monitored agreement."""

    agreements: list[AgreementLight]
    open_breaches: list[BreachRow]
    open_breach_count: int
    tickets_at_risk: list[TicketRow]
    tickets_at_risk_count: int
    stages: list[tuple[str, int, list[tuple[str, int]]]]
    reviews: list[Deadline]
    expiries: list[Deadline]
    delivery_problems: list[Notification]
    rag_counts: Counter


RAG_RANK = {"red": 0, "amber": 1, "grey": 2, "green": 3}


def provider_dashboard(user: User, now: datetime | None = None) -> ProviderDashboard:
    """Every monitored agreement with a red/amber/green state per target, open breaches, open
    tickets by time to breach, agreements per lifecycle stage, reviews and expiries due within
    90 days, and emails that could not be delivered. A constant number of queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    agreements = list(monitored_agreements(user))
    current = (
        PeriodResult.objects.visible_to(user)
        .filter(agreement_id__in=[a.pk for a in agreements])
        .filter(period_start__lte=now, period_end__gt=now)
        .only(
            "agreement_id",
            "target_key",
            "target_label",
            "metric",
            "value_unit",
            "direction",
            "goal_target",
            "goal_threshold",
            "value",
            "status",
            "details",
            "period",
            "period_start",
            "period_end",
            "closed_at",
        )
    )
    by_agreement: dict[int, list[TargetPanel]] = defaultdict(list)
    for row in current:
        by_agreement[row.agreement_id].append(_panel(row, [row]))
    lights = []
    for agreement in agreements:
        targets = sorted(by_agreement.get(agreement.pk, []), key=target_order)
        worst = min(
            (t.state for t in targets), key=lambda s: RAG_RANK[s.rag], default=state_of("no_data")
        )
        lights.append(AgreementLight(agreement, targets, worst))
    # The agreements that need attention first.
    lights.sort(key=lambda light: (RAG_RANK[light.worst.rag], light.agreement.reference))

    breaches = open_breaches(user)
    open_breach_list = list(
        breaches.select_related("agreement", "ticket", "period_result").order_by(
            "-opened_at", "-id"
        )[:OPEN_BREACHES]
    )
    at_risk_timers = recent.open_timers_at_risk(user)
    at_risk = [ticket_row(timer, now) for timer in at_risk_timers[:TICKETS_AT_RISK]]

    per_state = dict(
        Agreement.objects.visible_to(user).values_list("status").annotate(n=Count("pk"))
    )
    stages = []
    for stage in STAGES:
        states = [
            (STATE_LABELS[s], n) for s, n in per_state.items() if STAGE_OF_STATE.get(s) == stage
        ]
        stages.append((stage, sum(n for _, n in states), sorted(states)))

    horizon = today + timedelta(days=REVIEW_DAYS)
    reviews = [
        Deadline(
            r.agreement,
            r.due_date,
            f"Review ({r.get_status_display().lower()})",
            (r.due_date - today).days,
            r,
        )
        for r in Review.objects.visible_to(user)
        .exclude(status=Review.Status.DECIDED)
        .filter(due_date__lte=horizon)
        .select_related("agreement")
        .order_by("due_date")[:20]
    ]
    expiries = [
        Deadline(a, a.effective_to, "Expires", (a.effective_to - today).days)
        for a in Agreement.objects.visible_to(user)
        .filter(
            status__in=MONITORED_STATES,
            effective_to__gte=today,
            effective_to__lte=today + timedelta(days=EXPIRY_DAYS),
        )
        .order_by("effective_to")[:20]
    ]
    problems = list(pending_problems()[:DELIVERY_PROBLEMS]) if user.is_provider else []
    return ProviderDashboard(
        agreements=lights,
        open_breaches=breach_rows(open_breach_list),
        open_breach_count=breaches.count(),
        tickets_at_risk=at_risk,
        tickets_at_risk_count=at_risk_timers.count(),
        stages=stages,
        reviews=reviews,
        expiries=expiries,
        delivery_problems=problems,
        rag_counts=Counter(t.state.rag for light in lights for t in light.targets),
    )
