"""A renegotiation with history: Acme's Gold agreement in force (99.9 % availability), three
months of checks of its portal with two outages, and a counter-proposal of 99.95 %."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agreements.services import lifecycle
from agreements.services import reviews as review_services
from monitoring.models import Outage, Source, UptimeCheck

JAN = datetime(2026, 1, 1, tzinfo=UTC)
# February: 30 minutes down (99.926 %: misses 99.95, meets 99.9); March: 90 minutes
# (99.798 %: misses both).
OUTAGES = (
    (datetime(2026, 2, 10, 8, 0, tzinfo=UTC), 30),
    (datetime(2026, 3, 5, 14, 0, tzinfo=UTC), 90),
)


def stricter_availability(agreement, target="99.95") -> None:
    """The working copy asks for ``target`` % and pays 3 % below it (on top of the bands)."""
    row = agreement.targets.get(metric="availability")
    row.target_value = Decimal(target)
    row.save()
    agreement.credit_bands.create(
        metric="availability", achieved_below=Decimal(target), credit_percent=Decimal("3")
    )


@pytest.fixture
def portal_history(active_acme_agreement, services) -> Source:
    """Checks every six hours from January to March 2026 and the two outages."""
    portal = services["portal"]
    source = Source.objects.create(
        customer=active_acme_agreement.customer, name="Portal monitor", timezone="UTC"
    )
    UptimeCheck.objects.bulk_create(
        UptimeCheck(
            service=portal, source=source, checked_at=JAN + timedelta(hours=6 * n), status="up"
        )
        for n in range(4 * 90)
    )
    for start, minutes in OUTAGES:
        Outage.objects.create(
            service=portal,
            source=source,
            started_at=start,
            ended_at=start + timedelta(minutes=minutes),
        )
    return source


@pytest.fixture
def counter_proposal(active_acme_agreement, portal_history, alice_manager):
    """The agreement under renegotiation with version 2 (99.95 %) proposed; version 1
    (99.9 %) stays in force."""
    agreement = active_acme_agreement
    review_services.review_start(agreement, alice_manager)
    review_services.review_decide(
        agreement, alice_manager, "renegotiate", findings="March outage", root_causes="",
        lessons="", actions=[],
    )  # fmt: skip
    agreement.refresh_from_db()
    stricter_availability(agreement)
    lifecycle.propose(agreement, alice_manager, note="Stricter availability")
    agreement.refresh_from_db()
    return agreement


__all__ = ["counter_proposal", "portal_history", "stricter_availability"]
