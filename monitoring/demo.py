"""Demo monitoring data: Acme's Gold agreement in force, with tickets, checks and maintenance.

The month shows an error budget partly used (the availability target's: one outage this
month) and one run out (three failed transactions where Gold allows two), see
``docs/budgets.md``.

Everything goes in through the real paths (lifecycle services, ingest services), so the
worker evaluates it like any other data: timers run, periods fill, alerts go to ``var/mail``.
Times are relative to now, so a fresh demo always shows a live month.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from agreements.models import Agreement, Service
from agreements.services import lifecycle
from monitoring.ingest.events import errors_ingest
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import Source
from sla_portal.core.models import User

DEMO_AGREEMENT = "SLA-DEMO-0001"
CHECK_EVERY = timedelta(minutes=10)


def seed_demo_monitoring(now: datetime | None = None) -> Agreement | None:
    """Put the Gold demo agreement in force and feed it a month and a half of data.

    Idempotent: does nothing once the demo service desk source exists.
    """
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    agreement = Agreement.objects.filter(reference=DEMO_AGREEMENT).first()
    manager = User.objects.filter(username="manager").first()
    approver = User.objects.filter(username="acme-approver").first()
    if agreement is None or manager is None or approver is None:
        return None
    if Source.objects.filter(customer=agreement.customer, name="Acme service desk").exists():
        return agreement
    if agreement.status == Agreement.Status.DRAFT:
        version = lifecycle.propose(agreement, manager, note="Demo: the agreed Gold terms.")
        lifecycle.accept(agreement, approver, version.number)
        lifecycle.sign(agreement, manager)
        lifecycle.sign(agreement, approver)
        agreement.refresh_from_db()
    desk = Source.objects.create(
        customer=agreement.customer, name="Acme service desk", kind=Source.Kind.SERVICENOW
    )
    monitor = Source.objects.create(
        customer=agreement.customer, name="Acme uptime monitor", kind=Source.Kind.UPTIME_KUMA
    )
    tickets_ingest(desk, demo_tickets(agreement.reference, now))
    for service in agreement.services.all():
        checks_ingest(monitor, service, demo_checks(service, now))
    portal = agreement.services.order_by("name").first()
    maintenance_ingest(monitor, demo_maintenance(portal.name, now))
    errors_ingest(monitor, demo_errors(portal.name, now))
    return agreement


def demo_tickets(reference: str, now: datetime) -> list[dict]:
    """Forty closed tickets over six weeks, most on time and a few late, and four open ones
    at different distances from their deadlines."""
    rng = random.Random(2026)
    # (priority, typical response minutes, typical resolution hours) for the Gold targets.
    shapes = [("P1", 10, 2), ("P2", 20, 5), ("P3", 90, 20), ("P4", 300, 60)]
    rows = []
    for number in range(1, 41):
        priority, response, resolution = shapes[rng.choice([0, 1, 1, 2, 2, 2, 3, 3])]
        opened = now - timedelta(days=rng.uniform(1, 45))
        late = rng.random() < 0.12
        responded = opened + timedelta(
            minutes=response * rng.uniform(0.3, 1.0) * (3 if late else 1)
        )
        resolved = responded + timedelta(
            hours=resolution * rng.uniform(0.2, 0.9) * (2 if late else 1)
        )
        rows.append(
            {
                "external_id": f"INC{10000 + number}",
                "agreement": reference,
                "priority": priority,
                "category": rng.choice(["Login", "Orders", "Reports", "Integration"]),
                "opened_at": opened.isoformat(),
                "first_response_at": responded.isoformat(),
                "resolved_at": min(resolved, now).isoformat(),
                "state": "resolved",
            }
        )
    for number, (priority, minutes_ago) in enumerate(
        [("P1", 8), ("P2", 50), ("P3", 100), ("P4", 30)], start=41
    ):
        rows.append(
            {
                "external_id": f"INC{10000 + number}",
                "agreement": reference,
                "priority": priority,
                "category": "Orders",
                "opened_at": (now - timedelta(minutes=minutes_ago)).isoformat(),
                "state": "open",
            }
        )
    return rows


def demo_checks(service: Service, now: datetime) -> list[dict]:
    """A check every ten minutes for forty days, with two outages this month."""
    start = now - timedelta(days=40)
    outages = [
        (now - timedelta(days=9, hours=3), timedelta(minutes=50)),
        (now - timedelta(days=2, hours=7), timedelta(minutes=20)),
    ]
    rows = []
    at = start
    while at <= now:
        down = any(begin <= at < begin + length for begin, length in outages)
        rows.append(
            {
                "checked_at": at.isoformat(),
                "status": "down" if down else "up",
                "response_ms": None if down else 180 + (at.minute * 7) % 90,
            }
        )
        at += CHECK_EVERY
    return rows


def demo_maintenance(service: str, now: datetime) -> list[dict]:
    """An announced maintenance window last week, announced well ahead."""
    starts = (now - timedelta(days=6)).replace(hour=2, minute=0)
    return [
        {
            "external_id": "MW-2026-01",
            "service": service,
            "title": "Database upgrade",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "announced_at": (starts - timedelta(days=14)).isoformat(),
        }
    ]


def demo_errors(service: str, now: datetime) -> list[dict]:
    """Three failed transactions this month (Gold allows two, five at the threshold), at a
    quarter, a half and three quarters of the month so far, so the third one runs the error
    budget out whatever day the demo is loaded."""
    month_start = now.replace(day=1, hour=0, minute=0)
    so_far = now - month_start
    return [
        {
            "external_id": f"TX-FAIL-{number}",
            "service": service,
            "category": "Failed transactions",
            "occurred_at": (month_start + so_far * number / 4).isoformat(),
        }
        for number in (1, 2, 3)
    ]
