"""Reads for the status page: the page behind a link, its version stamp, and its content.

The public page is read by anyone holding the link, possibly by a crowd at once during an
outage. So a request does not build it: ``page_stamp`` answers, in one small SQL query, which
page a token opens and a stamp of everything the page shows; the view keeps the rendered page
in the cache under that stamp and answers conditional requests with 304. Only a changed stamp
(an incident posted, an outage opened or closed, a maintenance window announced, the page
edited) or the five-minute clock in it (open outages grow, today's bar moves, a maintenance
window starts) builds the page again, with ``page_content``.

Everything is scoped to the page's customer: its services are those of its agreements in
force (optionally narrowed to the page's chosen services), and monitoring rows count only
from the sources that count for that customer (its own and the provider's shared ones,
``monitoring.models.ownership``), exactly as the SLA's availability reads them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from agreements.models import Service
from agreements.terms import MONITORED_STATES
from monitoring.models import MaintenanceWindow, Outage, UptimeCheck
from monitoring.models.ownership import counted_for
from monitoring.silence import clip_open_outages
from monitoring.staleness import services_silence_each, stale_moments
from reporting.models import Incident, IncidentUpdate, StatusPage, Subscriber
from reporting.status_bars import DayBar, daily_uptime, overall_uptime
from sla_portal.core.models import User

# The uptime bars cover this many days, today included.
BAR_DAYS = 90
# The stamp includes the time rounded down to this, so what moves with time alone (an open
# outage's length, today's bar, a maintenance window starting) shows within it.
STAMP_MINUTES = 5
# Resolved incidents stay on the page this long.
RESOLVED_SHOWN_DAYS = 7
# Upcoming maintenance shown (the nearest first).
MAINTENANCE_SHOWN = 10


def token_hash(token: str) -> str:
    """The stored form of a link's token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def in_force_services_sql(customer: str | None = None) -> str:
    """SQL of the ids of the services named in the terms of the versions in force of agreements
    being monitored (of the customer ``customer``, an SQL expression of its id, or of any).

    The versions' snapshot, matched to services by their unique name, exactly as the SLA's
    evaluation reads them (``monitoring.evaluation.periods``); never the agreements' live
    service links, which during a renegotiation are the provider's unproposed working copy
    (``monitoring.models.ownership``). Takes no parameters: the states are constants. The
    one source of the status page's services, for the stamp, the page, the checks and forms.
    """
    states = ", ".join(f"'{state}'" for state in sorted(MONITORED_STATES))
    of_customer = f" AND a.customer_id = {customer}" if customer is not None else ""
    if connection.vendor != "postgresql":
        # The embedded SQLite of `make run`: json_each over the same path.
        return f"""
        SELECT v.id FROM agreements_service v WHERE v.name IN (
            SELECT j.value
            FROM agreements_agreement a
            JOIN agreements_agreementversion ver ON ver.id = a.in_force_version_id,
            json_each(ver.snapshot, '$.terms.services') j
            WHERE a.status IN ({states}){of_customer})"""
    return f"""
        SELECT v.id FROM agreements_service v WHERE v.name IN (
            SELECT jsonb_array_elements_text(ver.snapshot -> 'terms' -> 'services')
            FROM agreements_agreement a
            JOIN agreements_agreementversion ver ON ver.id = a.in_force_version_id
            WHERE a.status IN ({states}){of_customer})"""


def _services_sql(customer: str, page: str) -> str:
    """SQL of the service ids a page shows (``customer`` and ``page`` are SQL expressions of
    the customer's and the page's ids)."""
    return f"""
        SELECT s.id AS service_id FROM ({in_force_services_sql(customer)}) s
        WHERE (NOT EXISTS (SELECT 1 FROM reporting_statuspage_services c
                           WHERE c.statuspage_id = {page})
               OR s.id IN (SELECT c.service_id FROM reporting_statuspage_services c
                           WHERE c.statuspage_id = {page}))"""


def services_in_force(customer_id: int | None = None) -> QuerySet[Service]:
    """Services named by the versions in force of the customer's monitored agreements (of any
    customer's with None), by name: what a status page may show and an incident may name."""
    customer = None if customer_id is None else str(int(customer_id))
    return Service.objects.filter(pk__in=RawSQL(in_force_services_sql(customer), [])).order_by(
        "name"
    )


def _hash(sql: str) -> str:
    return f"(SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM ({sql}) r)"


# The counted sources' staleness: a source going quiet changes what the page says.
STALENESS = (
    "SELECT s.id, s.stale_at, s.silence_counts_as_down FROM monitoring_source s"
    " WHERE s.id IN (SELECT id FROM cnt)"
)
STAMP_SQL = f"""
WITH p AS MATERIALIZED (
    SELECT id, customer_id, name, updated_at FROM reporting_statuspage
    WHERE token_hash = %(hash)s AND enabled),
svc AS MATERIALIZED ({_services_sql("(SELECT customer_id FROM p)", "(SELECT id FROM p)")}),
cnt AS MATERIALIZED (
    SELECT s.id FROM monitoring_source s
    WHERE s.shared OR s.customer_id = (SELECT customer_id FROM p))
SELECT p.id, md5(concat_ws('#', p.name, p.updated_at, %(bucket)s,
  {_hash("SELECT v.id, v.name FROM agreements_service v WHERE v.id IN (SELECT * FROM svc)")},
  {_hash(STALENESS)},
  {
    _hash(
        "SELECT o.id, o.ended_at FROM monitoring_outage o"
        " WHERE o.service_id IN (SELECT * FROM svc) AND o.source_id IN (SELECT id FROM cnt)"
        " AND (o.ended_at IS NULL OR o.ended_at > %(since)s)"
    )
},
  {
    _hash(
        "SELECT m.id, m.starts_at, m.ends_at, m.title FROM monitoring_maintenancewindow m"
        " WHERE m.service_id IN (SELECT * FROM svc) AND m.source_id IN (SELECT id FROM cnt)"
        " AND m.ends_at > %(now)s"
    )
},
  {
    _hash(
        "SELECT i.id, i.updated_at FROM reporting_incident i"
        " WHERE i.customer_id = (SELECT customer_id FROM p)"
        " AND (i.resolved_at IS NULL OR i.resolved_at > %(resolved_since)s)"
    )
}
)) FROM p
"""


def page_stamp(token: str, now: datetime) -> tuple[int, str] | None:
    """The enabled page the token opens and the stamp of its content, or None: one query."""
    if connection.vendor != "postgresql":
        # The stamp query is PostgreSQL's. On the embedded SQLite of `make run` every stamp
        # differs, so the page is built on each request (slower, never stale).
        page = page_for_token(token)
        return (page.pk, uuid.uuid4().hex) if page else None
    bucket = now.replace(second=0, microsecond=0)
    bucket -= timedelta(minutes=bucket.minute % STAMP_MINUTES)
    with connection.cursor() as cursor:
        cursor.execute(
            STAMP_SQL,
            {
                "hash": token_hash(token),
                "bucket": bucket.isoformat(),
                "since": now - timedelta(days=BAR_DAYS),
                "now": now,
                "resolved_since": now - timedelta(days=RESOLVED_SHOWN_DAYS),
            },
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def page_for_token(token: str) -> StatusPage | None:
    """The enabled page a link's token opens (None for an unknown, rotated or disabled one)."""
    return (
        StatusPage.objects.select_related("customer")
        .filter(token_hash=token_hash(token), enabled=True)
        .first()
    )


def page_services(page: StatusPage) -> QuerySet[Service]:
    """The services the page shows: those of the customer's versions in force, narrowed to
    the page's chosen ones when it has any."""
    services = services_in_force(page.customer_id)
    chosen = list(page.services.values_list("pk", flat=True))
    if chosen:
        services = services.filter(pk__in=chosen)
    return services


def customer_services(customer_id: int) -> QuerySet[Service]:
    """Services a page of this customer may show (named by its versions in force)."""
    return services_in_force(customer_id)


# --- The page's content ------------------------------------------------------------------------

STATE_LABELS = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "maintenance": "Under maintenance",
    "outage": "Outage",
    "unknown": "No recent data",
}
# Worst first: a service shows the worst state any source of it gives.
STATE_ORDER = ("outage", "maintenance", "degraded", "unknown", "operational")


@dataclass
class ServiceStatus:
    service: Service
    state: str
    bars: list[DayBar]
    uptime: float | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass
class StatusContent:
    page: StatusPage
    now: datetime
    services: list[ServiceStatus]
    incidents: list[Incident]  # active ones, newest first, with ``shown_updates``
    resolved: list[Incident]  # resolved in the last days
    maintenance: list[MaintenanceWindow]  # active and upcoming, nearest first
    overall: str = field(default="operational")

    @property
    def overall_label(self) -> str:
        if self.overall == "operational":
            return "All systems operational"
        return {
            "degraded": "Some services are degraded",
            "maintenance": "Maintenance in progress",
            "outage": "Some services have an outage",
            "unknown": "Some services have no recent monitoring data",
        }[self.overall]


def _worst(states: list[str]) -> str:
    for state in STATE_ORDER:
        if state in states:
            return state
    return "operational"


def page_incidents(page: StatusPage, service_ids: list[int], now: datetime) -> QuerySet[Incident]:
    """The page's incidents: the customer's, on a service the page shows, active or resolved
    lately; with their updates, newest first."""
    return (
        Incident.objects.filter(customer_id=page.customer_id, services__in=service_ids)
        .filter(
            Q(resolved_at__isnull=True)
            | Q(resolved_at__gt=now - timedelta(days=RESOLVED_SHOWN_DAYS))
        )
        .distinct()
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.order_by("-posted_at", "-id"),
                to_attr="shown_updates",
            ),
            # Only the page's services: a page limited to some services names no other.
            Prefetch(
                "services",
                queryset=Service.objects.filter(pk__in=service_ids).order_by("name"),
                to_attr="shown_services",
            ),
        )
        .order_by("-started_at", "-id")
    )


def page_maintenance(
    page: StatusPage, service_ids: list[int], now: datetime
) -> QuerySet[MaintenanceWindow]:
    """Maintenance windows under way or to come on the page's services, nearest first."""
    return (
        MaintenanceWindow.objects.filter(
            counted_for(page.customer_id), service_id__in=service_ids, ends_at__gt=now
        )
        .select_related("service")
        .order_by("starts_at", "id")
    )


def page_content(page: StatusPage, now: datetime | None = None) -> StatusContent:
    """Everything the public page shows, read with a fixed number of queries for any number
    of services."""
    now = now or datetime.now(UTC)
    services = list(page_services(page))
    ids = [service.pk for service in services]
    counted = counted_for(page.customer_id)
    since = now - timedelta(days=BAR_DAYS)
    raw: dict[int, list[tuple[datetime, datetime | None, int | None]]] = {pk: [] for pk in ids}
    first_evidence: dict[int, datetime] = {}
    for service_id, started, ended, source_id in Outage.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=since), counted, service_id__in=ids
    ).values_list("service_id", "started_at", "ended_at", "source_id"):
        raw[service_id].append((started, ended, source_id))
    # As the SLA's availability does (monitoring.evaluation.periods): an open outage of a
    # source that went stale ends where its evidence ends; a service whose every source is
    # stale is silent from then on, unmeasured unless its source says silence counts as down.
    moments = stale_moments({source for rows in raw.values() for *_, source in rows}, now)
    outages = {pk: clip_open_outages(rows, moments) for pk, rows in raw.items()}
    unmeasured: dict[int, list[tuple[datetime, datetime]]] = {pk: [] for pk in ids}
    silent_ids = set()
    silences = services_silence_each(ids, now, page.customer_id)
    for service_id, silent in silences.items():
        if silent.silence.since >= now:
            continue
        if silent.counts_as_down:
            outages[service_id].append((silent.silence.since, None))
        else:
            unmeasured[service_id].append((silent.silence.since, now))
            silent_ids.add(service_id)
    # Each service's first evidence: indexed walks per service, inside one query.
    first_check = UptimeCheck.objects.filter(counted, service_id=OuterRef("pk")).order_by(
        "checked_at"
    )
    first_outage = Outage.objects.filter(counted, service_id=OuterRef("pk")).order_by("started_at")
    for service_id, *found in (
        Service.objects.filter(pk__in=ids)
        .annotate(
            first_check=Subquery(first_check.values("checked_at")[:1]),
            first_outage=Subquery(first_outage.values("started_at")[:1]),
        )
        .values_list("pk", "first_check", "first_outage")
    ):
        evidence = [moment for moment in found if moment is not None]
        if evidence:
            first_evidence[service_id] = min(evidence)

    incidents = list(page_incidents(page, ids, now))
    active = [incident for incident in incidents if incident.is_active]
    resolved = [incident for incident in incidents if not incident.is_active]
    maintenance = list(page_maintenance(page, ids, now)[:MAINTENANCE_SHOWN])

    statuses = []
    for service in services:
        states = []
        if any(ended is None for _, ended in outages[service.pk]):
            states.append("outage")
        if any(
            window.service_id == service.pk and window.starts_at <= now for window in maintenance
        ):
            states.append("maintenance")
        for incident in active:
            if any(affected.pk == service.pk for affected in incident.shown_services):
                states.append(incident.impact)
        if service.pk in silent_ids:
            states.append("unknown")
        bars = daily_uptime(
            outages[service.pk],
            first_evidence.get(service.pk),
            now,
            BAR_DAYS,
            unmeasured[service.pk],
        )
        statuses.append(ServiceStatus(service, _worst(states), bars, overall_uptime(bars)))
    return StatusContent(
        page=page,
        now=now,
        services=statuses,
        incidents=active,
        resolved=resolved,
        maintenance=maintenance,
        overall=_worst([status.state for status in statuses]),
    )


# --- The portal's reads ---------------------------------------------------------------------


def status_pages_visible_to(user: User) -> QuerySet[StatusPage]:
    """Status pages the user may see: the provider's staff all, a customer its own; each with
    ``active_subscribers``, the count of its confirmed subscribers still subscribed."""
    return (
        StatusPage.objects.visible_to(user)
        .select_related("customer")
        .annotate(
            active_subscribers=Count(
                "subscribers",
                filter=Q(
                    subscribers__confirmed_at__isnull=False,
                    subscribers__unsubscribed_at__isnull=True,
                ),
            )
        )
        .order_by("customer__name", "name", "id")
    )


def incidents_visible_to(user: User) -> QuerySet[Incident]:
    """Incidents the user may see, newest first: a customer only its organisation's."""
    return (
        Incident.objects.visible_to(user)
        .select_related("customer")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("name")),
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.select_related("posted_by").order_by(
                    "-posted_at", "-id"
                ),
                to_attr="shown_updates",
            ),
        )
        .order_by("-started_at", "-id")
    )


def active_subscribers(page_id: int) -> QuerySet[Subscriber]:
    """The page's confirmed subscribers that have not unsubscribed."""
    return Subscriber.objects.filter(
        page_id=page_id, confirmed_at__isnull=False, unsubscribed_at__isnull=True
    ).order_by("id")


def pages_showing(customer_id: int, service_ids: list[int]) -> list[StatusPage]:
    """The customer's enabled pages that show at least one of ``service_ids``."""
    wanted = set(service_ids)
    return [
        page
        for page in StatusPage.objects.filter(customer_id=customer_id, enabled=True)
        if wanted & set(page_services(page).values_list("pk", flat=True))
    ]
