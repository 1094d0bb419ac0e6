"""Proposed terms replayed on the history the portal holds: the evaluation's own inputs and
verdicts over past periods, for terms that are not (yet) in force.

Nothing here computes a figure of its own. Every period goes through
``monitoring.evaluation.periods.measure`` (the function the period evaluation stores its
results from), so outages, maintenance, silence, error events, measurements and incidents
are read exactly as for the agreement in force. The one input that depends on the terms
themselves is a ticket target's timers: the stored ones were computed with the targets in
force, so a replay computes them again in memory with ``monitoring.compliance.timers`` and
the proposed target's calendar and times (``ProposedTimers``), and hands their counts to
``measure``. Nothing is written: a replay stores no timer, result, breach or alert.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from agreements.models import Agreement, Service
from agreements.terms import MeasuredTarget, MeasuredTerms
from monitoring.compliance.periods import period_bounds
from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET
from monitoring.compliance.timers import TimerResult, ticket_timer
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.evaluation.periods import measure
from monitoring.evaluation.tickets import TicketFacts, resolution_history, timer_input
from monitoring.models import Ticket, TicketPause

logger = logging.getLogger(__name__)

# How many past periods a replay may cover per target (three years of months).
MAX_REPLAY_PERIODS = 36
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayedPeriod:
    """One past period of one target, judged under the replayed terms."""

    start: datetime
    end: datetime
    verdict: Verdict
    unit: str
    goal: Goal


def past_periods(period: str, until: datetime, count: int, zone: str) -> list:
    """The ``count`` whole periods (month, quarter, year in ``zone``) that end at or before
    ``until``, oldest first: a replay judges closed periods only, so every verdict is final."""
    found = []
    end = period_bounds(period, until, zone)[0]
    while len(found) < count:
        start = period_bounds(period, end - timedelta(microseconds=1), zone)[0]
        found.append((start, end))
        end = start
    return found[::-1]


class ProposedTimers:
    """The tickets of an agreement's services, timed with proposed targets in memory.

    The tickets read are those linked to the agreement and those of its customer on its
    services that no agreement claimed yet (a first agreement negotiated over a desk's
    history). Each target's timers are computed once per replay, at ``now``."""

    def __init__(self, agreement: Agreement, service_ids: list[int], now: datetime) -> None:
        self.now = now
        rows = (
            Ticket.objects.filter(
                Q(agreement=agreement)
                | Q(
                    agreement__isnull=True,
                    customer_id=agreement.customer_id,
                    service_id__in=service_ids,
                )
            )
            .order_by("pk")
            .values_list(
                "pk",
                "agreement_id",
                "service__name",
                "priority",
                "state",
                "opened_at",
                "first_response_at",
                "resolved_at",
                "closed_at",
            )
        )
        self.facts = [TicketFacts(*row[:2], row[2] or "", *row[3:]) for row in rows]
        ids = [fact.pk for fact in self.facts]
        self.pauses: dict[int, list] = defaultdict(list)
        if ids:
            for ticket_id, start, end in (
                TicketPause.objects.filter(ticket_id__in=ids)
                .order_by("ticket_id", "start")
                .values_list("ticket_id", "start", "end")
            ):
                self.pauses[ticket_id].append((start, end))
            self.gaps, self.first_resolved = resolution_history(ids)
        else:
            self.gaps, self.first_resolved = {}, {}
        self._timers: dict[str, list[TimerResult]] = {}

    def timers(self, target: MeasuredTarget) -> list[TimerResult]:
        """Every applicable ticket's timer under ``target`` (computed once per target)."""
        found = self._timers.get(target.key)
        if found is None:
            found = []
            for ticket in self.facts:
                if not target.applies_to_ticket(ticket.priority, ticket.service):
                    continue
                spec = timer_input(
                    ticket,
                    target,
                    self.pauses.get(ticket.pk, []),
                    self.gaps.get(ticket.pk, []),
                    self.first_resolved.get(ticket.pk),
                )
                try:
                    found.append(ticket_timer(target.calendar, spec, self.now))
                except ValueError as exc:  # a calendar without business hours
                    logger.warning("replay of %s, ticket %s: %s", target.key, ticket.pk, exc)
            self._timers[target.key] = found
        return found

    def counts(
        self,
        agreement: Agreement,
        target: MeasuredTarget,
        window: tuple[datetime, datetime],
        closed: bool,
    ) -> tuple[int, int, int, int]:
        """Like ``periods.stored_ticket_counts``, from the timers computed here."""
        start, end = window
        met = missed = pending = at_risk = 0
        for timer in self.timers(target):
            if timer.decided_at is not None and start <= timer.decided_at < end:
                if timer.state == MET:
                    met += 1
                elif timer.state in (MISSED_TARGET, BREACHED):
                    missed += 1
            elif not closed and timer.decided_at is None and timer.stopped_at is None:
                pending += 1
                at_risk += timer.state == "at_risk"
        return met, missed, pending, at_risk


def service_ids_of(terms: MeasuredTerms) -> dict[str, int]:
    return dict(Service.objects.filter(name__in=terms.services).values_list("name", "pk"))


def replay_terms(
    agreement: Agreement,
    terms: MeasuredTerms,
    until: datetime,
    count: int,
    now: datetime,
    progress: Progress | None = None,
    timers: ProposedTimers | None = None,
) -> dict[str, list[ReplayedPeriod]]:
    """Per target key, the last ``count`` closed periods up to ``until`` as ``terms`` would
    have judged them. ``progress`` is told ``(periods done, periods in all)``; ``timers``
    lets two replays of one agreement (proposed and in force) share the tickets read."""
    count = max(1, min(count, MAX_REPLAY_PERIODS))
    until = min(until, now)
    services = service_ids_of(terms)
    if timers is None:
        timers = ProposedTimers(agreement, list(services.values()), now)
    plan = [
        (target, past_periods(target.period, until, count, target.zone)) for target in terms.targets
    ]
    total = sum(len(periods) for _, periods in plan)
    done = 0
    found: dict[str, list[ReplayedPeriod]] = {}
    for target, periods in plan:
        service_ids = (
            [services[target.service]] if target.service in services else list(services.values())
        )
        rows = found.setdefault(target.key, [])
        for start, end in periods:
            verdict, unit, goal = measure(
                agreement, terms, target, service_ids, (start, end), now, True, timers.counts
            )
            rows.append(ReplayedPeriod(start, end, verdict, unit, goal))
            done += 1
            if progress is not None:
                progress(done, total)
    return found
