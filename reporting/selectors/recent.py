"""The few newest breaches and nearest deadlines the dashboards show, read through indexes.

A customer with a million tickets and half a million breaches must cost the dashboard what
one with ten costs: each list is the top N *per agreement*, taken with ``LATERAL (… ORDER BY
… LIMIT N)`` so PostgreSQL walks each agreement's index (``breach_agreement_opened``,
``timer_open_due``) and stops after N rows, never numbering or sorting the whole history.
The totals beside them are counts; the breach total is capped (``BREACH_COUNT_CAP``), as a
dashboard only needs to say "more than a thousand" and the history page has the rest.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from monitoring.models import Breach, Status, TicketTimer
from sla_portal.core.models import User

BREACH_COUNT_CAP = 1000


def customer_scope(user: User) -> int | None:
    """The organisation id a raw query must filter on, or None when the user sees every
    organisation (provider staff, superusers). Raw queries here also take only agreement
    ids of ``monitored_agreements(user)``; the extra filter keeps them scoped on their own."""
    if user.is_superuser or user.is_provider:
        return None
    return user.organisation_id if user.organisation_id else -1


def _driver(agreements: list[int] | QuerySet) -> tuple[str, list]:
    """The agreements to go through: a list of ids, or a queryset of ``pk`` values (so the
    fingerprint can name them inside its one query)."""
    if isinstance(agreements, QuerySet):
        sql, params = agreements.values("pk").query.sql_with_params()
        return f"({sql}) AS a(id)", list(params)
    return "unnest(%s::bigint[]) AS a(id)", [list(agreements)]


def _portable_top(
    queryset: QuerySet, agreement_ids: list[int] | QuerySet, order: tuple, per_agreement: int
) -> list[int]:
    """The same top ``per_agreement`` rows per agreement, one small query per agreement: for
    the embedded SQLite of ``make run``, which has neither ``LATERAL`` nor arrays. Demo
    data holds a handful of agreements; production runs on PostgreSQL."""
    if isinstance(agreement_ids, QuerySet):
        agreement_ids = list(agreement_ids.values_list("pk", flat=True))
    found: list[int] = []
    for agreement_id in agreement_ids:
        rows = queryset.filter(agreement_id=agreement_id).order_by(*order)
        found += rows.values_list("id", flat=True)[:per_agreement]
    return found


def _scope(alias: str, user: User) -> tuple[str, list]:
    org = customer_scope(user)
    if org is None:
        return "", []
    return f" AND {alias}.customer_id = %s", [org]


def latest_breaches(
    user: User, agreement_ids: list[int] | QuerySet, per_agreement: int
) -> QuerySet[Breach]:
    """The newest ``per_agreement`` breaches of each agreement, newest first, with what the
    dashboard prints of them (ticket, period)."""
    visible = Breach.objects.visible_to(user)
    if connection.vendor != "postgresql":
        ids = _portable_top(
            visible.filter(withdrawn_at__isnull=True),
            agreement_ids,
            ("-opened_at", "-id"),
            per_agreement,
        )
        return (
            visible.filter(id__in=ids)
            .select_related("ticket", "period_result")
            .order_by("-opened_at", "-id")
        )
    driver, driver_params = _driver(agreement_ids)
    scope, params = _scope("b", user)
    lateral = (
        f"SELECT b.id FROM {driver} CROSS JOIN LATERAL ("
        " SELECT b.id FROM monitoring_breach b WHERE b.agreement_id = a.id"
        " AND b.withdrawn_at IS NULL" + scope + ""
        " ORDER BY b.opened_at DESC, b.id DESC LIMIT %s) b"
    )
    return (
        Breach.objects.visible_to(user)
        .filter(id__in=RawSQL(lateral, [*driver_params, *params, per_agreement]))
        .select_related("ticket", "period_result")
        .order_by("-opened_at", "-id")
    )


def nearest_timers(
    user: User, agreement_ids: list[int] | QuerySet, per_agreement: int
) -> QuerySet[TicketTimer]:
    """The ``per_agreement`` open ticket targets of each agreement whose threshold is nearest
    (paused ones, without a deadline, last), through the partial ``timer_open_due`` index."""
    order = (F("threshold_due_at").asc(nulls_last=True), "id")
    if connection.vendor != "postgresql":
        visible = TicketTimer.objects.visible_to(user)
        ids = _portable_top(
            visible.filter(stopped_at__isnull=True), agreement_ids, order, per_agreement
        )
        return visible.filter(id__in=ids).select_related("ticket", "agreement").order_by(*order)
    driver, driver_params = _driver(agreement_ids)
    scope, params = _scope("t", user)
    lateral = (
        f"SELECT t.id FROM {driver} CROSS JOIN LATERAL ("
        " SELECT t.id FROM monitoring_tickettimer t"
        " WHERE t.agreement_id = a.id AND t.stopped_at IS NULL" + scope + ""
        " ORDER BY t.threshold_due_at ASC NULLS LAST, t.id LIMIT %s) t"
    )
    return (
        TicketTimer.objects.visible_to(user)
        .filter(id__in=RawSQL(lateral, [*driver_params, *params, per_agreement]))
        .select_related("ticket", "agreement")
        .order_by(F("threshold_due_at").asc(nulls_last=True), "id")
    )


def with_counts(user: User, agreements: QuerySet) -> QuerySet:
    """``agreements`` annotated with ``open_ticket_count`` (a count over the partial
    open-timer index) and ``breach_count``, counted up to ``BREACH_COUNT_CAP`` + 1 along the
    ``(agreement, -opened_at)`` index: a history of 500,000 breaches is not counted on every
    page view."""
    table = agreements.model._meta.db_table
    scope_t, params_t = _scope("t", user)
    scope_b, params_b = _scope("b", user)
    return agreements.annotate(
        open_ticket_count=RawSQL(
            "SELECT count(*) FROM monitoring_tickettimer t"
            f" WHERE t.agreement_id = {table}.id AND t.stopped_at IS NULL" + scope_t,
            params_t,
        ),
        breach_count=RawSQL(
            "SELECT count(*) FROM (SELECT 1 FROM monitoring_breach b"
            f" WHERE b.agreement_id = {table}.id AND b.withdrawn_at IS NULL"
            + scope_b
            + " ORDER BY b.opened_at DESC LIMIT %s) c",
            [*params_b, BREACH_COUNT_CAP + 1],
        ),
    )


def open_timers_at_risk(user: User) -> QuerySet[TicketTimer]:
    """Open ticket targets not breached yet, the nearest threshold first (paused last): the
    partial ``timer_open_at_risk`` index walks them in this order."""
    return (
        TicketTimer.objects.visible_to(user)
        .filter(stopped_at__isnull=True)
        .exclude(state=Status.BREACHED)
        .select_related("ticket", "agreement")
        .order_by(F("threshold_due_at").asc(nulls_last=True), "id")
    )
