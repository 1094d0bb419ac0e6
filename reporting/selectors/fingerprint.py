"""A fingerprint of the data a dashboard shows, read in one small query before rendering.

The live poll (``/dashboard/live/?v=…``) compares it with the one the browser holds and
answers ``204 No Content`` when they match, without building or rendering the page. So the
fingerprint covers exactly what the page is made of, and nothing that moves by itself:

* the agreements the user may see (state, version in force, dates, title, services), which
  also decide the "signed, not in force yet" list, the lifecycle stages and the expiries;
* the period results behind the panels (each row's evaluation time, value, status and
  closing) and *which* periods are current: at a period boundary the current period changes
  even when no row was written, and the page with it;
* the rows of every bounded list exactly as listed (the newest breaches per agreement, the
  nearest open deadlines, the open breaches, the tickets at risk, the delivery problems) and
  the counts beside them;
* on the customer's availability timeline, the outages and maintenance windows of the
  current periods and the sources whose data stopped;
* for the provider, today's date: reviews and expiries say "in 12 days".

Countdowns ("2 h left", "breached 3 d ago") are not in it: the page carries their deadlines
in ``<time datetime>`` and static/js/dashboard.js counts in the browser, so time passing
alone never makes a poll answer 200.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from agreements.models import Agreement, Review
from agreements.selectors import agreements_visible_to
from monitoring.models import MaintenanceWindow, Outage, PeriodResult, Source
from sla_portal.core.models import User
from sla_portal.core.notifications import pending_problems

from . import recent


def _part(queryset: QuerySet) -> tuple[str, list]:
    """A scalar subquery hashing every row of ``queryset`` (order-independent)."""
    sql, params = queryset.query.sql_with_params()
    return (
        f"(SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY s::text), '')) FROM ({sql}) s)",
        list(params),
    )


def _raw_part(sql: str, params: list) -> tuple[str, list]:
    return (
        f"(SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY s::text), '')) FROM ({sql}) s)",
        params,
    )


def _agreements(user: User) -> QuerySet:
    # ``agreements_visible_to`` adds ``has_final_version``: whether every signatory signed.
    return agreements_visible_to(user).values_list(
        "id",
        "status",
        "updated_at",
        "in_force_version_id",
        "has_final_version",
        "title",
        "reference",
        "effective_from",
        "effective_to",
    )


def _customer_parts(user: User, now: datetime, ids: QuerySet) -> list:
    from . import BREACH_HISTORY, OPEN_TICKETS  # the page's own limits

    periods = PeriodResult.objects.visible_to(user).filter(agreement_id__in=ids)
    current = periods.filter(period_start__lte=now, period_end__gt=now)
    # The timeline draws the current availability periods: what happened since the earliest.
    since = Subquery(
        current.filter(metric="availability").order_by("period_start").values("period_start")[:1]
    )
    services = Agreement.services.through.objects.filter(agreement_id__in=ids)
    service_ids = services.values("service_id")
    outages = (
        Outage.objects.visible_to(user)
        .filter(service_id__in=service_ids)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
    )
    return [
        _part(services.values_list("agreement_id", "service_id", "service__name")),
        _part(periods.values_list("id", "evaluated_at", "closed_at", "status", "value")),
        _part(current.values_list("id")),
        _part(outages.values_list("id", "started_at", "ended_at", "source_id")),
        _part(
            Source.objects.filter(
                pk__in=outages.filter(ended_at__isnull=True).values("source_id"), stale_at__lte=now
            ).values_list("pk", "stale_at")
        ),
        _part(
            MaintenanceWindow.objects.visible_to(user)
            .filter(service_id__in=service_ids, ends_at__gt=since)
            .values_list("id", "starts_at", "ends_at", "title")
        ),
        _part(
            recent.latest_breaches(user, ids, BREACH_HISTORY).values_list(
                "id", "level", "closed_at", "root_cause_at", "value_text"
            )
        ),
        _part(
            recent.nearest_timers(user, ids, OPEN_TICKETS).values_list(
                "id", "state", "threshold_due_at", "due_at"
            )
        ),
        _raw_part(*recent.counts_sql(user, ids)),
    ]


def _provider_parts(user: User, now: datetime, ids: QuerySet) -> list:
    from . import DELIVERY_PROBLEMS, OPEN_BREACHES, REVIEW_DAYS, TICKETS_AT_RISK, open_breaches

    today = timezone.localdate(now)
    current = PeriodResult.objects.visible_to(user).filter(
        agreement_id__in=ids, period_start__lte=now, period_end__gt=now
    )
    breaches = open_breaches(user)
    at_risk = recent.open_timers_at_risk(user)
    reviews = (
        Review.objects.visible_to(user)
        .exclude(status=Review.Status.DECIDED)
        .filter(due_date__lte=today + timedelta(days=REVIEW_DAYS))
    )
    problems = pending_problems() if user.is_provider else pending_problems().none()
    counts = f"SELECT ({_count_sql(breaches)[0]}), ({_count_sql(at_risk)[0]})"
    return [
        _part(current.values_list("id", "evaluated_at", "status", "value")),
        _part(
            breaches.order_by("-opened_at")[:OPEN_BREACHES].values_list("id", "level", "value_text")
        ),
        _part(at_risk[:TICKETS_AT_RISK].values_list("id", "state", "threshold_due_at", "due_at")),
        _raw_part(counts, _count_sql(breaches)[1] + _count_sql(at_risk)[1]),
        _part(reviews.values_list("id", "status", "due_date")),
        _part(problems[:DELIVERY_PROBLEMS].values_list("id", "status", "attempts", "last_error")),
        ("%s", [today.isoformat()]),
    ]


def _count_sql(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    return f"SELECT count(*) FROM ({sql}) c", list(params)


def dashboard_fingerprint(user: User, now: datetime | None = None) -> str:
    """A short hash of everything the user's dashboard shows, from one query: equal
    fingerprints mean equal pages (up to the countdowns the browser keeps current)."""
    from . import monitored_agreements

    now = now or timezone.now()
    ids = monitored_agreements(user).values("pk")
    parts = [_part(_agreements(user))]
    if user.is_provider:
        parts += _provider_parts(user, now, ids)
    else:
        parts += _customer_parts(user, now, ids)
    sql = "SELECT md5(concat_ws('#', " + ", ".join(p for p, _ in parts) + "))"
    params = [param for _, ps in parts for param in ps]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (digest,) = cursor.fetchone()
    kind = "p" if user.is_provider else f"c{recent.customer_scope(user)}"
    return f"{kind}-{digest[:16]}"
