"""Writes of the fault tests, run as a process of its own on the private services.

The fault tests' pytest process stays on the test run's own database; what a scenario writes
into its private database goes through the portal's services, in this process, started with
that database's environment (``tests.support.fault_scenario.Stack.driver``):

``python -m tests.support.fault_driver seed`` — the Acme agreement with a P1 first-response
target of ``TARGET_SECONDS`` (warning at half of it) and threshold of ``THRESHOLD_SECONDS``,
24x7, signed by both sides, an explicit escalation matrix and the Acme desk source.

``python -m tests.support.fault_driver open PREFIX COUNT`` — COUNT P1 tickets opened now.

``python -m tests.support.fault_driver bulk PREFIX COUNT BATCH`` — COUNT P4 tickets (targets
hours away) in batches of BATCH, as a service desk's bulk upload sends them.

Each prints one JSON line on stdout with what the test needs (ids, moments, durations).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

TARGET_SECONDS = 12
THRESHOLD_SECONDS = 24
WARNING_PERCENT = 50
ONCALL = "oncall@acme.example"
SOURCE_NAME = "Acme desk"
# Who hears which level: 1 + 2 + 4 emails per ticket that goes all the way.
MATRIX = {
    "warning": ["tom_team"],
    "missed_target": ["tom_team", "alice_manager"],
    "breached": ["tom_team", "alice_manager", "carol_customer", ONCALL],
}
# Each level's moment after the ticket opened, in seconds (24x7: wall-clock seconds).
LEVEL_OFFSETS = {
    "warning": TARGET_SECONDS * WARNING_PERCENT / 100,
    "missed_target": TARGET_SECONDS,
    "breached": THRESHOLD_SECONDS,
}


def seed() -> dict:
    from django.utils import timezone

    from agreements.demo import seed_calendars, seed_services, seed_tiers
    from agreements.models import Target
    from agreements.services import lifecycle
    from agreements.services.drafting import agreement_create_from_tier
    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.models import EscalationContact, Source
    from sla_portal.core.models import Notification, Organisation, Role
    from tests.support.actors import make_user
    from tests.support.agreements import complete_for_proposal

    provider = Organisation.objects.create(
        name="Northwind IT Services", slug="northwind", kind=Organisation.Kind.PROVIDER
    )
    acme = Organisation.objects.create(name="Acme Logistics", slug="acme")
    alice = make_user("alice_manager", provider, Role.SERVICE_MANAGER)
    people = {
        "alice_manager": alice,
        "tom_team": make_user("tom_team", provider, Role.PROVIDER_TEAM),
        "carol_customer": make_user("carol_customer", acme, Role.CUSTOMER_APPROVER),
    }
    tiers = seed_tiers(seed_calendars())
    services = seed_services(alice)
    agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Customer Portal – Gold",
        services=[services["portal"]],
        effective_from=timezone.localdate(),
        effective_to=timezone.localdate() + timedelta(days=400),
        created_by=alice,
    )
    # Response targets are minutes with three decimals: whole multiples of 3 s are exact.
    target = Target.objects.get(agreement=agreement, metric="response_time", priority="P1")
    target.target_value = Decimal(TARGET_SECONDS) / 60
    target.threshold_value = Decimal(THRESHOLD_SECONDS) / 60
    target.unit = "minutes"
    target.warning_percent = Decimal(WARNING_PERCENT)
    target.calendar = None
    target.save()
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)
    lifecycle.accept(agreement, people["carol_customer"], version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, people["carol_customer"])
    agreement.refresh_from_db()
    assert agreement.status == "active", agreement.status
    evaluate_periods(timezone.now(), [agreement.pk])
    recipients = {}
    for level, names in MATRIX.items():
        recipients[level] = []
        for name in names:
            user = people.get(name)
            contact = {"user": user} if user else {"email": name}
            EscalationContact.objects.create(agreement=agreement, level=level, **contact)
            recipients[level].append(user.email if user else name)
    source = Source.objects.create(customer=acme, name=SOURCE_NAME, timezone="UTC")
    # The lifecycle's own emails (proposed, accepted, signed …) are not what a scenario counts.
    Notification.objects.all().delete()
    return {"agreement": agreement.reference, "source": source.pk, "recipients": recipients}


def _ingest(rows: list[dict]) -> None:
    from agreements.models import Agreement
    from monitoring.ingest.tickets import tickets_ingest
    from monitoring.models import Source

    source = Source.objects.get(name=SOURCE_NAME)
    reference = Agreement.objects.get().reference
    for row in rows:
        row["agreement"] = reference
    result = tickets_ingest(source, rows)
    assert result.created == len(rows), result


def open_tickets(prefix: str, count: int) -> dict:
    """COUNT P1 tickets opened now, in one batch; their ids and the opening moment."""
    opened_at = datetime.now(UTC)
    ids = [f"{prefix}-{n}" for n in range(1, count + 1)]
    _ingest([{"external_id": i, "priority": "P1", "opened_at": opened_at.isoformat()} for i in ids])
    return {"tickets": ids, "opened_at": opened_at.isoformat()}


def bulk(prefix: str, count: int, batch: int) -> dict:
    """COUNT P4 tickets in batches of BATCH; how long each batch took."""
    durations = []
    started = time.monotonic()
    for first in range(0, count, batch):
        opened_at = datetime.now(UTC).isoformat()
        rows = [
            {"external_id": f"{prefix}-{n}", "priority": "P4", "opened_at": opened_at}
            for n in range(first, min(first + batch, count))
        ]
        begun = time.monotonic()
        _ingest(rows)
        durations.append(round(time.monotonic() - begun, 3))
    return {"batches": durations, "seconds": round(time.monotonic() - started, 3)}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    command, *args = argv
    if command == "seed":
        result = seed()
    elif command == "open":
        result = open_tickets(args[0], int(args[1]))
    elif command == "bulk":
        result = bulk(args[0], int(args[1]), int(args[2]))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
