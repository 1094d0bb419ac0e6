"""What ingest calls after commit: ask the worker to evaluate what a batch changed.

One ``monitoring.evaluate_changed`` task is outstanding at a time, however many batches
commit (a burst of single-ticket requests used to leave thousands of tasks waiting). A
nudge records the agreements whose periods the batch may change in the
``EvaluationRequest`` row and queues a task only when none is outstanding; the task clears
the flag when it starts, takes the recorded agreements, evaluates every marked ticket and
those agreements' periods, and then forgets the agreements it covered.

Why no nudge is lost: a nudge writes the row after its batch committed. If it finds a task
outstanding, that task has not cleared the flag yet, so it has not yet read the row or
claimed tickets: it will see this batch's marks and agreements. If the task already
cleared the flag, the nudge finds none outstanding and queues the next task. The row is
locked for each step, so the two orders are the only ones. An agreement is forgotten only
if no nudge asked for it again while the task ran (a sequence number per request), and a
task lost with its worker is replaced by the next nudge after ``LOST_AFTER``. Beyond that,
the request is only a nudge: the deadline loop evaluates marked tickets every second
(``monitoring.evaluation.loop``) and every open period is recomputed every minute, so a
broker that is down delays the evaluation but loses nothing. A run does a bounded amount
of work and queues the next through the same request (``continue_evaluation``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from agreements.models import Agreement
from monitoring.enqueue import EVALUATE_CHANGED, enqueue
from monitoring.models import (
    ContinuityIncident,
    ErrorEvent,
    EvaluationRequest,
    MaintenanceWindow,
    Measurement,
    Ticket,
)

logger = logging.getLogger(__name__)

NAME = "evaluate_changed"
# A task outstanding for longer than this was lost (a purged queue, a broker restarted
# without its data): the next nudge queues another. A second task meanwhile is harmless.
LOST_AFTER = timedelta(minutes=10)


def request_evaluation(kind: str, ids: Iterable[int]) -> None:
    """Record what a committed batch changed and queue ``monitoring.evaluate_changed``
    unless a task is already outstanding (see the module docstring)."""
    ids = list(ids)
    if not ids:
        return
    try:
        queue = record_request(agreements_affected(kind, ids), timezone.now())
    except Exception:  # the database is unreachable: the sweeps will find the changes
        logger.warning("could not record the evaluation of %d %s; the sweep will", len(ids), kind)
        return
    if queue:
        _queue_task(f"{len(ids)} {kind}")


def continue_evaluation(agreement_ids: Iterable[int]) -> None:
    """Called by a task that stopped at its bound with tickets left: record its agreements
    again and queue the next run, unless a nudge has queued one meanwhile (one outstanding)."""
    if record_request(agreement_ids, timezone.now()):
        _queue_task("the remaining tickets")


def _queue_task(what: str) -> None:
    try:
        enqueue(EVALUATE_CHANGED)
    except Exception:  # the broker is down: the sweeps will find the changes
        logger.warning("could not queue the evaluation of %s; the sweep will", what)
        # Nothing is outstanding after all: the next nudge tries to queue again.
        EvaluationRequest.objects.filter(name=NAME).update(queued_at=None)


def _locked_request():
    """The request row, locked until the caller's transaction ends (created when missing).

    The lock is taken by an UPDATE first, so that SQLite too takes its write lock at once
    rather than failing to upgrade a read lock under a concurrent writer."""
    if not EvaluationRequest.objects.filter(name=NAME).update(sequence=F("sequence") + 1):
        EvaluationRequest.objects.get_or_create(name=NAME)
        EvaluationRequest.objects.filter(name=NAME).update(sequence=F("sequence") + 1)
    return EvaluationRequest.objects.get(name=NAME)


# One statement on PostgreSQL: the row is locked from this UPDATE to the commit, and a burst
# of single-ticket requests queues on that lock, so it must be short. ``sequence + 1`` is the
# new sequence number (every expression of an UPDATE reads the old row); the caller queued
# the task when the row now holds its own ``now``.
_RECORD_SQL = """
UPDATE monitoring_evaluationrequest
SET sequence = sequence + 1,
    agreements = agreements || COALESCE(
        (SELECT jsonb_object_agg(agreement, sequence + 1)
         FROM unnest(%(agreements)s::text[]) AS agreement),
        '{}'::jsonb),
    queued_at = CASE WHEN queued_at IS NULL OR queued_at < %(lost)s THEN %(now)s
                ELSE queued_at END
WHERE name = %(name)s
RETURNING queued_at = %(now)s
"""


def record_request(agreement_ids: Iterable[int], now: datetime) -> bool:
    """Add ``agreement_ids`` to the request; return whether the caller must queue a task."""
    if connection.vendor == "postgresql":
        return _record_request_pg([str(a) for a in agreement_ids], now)
    with transaction.atomic():
        request = _locked_request()
        for agreement_id in agreement_ids:
            request.agreements[str(agreement_id)] = request.sequence
        queue = request.queued_at is None or request.queued_at < now - LOST_AFTER
        if queue:
            request.queued_at = now
        request.save(update_fields=["agreements", "queued_at"])
    return queue


def _record_request_pg(agreements: list[str], now: datetime) -> bool:
    params = {"agreements": agreements, "lost": now - LOST_AFTER, "now": now, "name": NAME}
    with transaction.atomic(), connection.cursor() as cursor:
        # The commit need not wait for the disk: a nudge lost in a crash of the database is
        # made good by the sweeps (module docstring), and the row lock is held until the
        # commit returns, so a synchronous flush would hold every other nudge behind it.
        cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")
        cursor.execute(_RECORD_SQL, params)
        row = cursor.fetchone()
        if row is None:  # the first nudge of this database
            EvaluationRequest.objects.get_or_create(name=NAME)
            cursor.execute(_RECORD_SQL, params)
            row = cursor.fetchone()
    return bool(row[0])


def record_request_sql(agreements: str, only_if: str, now: datetime) -> tuple[str, list[Any]]:
    """:func:`record_request` as one PostgreSQL statement for a batch's own write script, and
    its parameters (positional). ``agreements`` is a query of one text column (the agreement
    ids), ``only_if`` a condition (no nudge when the batch changed nothing).

    The statement returns one row, whether the caller must queue a task after the commit
    (:func:`queue_evaluation`), or none when ``only_if`` is false. Run in the batch's own
    transaction, the nudge costs no round trip and no commit of its own; it is the batch's
    last statement, so the row stays locked only for the commit. The order argued in the
    module docstring holds: a task that clears the flag waits on that lock, so it either
    commits first (the nudge sees no task outstanding and queues one) or finds the batch's
    marks and agreements. INSERT … ON CONFLICT creates the row on the first nudge."""
    table = _table()
    sql = f"""
        INSERT INTO {table} AS r (name, sequence, agreements, queued_at)
        SELECT %s, 1,
            COALESCE((SELECT jsonb_object_agg(a, 1) FROM ({agreements}) AS x(a)), '{{}}'::jsonb),
            %s
        WHERE {only_if}
        ON CONFLICT (name) DO UPDATE SET
            sequence = r.sequence + 1,
            agreements = r.agreements || COALESCE(
                (SELECT jsonb_object_agg(k, r.sequence + 1)
                 FROM jsonb_object_keys(EXCLUDED.agreements) AS k),
                '{{}}'::jsonb),
            queued_at = CASE WHEN r.queued_at IS NULL OR r.queued_at < %s
                THEN EXCLUDED.queued_at ELSE r.queued_at END
        RETURNING r.queued_at = %s"""
    return sql, [NAME, now, now - LOST_AFTER, now]


def queue_evaluation() -> None:
    """After a commit whose nudge (:func:`record_request_sql`) found no task outstanding:
    queue one; if the broker refuses, clear the flag so that the next nudge tries again."""
    try:
        enqueue(EVALUATE_CHANGED)
    except Exception:  # the broker is down: the sweeps will find the changes
        logger.warning("could not queue the evaluation; the sweep will")
        EvaluationRequest.objects.filter(name=NAME).update(queued_at=None)


def _table() -> str:
    return EvaluationRequest._meta.db_table


def take_request() -> dict[str, int]:
    """At the start of the task: clear the flag (a nudge from now on queues the next task)
    and return the agreements requested so far with their sequence numbers."""
    with transaction.atomic():
        request = _locked_request()
        request.queued_at = None
        request.save(update_fields=["queued_at"])
        return dict(request.agreements)


def finish_request(taken: dict[str, int]) -> None:
    """After the task evaluated ``taken``: forget those agreements, except the ones a nudge
    asked for again meanwhile (its data may have committed after they were evaluated)."""
    if not taken:
        return
    with transaction.atomic():
        request = _locked_request()
        for key, sequence in taken.items():
            if request.agreements.get(key) == sequence:
                del request.agreements[key]
        request.save(update_fields=["agreements"])


def agreements_affected(kind: str, ids: list[int]) -> list[int]:
    """The monitored agreements whose results a batch of ``kind`` rows may change."""
    if kind == "agreements":  # a survey answer names its agreement (monitoring.experience)
        return list(Agreement.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if kind == "tickets":
        return list(
            Ticket.objects.filter(pk__in=ids, agreement__isnull=False)
            .values_list("agreement_id", flat=True)
            .distinct()
        )
    models = {
        "maintenance": MaintenanceWindow,
        "errors": ErrorEvent,
        "measurements": Measurement,
        "incidents": ContinuityIncident,
    }
    if kind == "checks":
        service_ids = ids
    elif kind in models:
        service_ids = list(
            models[kind].objects.filter(pk__in=ids).values_list("service_id", flat=True).distinct()
        )
    else:
        raise ValueError(f"unknown kind of monitoring data: {kind!r}")
    return list(
        Agreement.objects.filter(services__in=service_ids).values_list("pk", flat=True).distinct()
    )
