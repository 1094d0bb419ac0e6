"""Replaying a proposal's targets on history: what is replayed, for whom, cached and queued.

A replay takes the proposed terms (the provider's working copy, or a proposed version) and,
beside them, the version in force, and judges both on the same past periods with the
evaluation's own code (``monitoring.evaluation.replay``). Results are kept per content in
``ReplayRun`` rows: the proposed snapshot's hash, the version in force, the periods asked for
and the day, so asking again (the other side, the comparison page, the API) answers at once.

A replay small enough to finish while the person waits (``INLINE_MS``) runs in the
request; a larger one runs as a Celery task that reports its progress on its row, and the
page polls it with a progress bar.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from agreements.models import Agreement, AgreementVersion
from agreements.selectors import versions_visible_to
from agreements.snapshot import build_snapshot, content_hash
from agreements.terms import MeasuredTerms, terms_from_snapshot
from monitoring.evaluation.replay import (
    MAX_REPLAY_PERIODS,
    ProposedTimers,
    ReplayedPeriod,
    replay_terms,
    service_ids_of,
)
from monitoring.models import Ticket
from reporting.credits import schedule_from_snapshot
from reporting.enqueue import replay_run_enqueue
from reporting.models import ReplayRun
from reporting.replay.arithmetic import PeriodLine, TargetLine, month_credits, plain, sentences
from reporting.replay.arithmetic import total_amount as credits_total
from reporting.selectors.replay_watermark import history_watermark

DRAFT = "draft"
# No portal holds history from before this year; earlier dates are typing mistakes.
EARLIEST_YEAR = 2000
DEFAULT_PERIODS = 12
# What a replay may take in the request, in estimated milliseconds (``work_of``); more goes
# to Celery with a progress bar. 15 targets x 12 months x 2 sides took 0.5 s when measured.
INLINE_MS = 1000
PERIOD_MS = 1.5
TIMER_MS = 0.1
# Replays of past days are pruned (their keys hold the day, so nobody asks for them again).
KEEP_RUNS = timedelta(days=2)
# A queued or running replay older than this is taken as lost (a worker that died, a queue
# nobody reads): it fails with a reason instead of leaving the page polling for ever. Longer
# than the tasks' hard time limit (``reporting.tasks``).
RUN_TIMEOUT = timedelta(minutes=15)
LOST = "the worker did not answer within 15 minutes"
CRASHED = "the replay stopped its worker before it finished; try again"
Progress = Callable[[int, int], None]


class ReplayError(Exception):
    """A request the replay cannot answer: which field, and why (a 400, never a 500)."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        self.field, self.reason, self.status = field, reason, status
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay: ``source`` is ``"draft"`` (the working copy) or a version number."""

    source: str
    periods: int
    until: date
    # Queue again a replay that failed (an explicit "Try again"); never implied by a poll.
    retry: bool = False

    @classmethod
    def parse(cls, data: Any, today: date) -> ReplayRequest:
        """Read ``version``, ``periods`` and ``until`` from query parameters or a form."""
        source = (data.get("version") or DRAFT).strip()
        if source != DRAFT and not (source.isdigit() and len(source) <= 6 and int(source) >= 1):
            raise ReplayError("version", "Give a version number or 'draft'.")
        raw = data.get("periods") or str(DEFAULT_PERIODS)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLAY_PERIODS:
            raise ReplayError("periods", f"Give a whole number from 1 to {MAX_REPLAY_PERIODS}.")
        until = today
        if data.get("until"):
            try:
                until = date.fromisoformat(data["until"])
            except ValueError as exc:
                raise ReplayError("until", "Give a date as YYYY-MM-DD.") from exc
            if until > today:
                raise ReplayError("until", "A replay covers the past: give today or earlier.")
            if until.year < EARLIEST_YEAR:
                raise ReplayError("until", f"Give a date in {EARLIEST_YEAR} or later.")
        retry = str(data.get("retry") or "").strip().lower() in {"1", "true", "yes", "on"}
        return cls(source, int(raw), until, retry)


def may_replay(user) -> bool:
    """Both sides negotiate: the provider's managers and the customer's approvers."""
    return bool(user.can_draft_agreements or user.can_approve_agreements)


def proposed_snapshot(user, agreement: Agreement, source: str) -> tuple[dict, str]:
    """The snapshot to replay and how to name it. The working copy is the provider's (a
    customer sees it once it is proposed, as a version)."""
    if source == DRAFT:
        if not user.can_draft_agreements:
            raise ReplayError("version", "Only the provider's managers replay the working copy.")
        return build_snapshot(agreement), "Working copy"
    version = (
        versions_visible_to(user, agreement)
        .filter(number=int(source))
        .values("number", "snapshot")
        .first()
    )
    if version is None:
        raise ReplayError("version", f"This agreement has no version {source}.", 404)
    return version["snapshot"], f"Version {version['number']}"


def replay_key(agreement: Agreement, snapshot: dict, request: ReplayRequest) -> str:
    """The cache key of a replay: same content, same comparison, same periods, same day,
    same history (``history_watermark``)."""
    # The history's watermark: new data (an outage ingested, a ticket changed, a correction)
    # gives a new key, so a cached replay is never older than what it was computed from.
    services = [str(name) for name in (snapshot.get("terms") or {}).get("services") or []]
    parts = [
        str(agreement.pk),
        content_hash(snapshot),
        history_watermark(agreement, services),
        str(agreement.in_force_version_id or "-"),
        str(request.periods),
        request.until.isoformat(),
        timezone.now().date().isoformat(),
    ]
    return "replay:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def work_of(agreement: Agreement, terms: MeasuredTerms, periods: int) -> float:
    """About how many milliseconds a replay takes (both sides), to decide between the
    request and a task: a target's period costs ``PERIOD_MS`` (a few queries), a ticket
    timed under a ticket target ``TIMER_MS`` (measured on the reference machine)."""
    sides = 2 if agreement.in_force_version_id else 1
    ticket_targets = sum(1 for t in terms.targets if t.is_ticket_timer)
    tickets = 0
    if ticket_targets:
        service_ids = list(service_ids_of(terms).values())
        tickets = Ticket.objects.filter(agreement=agreement).count()
        tickets += Ticket.objects.filter(
            agreement__isnull=True, customer_id=agreement.customer_id, service_id__in=service_ids
        ).count()
    return sides * (len(terms.targets) * periods * PERIOD_MS + tickets * ticket_targets * TIMER_MS)


def cached(key: str) -> dict | None:
    """The result of the finished replay ``key`` (None while it runs or when unknown)."""
    return (
        ReplayRun.objects.filter(key=key, state=ReplayRun.State.DONE)
        .values_list("result", flat=True)
        .first()
    )


def progress_of(key: str) -> dict | None:
    """``{"done", "total", "state", "error"}`` of a queued replay, or None. A queued or
    running row older than ``RUN_TIMEOUT`` is failed here (the watchdog): its worker is lost."""
    found = ReplayRun.objects.filter(key=key).values("done", "total", "state", "error").first()
    if found is not None and found["state"] in (ReplayRun.State.QUEUED, ReplayRun.State.RUNNING):
        lost = ReplayRun.objects.filter(
            key=key,
            state__in=(ReplayRun.State.QUEUED, ReplayRun.State.RUNNING),
            created_at__lt=timezone.now() - RUN_TIMEOUT,
        ).update(state=ReplayRun.State.FAILED, error=LOST)
        if lost:
            found |= {"state": ReplayRun.State.FAILED, "error": LOST}
    return found


def run_started(key: str, agreement: Agreement) -> None:
    """Record a replay as queued (again, after a failure), pruning the rows of past days."""
    now = timezone.now()
    ReplayRun.objects.filter(created_at__lt=now - KEEP_RUNS).delete()
    ReplayRun.objects.update_or_create(
        key=key,
        defaults={
            "agreement": agreement,
            "state": ReplayRun.State.QUEUED,
            "done": 0,
            "total": 1,
            "error": "",
            "result": None,
            "created_at": now,
        },
    )


def claim_run(key: str, crashed: str = "") -> bool:
    """Take the queued replay ``key`` for this task (queued -> running). False when it is
    not queued: done, or failed, or already running, i.e. a delivery again after the worker
    running it died (acks_late): the replay is then failed with ``crashed`` rather than
    tried again and again."""
    claimed = ReplayRun.objects.filter(key=key, state=ReplayRun.State.QUEUED).update(
        state=ReplayRun.State.RUNNING
    )
    if not claimed:
        ReplayRun.objects.filter(key=key, state=ReplayRun.State.RUNNING).update(
            state=ReplayRun.State.FAILED, error=(crashed or CRASHED)[:300]
        )
    return bool(claimed)


def run_finished(key: str, agreement: Agreement, result: dict) -> None:
    """Store a replay's result (and prune rows of past days, as a start does: replays
    answered in the request never start one)."""
    ReplayRun.objects.filter(created_at__lt=timezone.now() - KEEP_RUNS).delete()
    ReplayRun.objects.update_or_create(
        key=key,
        defaults={
            "agreement": agreement,
            "state": ReplayRun.State.DONE,
            "done": 1,
            "total": 1,
            "error": "",
            "result": result,
            "created_at": timezone.now(),
        },
    )


def set_progress(
    key: str, done: int, total: int, state: str = "running", error: str = "", side=None
) -> None:
    """Write a replay's progress; ``side``: a second connection, for progress written from
    inside a transaction (an upload's) that the page polling the row would not see."""
    values = [done, total, state, error[:300], key]
    sql = (
        f"UPDATE {ReplayRun._meta.db_table} SET done = %s, total = %s, state = %s, "
        "error = %s WHERE key = %s"
    )
    with (side or connection).cursor() as cursor:
        cursor.execute(sql, values)


def span_months(until: date, months: int) -> list[str]:
    """The replayed span as "YYYY-MM" labels, oldest first: the ``months`` whole months that
    end by the end of the day ``until`` (the table's columns; a quarter shows under the
    month it ends in)."""
    first_after = (until + timedelta(days=1)).replace(day=1)
    index = first_after.year * 12 + first_after.month - 1
    return [f"{(index - n) // 12:04d}-{(index - n) % 12 + 1:02d}" for n in range(months, 0, -1)]


def _lines(terms: MeasuredTerms, found: dict[str, list[ReplayedPeriod]]) -> list[TargetLine]:
    lines = []
    for target in terms.targets:
        zone = ZoneInfo(target.zone)
        periods = tuple(
            PeriodLine(
                row.start,
                row.end,
                (row.end - timedelta(microseconds=1)).astimezone(zone).strftime("%Y-%m"),
                row.verdict.value,
                row.verdict.status,
                row.closed,
            )
            for row in found.get(target.key, [])
        )
        goal = found[target.key][0].goal if found.get(target.key) else None
        lines.append(
            TargetLine(
                key=target.key,
                label=target.label,
                metric=target.metric,
                period=target.period,
                goal_target=goal.target if goal else float(target.target_value),
                goal_threshold=goal.threshold if goal else float(target.threshold_value),
                value_unit=found[target.key][0].unit if found.get(target.key) else target.unit,
                periods=periods,
                within=f"{plain(target.target_value)} {target.unit}"
                if target.is_ticket_timer
                else "",
            )
        )
    return lines


def _side(label: str, lines: list[TargetLine], credits: dict, currency: str) -> dict:
    """One side of a replay as plain JSON (cached, rendered, serialised as is)."""
    return {
        "label": label,
        "targets": [
            {
                "key": line.key,
                "label": line.label,
                "metric": line.metric,
                "period": line.period,
                "goal": line.goal_text,
                "goal_target": line.goal_target,
                "goal_threshold": line.goal_threshold,
                "value_unit": line.value_unit,
                "tally": line.tally(),
                "periods": [
                    {
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "month": p.month,
                        "value": p.value,
                        "status": p.status,
                        "closed": p.closed,
                    }
                    for p in line.periods
                ],
            }
            for line in lines
        ],
        "credits": {
            "currency": currency,
            "total": str(credits_total(credits)),
            "months": [
                {"month": month, "percent": str(result.percent), "amount": str(result.amount)}
                for month, result in credits.items()
            ],
        },
    }


def run_replay(
    agreement: Agreement,
    snapshot: dict,
    label: str,
    request: ReplayRequest,
    progress: Progress | None = None,
) -> dict:
    """Replay ``snapshot``'s targets and those of the version in force on the same periods;
    return the result as plain JSON."""
    now = timezone.now()
    until = request.until
    proposed = terms_from_snapshot(0, snapshot)
    current_version = (
        AgreementVersion.objects.filter(pk=agreement.in_force_version_id)
        .values("number", "snapshot")
        .first()
    )
    current = (
        terms_from_snapshot(agreement.in_force_version_id, current_version["snapshot"])
        if current_version
        else None
    )
    per_side = len(proposed.targets) + (len(current.targets) if current else 0)
    total = max(1, per_side * request.periods)
    done = [0]

    def step(_done: int, _total: int) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    # A proposal identical to the version in force is the version in force: held to its
    # term as the evaluation holds it, so it gives the stored verdicts. Any other proposal
    # is judged as if it had been in force over every period replayed (docs/replay.md).
    as_in_force = current_version is not None and content_hash(snapshot) == content_hash(
        current_version["snapshot"]
    )
    timers = ProposedTimers(
        agreement,
        list(service_ids_of(proposed).values()),
        now,
        proposed if as_in_force else None,
    )
    found = replay_terms(
        agreement, proposed, until, request.periods, now, step, timers, in_force=as_in_force
    )
    schedule = schedule_from_snapshot(snapshot)
    lines = _lines(proposed, found)
    credits = month_credits(schedule, lines)
    result: dict[str, Any] = {
        "agreement": agreement.pk,
        "source": request.source,
        "content_hash": content_hash(snapshot),
        "periods": request.periods,
        "until": request.until.isoformat(),
        "computed_at": now.isoformat(),
        "proposed": _side(label, lines, credits, schedule.currency),
        "current": None,
    }
    current_lines = current_credits = None
    if current is not None and current_version is not None:
        current_found = replay_terms(
            agreement, current, until, request.periods, now, step, in_force=True
        )
        current_lines = _lines(current, current_found)
        current_schedule = schedule_from_snapshot(current_version["snapshot"])
        current_credits = month_credits(current_schedule, current_lines)
        result["current"] = _side(
            f"Version {current_version['number']} (in force)",
            current_lines,
            current_credits,
            current_schedule.currency,
        )
    result["months"] = span_months(request.until, request.periods)
    result["summary"] = sentences(
        lines,
        credits,
        current_lines,
        current_credits,
        schedule.currency,
        months=request.periods,
        current_currency=result["current"]["credits"]["currency"] if result["current"] else None,
    )
    return result


def replay_for(user, agreement: Agreement, request: ReplayRequest) -> tuple[str, dict | None]:
    """The replay ``user`` asked for: ``(key, result)`` when cached or cheap enough to
    compute now, ``(key, None)`` once queued (poll ``progress_of(key)``)."""
    snapshot, label = proposed_snapshot(user, agreement, request.source)
    key = replay_key(agreement, snapshot, request)
    found = cached(key)
    terms = terms_from_snapshot(0, snapshot)
    if found is None and work_of(agreement, terms, request.periods) <= INLINE_MS:
        found = run_replay(agreement, snapshot, label, request)
        run_finished(key, agreement, found)
    if found is not None:
        # One content, one result: the working copy and the version proposed from it
        # share it, each under its own name.
        found["source"] = request.source
        found["proposed"]["label"] = label
        return key, found
    running = progress_of(key)
    if running is not None and running["state"] == ReplayRun.State.FAILED and not request.retry:
        # A failure is shown, not retried behind the person's back on every poll.
        raise ReplayError("replay", f"The replay failed: {running['error']}", 409)
    if running is None or running["state"] == ReplayRun.State.FAILED:
        run_started(key, agreement)
        replay_run_enqueue(
            agreement.pk,
            snapshot,
            label,
            request.source,
            request.periods,
            request.until.isoformat(),
            key,
        )
    return key, None


def replay_in_task(
    agreement_id: int, snapshot: dict, label: str, source: str, periods: int, until: str, key: str
) -> None:
    """The queued replay: computes, reports progress, caches the result (idempotent: a
    redelivered task finds the result cached and stops; one delivered again after its
    worker died fails instead of running again, ``claim_run``)."""
    if cached(key) is not None or not claim_run(key):
        return
    agreement = Agreement.objects.get(pk=agreement_id)
    request = ReplayRequest(source, periods, date.fromisoformat(until))
    try:
        found = run_replay(
            agreement, snapshot, label, request, lambda done, total: set_progress(key, done, total)
        )
    except Exception as exc:
        set_progress(key, 0, 1, "failed", str(exc)[:300])
        raise
    run_finished(key, agreement, found)
