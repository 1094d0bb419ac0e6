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
  current periods counted for the customer (its own sources' and the shared ones) and the
  sources whose data stopped;
* for the provider, today's date: reviews and expiries say "in 12 days".

Countdowns ("2 h left", "breached 3 d ago") are not in it: the page carries their deadlines
in ``<time datetime>`` and static/js/dashboard.js counts in the browser, so time passing
alone never makes a poll answer 200.

The query is written out in SQL rather than composed from querysets: composing and compiling
a dozen querysets cost more than the whole poll may (the goal is an unchanged poll in about
twice a trivial view). It is scoped like the selectors: a customer's parts filter on its
organisation (``customer_id``), and every list is the same ``LATERAL … LIMIT`` walk of the
same index as the page's own query (``recent``), so the hash covers exactly the rows shown.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from agreements.models import Review
from agreements.terms import MONITORED_STATES
from monitoring.models import Status
from reporting.selectors.breaches import (
    BREACH_HISTORY,
    OPEN_BREACHES,
    OPEN_TICKETS,
    TICKETS_AT_RISK,
)
from reporting.selectors.dashboards import DELIVERY_PROBLEMS, REVIEW_DAYS
from reporting.selectors.recent import BREACH_COUNT_CAP, customer_scope
from sla_portal.core.models import Notification, User


def _hash(sql: str) -> str:
    """A scalar subquery: the md5 of every row of ``sql``, whatever their order."""
    return f"(SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM ({sql}) r)"


# ``%(org)s`` is NULL for provider staff (every organisation), else the customer's id.
SCOPE = "(%(org)s::bigint IS NULL OR {alias}.customer_id = %(org)s)"

MONITORED = (
    "SELECT a.id FROM agreements_agreement a WHERE a.status = ANY(%(monitored)s)"
    " AND a.in_force_version_id IS NOT NULL AND " + SCOPE.format(alias="a")
)

AGREEMENTS = _hash(
    "SELECT a.id, a.status, a.updated_at, a.in_force_version_id, a.title, a.reference,"
    " a.effective_from, a.effective_to, EXISTS (SELECT 1 FROM agreements_agreementversion v"
    "  WHERE v.agreement_id = a.id AND v.finalized_at IS NOT NULL)"
    " FROM agreements_agreement a WHERE " + SCOPE.format(alias="a")
)

# The sources whose rows the timeline draws (monitoring.models.ownership): the customer's own and
# the provider's shared ones, so another customer's outage of a shared service moves nothing here.
COUNTED = "SELECT s.id FROM monitoring_source s WHERE s.shared OR " + SCOPE.format(alias="s")

CUSTOMER = f"""
WITH ag AS MATERIALIZED ({MONITORED}),
cur AS MATERIALIZED (
    SELECT p.id, p.metric, p.period_start FROM monitoring_periodresult p
    WHERE p.agreement_id IN (SELECT id FROM ag) AND {SCOPE.format(alias="p")}
      AND p.period_start <= %(now)s AND p.period_end > %(now)s),
since AS (SELECT min(period_start) AS at FROM cur WHERE metric = 'availability'),
cnt AS MATERIALIZED ({COUNTED}),
svc AS MATERIALIZED (
    SELECT s.agreement_id, s.service_id FROM agreements_agreement_services s
    WHERE s.agreement_id IN (SELECT id FROM ag)),
outs AS MATERIALIZED (
    SELECT o.id, o.started_at, o.ended_at, o.source_id FROM monitoring_outage o
    WHERE o.service_id IN (SELECT service_id FROM svc) AND o.source_id IN (SELECT id FROM cnt)
      AND (o.ended_at IS NULL OR o.ended_at > (SELECT at FROM since)))
SELECT md5(concat_ws('#', {AGREEMENTS},
  {
    _hash(
        "SELECT s.agreement_id, s.service_id, v.name FROM svc s"
        " JOIN agreements_service v ON v.id = s.service_id"
    )
},
  {
    _hash(
        "SELECT p.id, p.evaluated_at, p.closed_at, p.status, p.value"
        " FROM monitoring_periodresult p WHERE p.agreement_id IN (SELECT id FROM ag)"
        " AND " + SCOPE.format(alias="p")
    )
},
  {_hash("SELECT id FROM cur")},
  {_hash("SELECT * FROM outs")},
  {
    _hash(
        "SELECT id, stale_at FROM monitoring_source WHERE stale_at <= %(now)s"
        " AND id IN (SELECT source_id FROM outs WHERE ended_at IS NULL)"
    )
},
  {
    _hash(
        "SELECT m.id, m.starts_at, m.ends_at, m.title FROM monitoring_maintenancewindow m"
        " WHERE m.service_id IN (SELECT service_id FROM svc)"
        " AND m.source_id IN (SELECT id FROM cnt)"
        " AND m.ends_at > (SELECT at FROM since)"
    )
},
  {
    _hash(
        "SELECT b.* FROM ag CROSS JOIN LATERAL (SELECT b.id, b.level, b.closed_at,"
        " b.root_cause_at, b.value_text FROM monitoring_breach b WHERE b.agreement_id = ag.id"
        " AND b.withdrawn_at IS NULL AND "
        + SCOPE.format(alias="b")
        + " ORDER BY b.opened_at DESC, b.id DESC"
        " LIMIT %(breaches)s) b"
    )
},
  {
    _hash(
        "SELECT t.* FROM ag CROSS JOIN LATERAL (SELECT t.id, t.state, t.threshold_due_at,"
        " t.due_at FROM monitoring_tickettimer t WHERE t.agreement_id = ag.id"
        " AND t.stopped_at IS NULL AND "
        + SCOPE.format(alias="t")
        + " ORDER BY t.threshold_due_at ASC NULLS LAST, t.id LIMIT %(tickets)s) t"
    )
},
  {
    _hash(
        "SELECT ag.id, (SELECT count(*) FROM monitoring_tickettimer t"
        " WHERE t.agreement_id = ag.id AND t.stopped_at IS NULL AND "
        + SCOPE.format(alias="t")
        + "), (SELECT count(*) FROM (SELECT 1 FROM monitoring_breach b"
        " WHERE b.agreement_id = ag.id AND b.withdrawn_at IS NULL AND "
        + SCOPE.format(alias="b")
        + " ORDER BY b.opened_at DESC LIMIT %(cap)s) c) FROM ag"
    )
}
))"""

PROVIDER = f"""
WITH ag AS MATERIALIZED ({MONITORED})
SELECT md5(concat_ws('#', {AGREEMENTS},
  {
    _hash(
        "SELECT p.id, p.evaluated_at, p.status, p.value FROM monitoring_periodresult p"
        " WHERE p.agreement_id IN (SELECT id FROM ag)"
        " AND p.period_start <= %(now)s AND p.period_end > %(now)s"
    )
},
  {
    _hash(
        "SELECT b.id, b.level, b.value_text FROM monitoring_breach b"
        " WHERE b.closed_at IS NULL AND b.withdrawn_at IS NULL"
        " ORDER BY b.opened_at DESC, b.id DESC LIMIT %(open_breaches)s"
    )
},
  {
    _hash(
        "SELECT t.id, t.state, t.threshold_due_at, t.due_at FROM monitoring_tickettimer t"
        " WHERE t.stopped_at IS NULL AND NOT (t.state = %(breached)s)"
        " ORDER BY t.threshold_due_at ASC NULLS LAST, t.id LIMIT %(at_risk)s"
    )
},
  (SELECT count(*) FROM monitoring_breach b
   WHERE b.closed_at IS NULL AND b.withdrawn_at IS NULL)::text,
  (SELECT count(*) FROM monitoring_tickettimer t
   WHERE t.stopped_at IS NULL AND NOT (t.state = %(breached)s))::text,
  {
    _hash(
        "SELECT r.id, r.status, r.due_date FROM agreements_review r"
        " WHERE r.status <> %(decided)s AND r.due_date <= %(horizon)s"
    )
},
  {
    _hash(
        "SELECT n.id, n.status, n.attempts, n.last_error FROM core_notification n"
        " WHERE n.status = %(failed)s OR (n.status = %(pending)s AND n.attempts > 0)"
        " ORDER BY n.created_at DESC, n.id DESC LIMIT %(problems)s"
    )
},
  %(today)s
))"""


def dashboard_fingerprint(user: User, now: datetime | None = None) -> str:
    """A short hash of everything the user's dashboard shows, from one query: equal
    fingerprints mean equal pages (up to the countdowns the browser keeps current)."""
    now = now or timezone.now()
    org = customer_scope(user)
    kind = "p" if user.is_provider else f"c{org}"
    if connection.vendor != "postgresql":
        # The query is PostgreSQL's (LATERAL, arrays, casts). On the embedded SQLite of
        # `make run` there is no fingerprint: each one differs, so every poll renders the page
        # (slower, never stale).
        return f"{kind}-{uuid.uuid4().hex[:16]}"
    params = {"org": org, "now": now, "monitored": list(MONITORED_STATES)}
    if user.is_provider:
        today = timezone.localdate(now)
        sql = PROVIDER
        params |= {
            "open_breaches": OPEN_BREACHES,
            "at_risk": TICKETS_AT_RISK,
            "breached": Status.BREACHED,
            "decided": Review.Status.DECIDED,
            "horizon": today + timedelta(days=REVIEW_DAYS),
            "failed": Notification.Status.FAILED,
            "pending": Notification.Status.PENDING,
            "problems": DELIVERY_PROBLEMS,
            "today": today.isoformat(),
        }
    else:
        sql = CUSTOMER
        params |= {"breaches": BREACH_HISTORY, "tickets": OPEN_TICKETS, "cap": BREACH_COUNT_CAP + 1}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (digest,) = cursor.fetchone()
    return f"{kind}-{digest[:16]}"
