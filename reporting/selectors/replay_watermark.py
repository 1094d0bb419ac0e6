"""A watermark of the history a replay reads, so a cached replay is never older than its data.

A replay's result is kept per content (``reporting.replay.runs.replay_key``); without a mark
of the data, an outage ingested or a ticket corrected after the first replay of the day left
every later one answering with the old verdicts until the next day. The watermark is one
small query over stamps and counters that already exist and that every change moves:

* the sources' ingest stamps (``last_received_at``, ``last_data_at``: stamped per accepted
  batch, so every check, outage, event and measurement the ingest takes moves them);
* per data table of the agreement's services (outages, maintenance, error events,
  measurements, continuity incidents), its row count, highest id and, for the intervals a
  correction may edit in place, the sum of their ends;
* the tickets of the agreement and the customer's on those services: their count and
  newest ``changed_at`` (``auto_now``, indexed);
* the agreement's period corrections (count, newest application).

Any of them moving gives a new key, hence a new replay; nothing moving keeps the cached one.
"""

from __future__ import annotations

import hashlib

from django.db import connection
from django.db.models import Count, Max, Q

from agreements.models import Agreement, Service
from monitoring.models import (
    ContinuityIncident,
    ErrorEvent,
    MaintenanceWindow,
    Measurement,
    Outage,
    Source,
    Ticket,
)
from reporting.models import PeriodCorrection


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _per_service(model, ends: str | None = None) -> str:
    extent = f", sum(extract(epoch from {ends}))" if ends else ""
    return (
        f"(SELECT concat_ws('/', count(*), max(id){extent}) FROM {_table(model)}"
        " WHERE service_id IN (SELECT id FROM svc))"
    )


def history_watermark(agreement: Agreement, service_names: list[str]) -> str:
    """A short hash that changes whenever the history a replay of ``agreement`` over
    ``service_names`` (and the agreement's own services) reads changes."""
    through = Agreement.services.through
    sql = f"""
    WITH svc AS MATERIALIZED (
        SELECT id FROM {_table(Service)} WHERE name = ANY(%(names)s)
        UNION SELECT service_id FROM {_table(through)} WHERE agreement_id = %(agreement)s
    )
    SELECT concat_ws('|',
        (SELECT concat_ws('/', max(last_received_at), max(last_data_at)) FROM {_table(Source)}
          WHERE customer_id = %(customer)s OR shared),
        {_per_service(Outage, "coalesce(ended_at, started_at)")},
        {_per_service(MaintenanceWindow, "ends_at")},
        {_per_service(ContinuityIncident, "coalesce(recovered_at, started_at)")},
        {_per_service(ErrorEvent)},
        {_per_service(Measurement)},
        (SELECT concat_ws('/', count(*), max(changed_at)) FROM {_table(Ticket)}
          WHERE agreement_id = %(agreement)s OR (agreement_id IS NULL
            AND customer_id = %(customer)s AND service_id IN (SELECT id FROM svc))),
        (SELECT concat_ws('/', count(*), max(applied_at)) FROM {_table(PeriodCorrection)}
          WHERE agreement_id = %(agreement)s)
    )
    """
    params = {
        "names": list(service_names),
        "agreement": agreement.pk,
        "customer": agreement.customer_id,
    }
    if connection.vendor != "postgresql":  # make run's embedded SQLite: the same, slower
        return _digest(_portable(agreement, service_names))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        mark = cursor.fetchone()[0] or ""
    return _digest(mark)


def _digest(mark: str) -> str:
    return hashlib.sha256(mark.encode()).hexdigest()[:16]


def _portable(agreement: Agreement, service_names: list[str]) -> str:
    """The same stamps and counters through the ORM (one query each), for SQLite."""
    services = set(Service.objects.filter(name__in=service_names).values_list("pk", flat=True))
    services |= set(agreement.services.values_list("pk", flat=True))
    found = [
        Source.objects.filter(Q(customer_id=agreement.customer_id) | Q(shared=True)).aggregate(
            a=Max("last_received_at"), b=Max("last_data_at")
        )
    ]
    for model, ends in (
        (Outage, "ended_at"),
        (MaintenanceWindow, "ends_at"),
        (ContinuityIncident, "recovered_at"),
        (ErrorEvent, None),
        (Measurement, None),
    ):
        extra = {"ends": Max(ends), "n_ends": Count(ends)} if ends else {}
        found.append(
            model.objects.filter(service_id__in=services).aggregate(
                n=Count("pk"), top=Max("pk"), **extra
            )
        )
    found.append(
        Ticket.objects.filter(
            Q(agreement=agreement)
            | Q(agreement__isnull=True, customer_id=agreement.customer_id, service_id__in=services)
        ).aggregate(n=Count("pk"), at=Max("changed_at"))
    )
    found.append(
        PeriodCorrection.objects.filter(agreement=agreement).aggregate(
            n=Count("pk"), at=Max("applied_at")
        )
    )
    return repr(found)
