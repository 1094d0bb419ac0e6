"""What ingest calls after commit: ask the worker to evaluate what a batch changed.

One task per committed batch, whatever its size (10,000 tickets are one evaluation job).
The request is only a nudge: ingest marked changed tickets in its own transaction, the tick
evaluates marked tickets every second and every open period is recomputed every minute, so a
broker that is down when the batch commits delays the evaluation but loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)


def request_evaluation(kind: str, ids: Iterable[int]) -> None:
    """Queue one coalesced ``monitoring.evaluate_changed`` task for a committed batch."""
    from ..tasks import evaluate_changed

    ids = list(ids)
    if not ids:
        return
    try:
        evaluate_changed.delay(kind, ids)
    except Exception:  # the broker is down: the sweeps will find the changes
        logger.warning("could not queue the evaluation of %d %s; the sweep will", len(ids), kind)


def agreements_affected(kind: str, ids: list[int]) -> list[int]:
    """The monitored agreements whose results a batch of ``kind`` rows may change."""
    from agreements.models import Agreement

    from ..models import ContinuityIncident, ErrorEvent, MaintenanceWindow, Measurement, Ticket

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
