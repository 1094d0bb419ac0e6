"""Proposed terms replayed on the history the portal holds: the evaluation's own inputs and
verdicts over past periods, for terms that are not (yet) in force.

Nothing here computes a figure of its own. Every period goes through
``monitoring.evaluation.measure.measure`` (the function the period evaluation stores its
results from), so outages, maintenance, silence, error events, measurements and incidents
are read exactly as for the agreement in force. The one input that depends on the terms
themselves is a ticket target's timers: the stored ones were computed with the targets in
force, so a replay computes them again in memory with ``monitoring.compliance.timers`` and
the proposed target's calendar and times (``ProposedTimers``), and hands their counts to
``measure``. Nothing is written: a replay stores no timer, result, breach or alert.

Terms replayed *as in force* (``in_force``: the version in force, or a proposal identical to
it) are held to their term exactly as the evaluation holds them: only the agreement's tickets
opened within the term are timed, and each period is measured over its part inside the term
(``tickets.term_bounds``, ``periods.term_window``), so a replay of the version in force gives
the stored verdicts. A proposal is hypothetical: it is judged as if it had been in force over
every replayed period, before its effective date too, on the agreement's tickets and the
customer's unclaimed tickets of its services.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from agreements.models import Agreement, Service
from agreements.terms import MeasuredTarget, MeasuredTerms
from monitoring.compliance.periods import period_bounds
from monitoring.compliance.states import BREACHED, MET, MISSED_TARGET
from monitoring.compliance.timers import TimerResult, ticket_timer
from monitoring.compliance.verdicts import Goal, Verdict
from monitoring.evaluation.measure import measure
from monitoring.evaluation.periods import term_window
from monitoring.evaluation.tickets import (
    resolution_history,
    term_bounds,
    ticket_facts,
    timer_input,
)
from monitoring.experience.measure import closes_at
from monitoring.models import Ticket, TicketPause

logger = logging.getLogger(__name__)

# How many past months a replay may span (three years).
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
    # Final, as the evaluation would have closed it (a CSAT period waits for late ratings).
    closed: bool = True


def past_periods(period: str, until: datetime, count: int, zone: str) -> list:
    """The ``count`` whole periods (month, quarter, year in ``zone``) that end at or before
    ``until``, oldest first. A period that has ended is final unless the evaluation would
    still hold it open (a CSAT period waits for late ratings): ``replay_terms`` says which."""
    found = []
    end = period_bounds(period, until, zone)[0]
    while len(found) < count:
        start = period_bounds(period, end - timedelta(microseconds=1), zone)[0]
        found.append((start, end))
        end = start
    return found[::-1]


def span_periods(period: str, until: datetime, months: int, zone: str) -> list:
    """A target's periods in the replayed span: the ``months`` whole months ending by
    ``until``, and for a quarter or a year those that end inside that span. Every target is
    replayed over the same span of time (12 quarters would be three years), so the credits
    and the sentences of targets of different lengths add up."""
    span = past_periods("month", until, months, zone)
    if period == "month":
        return span
    span_start, span_end = span[0][0], span[-1][1]
    found = []
    end = period_bounds(period, span_end, zone)[0]
    while end > span_start:
        start = period_bounds(period, end - timedelta(microseconds=1), zone)[0]
        found.append((start, end))
        end = start
    return found[::-1]


class ProposedTimers:
    """The tickets of an agreement's services, timed with proposed targets in memory.

    The tickets read are those linked to the agreement and those of its customer on its
    services that no agreement claimed yet (a first agreement negotiated over a desk's
    history). Each target's timers are computed once per replay, at ``now``.

    ``in_force``: the terms are replayed as in force, so, as the ticket evaluation does, only
    the agreement's own tickets opened within the term (``term_bounds``) are timed."""

    def __init__(
        self,
        agreement: Agreement,
        service_ids: list[int],
        now: datetime,
        in_force: MeasuredTerms | None = None,
    ) -> None:
        self.now = now
        self.in_force = in_force
        claimed = Q(agreement=agreement)
        if in_force is None:
            claimed |= Q(
                agreement__isnull=True,
                customer_id=agreement.customer_id,
                service_id__in=service_ids,
            )
        self.facts = ticket_facts(Ticket.objects.filter(claimed))
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
            begin, end = term_bounds(self.in_force, target.zone) if self.in_force else (None, None)
            for ticket in self.facts:
                if not target.applies_to_ticket(ticket.priority, ticket.service):
                    continue
                if begin is not None and (
                    ticket.opened_at < begin or (end is not None and ticket.opened_at >= end)
                ):
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
        """Like ``measure.stored_ticket_counts``, from the timers computed here."""
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


def until_instant(until: date, zone: str) -> datetime:
    """The end of the day ``until`` in ``zone``: a replay "up to 31 March" of a Berlin
    target includes March, which ends there at 31 March 22:00 UTC, not at midnight UTC."""
    return datetime.combine(until + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))


def replay_terms(
    agreement: Agreement,
    terms: MeasuredTerms,
    until: date,
    count: int,
    now: datetime,
    progress: Progress | None = None,
    timers: ProposedTimers | None = None,
    in_force: bool = False,
) -> dict[str, list[ReplayedPeriod]]:
    """Per target key, its periods in the last ``count`` months ended by the end of the day
    ``until`` (in each target's zone, ``until_instant``; ``span_periods``) as ``terms`` would have
    judged them. ``progress`` is told ``(periods done, periods in all)``; ``timers`` lets
    replays of one agreement share the tickets read. ``in_force``: held to their term as the
    evaluation holds them (periods outside it are left out, those it cuts are clipped)."""
    count = max(1, min(count, MAX_REPLAY_PERIODS))
    services = service_ids_of(terms)
    if timers is None:
        timers = ProposedTimers(
            agreement, list(services.values()), now, terms if in_force else None
        )
    plan = [
        (
            target,
            span_periods(
                target.period, min(until_instant(until, target.zone), now), count, target.zone
            ),
        )
        for target in terms.targets
    ]
    total = sum(len(periods) for _, periods in plan)
    done = 0
    found: dict[str, list[ReplayedPeriod]] = {}
    for target, periods in plan:
        service_ids = (
            [services[target.service]] if target.service in services else list(services.values())
        )
        rows = found.setdefault(target.key, [])
        bounds = term_bounds(terms, target.zone) if in_force else None
        for start, end in periods:
            window = term_window((start, end), bounds) if bounds else (start, end)
            done += 1
            if window is None:  # before (or after) the term in force: not measured
                if progress is not None:
                    progress(done, total)
                continue
            # Closed as the evaluation closes it: a CSAT period waits for its late ratings.
            closed = now >= closes_at(target.metric, window[1])
            verdict, unit, goal = measure(
                agreement, terms, target, service_ids, window, now, closed, timers.counts
            )
            rows.append(ReplayedPeriod(start, end, verdict, unit, goal, closed))
            if progress is not None:
                progress(done, total)
    return found
