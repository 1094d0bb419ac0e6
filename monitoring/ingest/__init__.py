"""Set-based ingest of monitoring data: tickets, uptime checks and maintenance windows.

The public contract used by the REST API and by the export importers
(``monitoring.importers``)::

    from monitoring.ingest import IngestError, IngestResult, RowError
    from monitoring.ingest.tickets import tickets_ingest
    from monitoring.ingest.uptime import checks_ingest, maintenance_ingest

Every ingest function validates the whole batch first and raises :class:`IngestError` with one
:class:`RowError` per problem when any row is invalid; then nothing of the batch is written.
A valid batch is written in one transaction with bulk statements (never one save per row) and
re-sending it changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from monitoring.evaluation.trigger import request_evaluation
from monitoring.models import Source
from monitoring.staleness import evidence_time, source_interval

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_BATCH",
    "IngestError",
    "IngestResult",
    "RowError",
    "mark_received",
    "newest_time",
    "notify_changed",
    "receipt_sql",
    "source_accepts",
]

# Larger exports are split by the caller; one transaction of this size stays well under a
# minute and a few hundred MB of memory.
MAX_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong with one row. ``index`` is the row's position in the batch (from 0), or
    -1 for a problem of the whole batch; ``field`` names the key ("" when none applies)."""

    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """How many rows of a batch were created, updated, or already stored exactly so."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


class IngestError(Exception):
    """The batch was refused: ``errors`` lists every row error found. Nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid row(s); first: {errors[0] if errors else '-'}")


def notify_changed(kind: str, ids: Iterable[int]) -> None:
    """Called once per committed batch with the ids of the rows it created or changed.

    ``kind`` is ``"tickets"``, ``"checks"`` (outages of a service; ids are service ids),
    ``"maintenance"``, ``"errors"``, ``"measurements"`` or ``"incidents"``. It queues one
    coalesced evaluation of the batch (``monitoring.evaluation.trigger``). Changed tickets
    were also marked in the batch's own transaction (``Ticket.evaluated_at`` is NULL), so the
    engine's sweep finds them even when the queueing fails."""
    ids = list(ids)
    logger.debug("ingest changed %d %s: %s", len(ids), kind, ids[:20])
    request_evaluation(kind, ids)


SOURCE_DISABLED = "this source is disabled: its data is kept, new data is refused"


def source_accepts(source: Source) -> None:
    """Refuse any batch for a disabled source (API, webhooks, imports and the probe alike)."""
    if source.disabled_at is not None:
        raise IngestError([RowError(-1, "source", SOURCE_DISABLED)])


def newest_time(rows: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The newest datetime among the values of cleaned rows: what an imported batch speaks
    of at the latest (the data's time, not the upload's)."""
    return max(
        (value for row in rows for value in row.values() if isinstance(value, datetime)),
        default=None,
    )


def mark_received(
    source: Source, data_until: datetime | None = None, *, evidence: bool = True
) -> None:
    """Stamp the source's ``last_received_at`` once the current batch commits, and move its
    last evidence (and so the moment it goes stale, ``monitoring.staleness``) forward.

    ``data_until`` is the newest time the batch's data speaks of (the last check of an
    imported history); live senders' evidence is the receipt itself. After the commit and as
    one one-row UPDATE of its own, so concurrent batches of one source do not queue behind a
    lock on the source row for the length of their transactions. ``evidence=False`` for data
    that says nothing about the service's state now (announced maintenance)."""
    source_id = source.pk
    interval = source_interval(source) if evidence else None

    def stamp() -> None:
        now = timezone.now()
        if connection.vendor == "postgresql" and connection.get_autocommit():
            _stamp_sql(
                source_id,
                now,
                evidence_time(source, data_until, now) if evidence else None,
                interval,
            )
            return
        changes: dict[str, Any] = {"last_received_at": now}
        if evidence:
            # staleness.stamp_evidence folded into the same UPDATE: the last evidence only
            # moves forward, the stale moment with it.
            moment = evidence_time(source, data_until, now)
            newer = Q(last_data_at__isnull=True) | Q(last_data_at__lt=moment)
            stale_at = moment + interval if interval else None
            changes["last_data_at"] = Case(
                When(newer, then=Value(moment, DateTimeField())), default=F("last_data_at")
            )
            changes["stale_at"] = Case(
                When(newer, then=Value(stale_at, DateTimeField())), default=F("stale_at")
            )
        Source.objects.filter(pk=source_id).update(**changes)

    transaction.on_commit(stamp)


def receipt_sql(
    source: Source, data_until: datetime | None, now: datetime, *, evidence: bool = True
) -> tuple[str, list[Any]]:
    """The stamp of :func:`mark_received` as one PostgreSQL ``UPDATE`` and its parameters,
    for a batch that runs it in its own transaction (``tickets_ingest`` in autocommit): no
    round trip and no commit of its own. It is to be the batch's last write but the nudge,
    so the source row stays locked only for the commit, not for the batch's length."""
    moment = evidence_time(source, data_until, now) if evidence else None
    interval = source_interval(source) if evidence else None
    return _receipt_update(source.pk, now, moment, interval)


def _receipt_update(
    source_id: int, now: datetime, moment: datetime | None, interval: timedelta | None
) -> tuple[str, list[Any]]:
    evidence = ""
    params: list[Any] = [now]
    if moment is not None:
        newer = "(last_data_at IS NULL OR last_data_at < %s)"
        evidence = (
            f", last_data_at = CASE WHEN {newer} THEN %s ELSE last_data_at END"
            f", stale_at = CASE WHEN {newer} THEN %s ELSE stale_at END"
        )
        stale_at = moment + interval if interval else None
        params += [moment, moment, moment, stale_at]
    sql = f"UPDATE {Source._meta.db_table} SET last_received_at = %s{evidence} WHERE id = %s"
    return sql, [*params, source_id]


def _stamp_sql(
    source_id: int, now: datetime, moment: datetime | None, interval: timedelta | None
) -> None:
    """The stamp of :func:`mark_received` as one statement that does not wait for its WAL
    flush (``synchronous_commit = off`` for this transaction only): the batch itself was
    committed durably; a crash in the next fraction of a second could only lose this receipt
    time, which the next batch sets again. Waiting for a second flush per request was a
    fifth of a one-ticket POST."""
    sql, params = _receipt_update(source_id, now, moment, interval)
    with connection.cursor() as cursor:
        # Two statements in one simple query run as one implicit transaction, so SET LOCAL
        # applies to the UPDATE.
        cursor.execute(f"SET LOCAL synchronous_commit = off; {sql}", params)
