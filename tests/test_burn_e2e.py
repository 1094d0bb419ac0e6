"""Burn-rate alerts end to end: the API, a real worker, the deadline loop (``run_deadlines``),
PostgreSQL, Redis and SMTP (docs/burn-rates.md).

Both agreements measure availability at 99 % over a calendar month, round the clock, with
rules of their own short enough to watch (the default set works the same over hours):

* ``fast`` pages when the 40 s and 5 s rates both exceed 14.4: an outage opened at ``t``
  crosses it when 40 s x 1 % x 14.4 = 5.76 s are down, at ``t + 5.76 s``;
* ``slow`` warns when the 120 s and 20 s rates both exceed 2.

A fresh outage sent through the API must page within 2 s of ``t + 5.76 s``, stamped with
that moment, and once it ends, say "recovered" when the 5 s window falls back (it may hold
5 s x 1 % x 14.4 = 0.72 s of downtime: at ``end + 4.28 s``). A slow burn (1 s down in every
10 s for two minutes: rate 10) raises the warning and never the page.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from agreements.models import Agreement, Target
from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from monitoring.models import Alert, PeriodResult
from sla_portal.core.models import Notification
from tests.support.agreements import complete_for_proposal

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="a worker, the deadline loop and the test write at once: PostgreSQL only",
    ),
]

RULES = [
    {"name": "fast", "severity": "page", "long_seconds": 40, "short_seconds": 5, "factor": 14.4},
    {"name": "slow", "severity": "warn", "long_seconds": 120, "short_seconds": 20, "factor": 2},
]
BOUND = timedelta(seconds=2)
POLL = 0.05


def sign_with_short_rules(agreement: Agreement, alice, carol) -> Agreement:
    target = Target.objects.get(agreement=agreement, metric="availability")
    target.target_value = Decimal("99.000")
    target.threshold_value = Decimal("98.000")
    target.calendar = None
    target.burn_rules = RULES
    target.save()
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)
    lifecycle.accept(agreement, carol, version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, carol)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


def send_checks(source, service, checks: list[tuple[datetime, str]], user) -> None:
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        f"/api/sources/{source.pk}/checks/bulk/?service={service.pk}",
        [{"checked_at": at.isoformat(), "status": status} for at, status in checks],
        format="json",
    )
    assert response.status_code == 200, response.content[:500]


def wait_for_alert(timeout: float, **lookup) -> tuple[Alert, datetime]:
    """The alert matching ``lookup`` and when the test first saw it."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        alert = Alert.objects.filter(**lookup).first()
        if alert is not None:
            return alert, datetime.now(UTC)
        time.sleep(POLL)
    raise AssertionError(f"no alert {lookup} within {timeout} s")


def subjects(smtp_server) -> list[str]:
    return [str(message["Subject"]) for message in smtp_server.messages]


def test_fast_burn_pages_at_its_moment_and_recovers_slow_burn_only_warns(
    smtp_server,
    celery_worker_and_beat,
    mailer,
    acme_agreement,
    acme_desk,
    alice_manager,
    carol_customer,
    tiers,
    acme,
    services,
):
    now = datetime.now(UTC)
    month_end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    if month_end - now < timedelta(minutes=3):
        time.sleep((month_end - now).total_seconds() + 1)  # not across the period's change
    fast = sign_with_short_rules(acme_agreement, alice_manager, carol_customer)
    other = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Records – Gold",
        services=[services["records"]],
        effective_from=fast.effective_from,
        effective_to=fast.effective_to,
        created_by=alice_manager,
    )
    slow = sign_with_short_rules(other, alice_manager, carol_customer)

    # The slow burn: two minutes of history, 1 s down in every 10 s (10 % against 1 %).
    began = timezone.now() - timedelta(seconds=120)
    history = [(began - timedelta(minutes=5), "up")]
    for k in range(12):
        history += [
            (began + timedelta(seconds=10 * k), "down"),
            (began + timedelta(seconds=10 * k + 1), "up"),
        ]
    send_checks(acme_desk, services["records"], history, alice_manager)

    # The fast burn: up five minutes ago, down now.
    opened = timezone.now()
    send_checks(
        acme_desk,
        services["portal"],
        [(opened - timedelta(minutes=5), "up"), (opened, "down")],
        alice_manager,
    )
    page, seen = wait_for_alert(20, agreement=fast, burn_rule="fast", level="burn_page")
    expected = opened + timedelta(seconds=40 * 0.01 * 14.4)
    assert abs(page.reached_at - expected) < timedelta(milliseconds=5), (page.reached_at, expected)
    assert page.raised_at - expected <= BOUND, page.raised_at - expected
    assert seen - expected <= BOUND + timedelta(seconds=POLL), seen - expected

    # The outage ends: the fast rule recovers once its 5 s window holds at most 0.72 s down.
    ended = opened + timedelta(seconds=9)
    time.sleep(max(0.0, (ended - timezone.now()).total_seconds()))
    send_checks(acme_desk, services["portal"], [(ended, "up")], alice_manager)
    recovered, seen = wait_for_alert(20, agreement=fast, burn_rule="fast", level="burn_recovered")
    expected = ended + timedelta(seconds=5 - 5 * 0.01 * 14.4)
    assert abs(recovered.reached_at - expected) < timedelta(milliseconds=5)
    assert seen - expected <= BOUND + timedelta(seconds=POLL), seen - expected

    # The slow burn warned and never paged.
    warn, _ = wait_for_alert(10, agreement=slow, burn_rule="slow", level="burn_warn")
    assert "over 2 min" in warn.value_text
    assert not Alert.objects.filter(agreement=slow, level="burn_page").exists()
    row = PeriodResult.objects.get(pk=warn.period_result_id)
    fast_state = next(r for r in row.burn["rules"] if r["name"] == "fast")
    assert fast_state["long_rate"] < 14.4 and not fast_state["firing"]

    # Each fired once, by email through the escalation matrix.
    give_up = time.monotonic() + 15
    wanted = ("[PAGE]", "[RECOVERED]", "[WARN]")
    while time.monotonic() < give_up and not all(
        any(w in s for s in subjects(smtp_server)) for w in wanted
    ):
        time.sleep(0.1)
    found = subjects(smtp_server)
    assert all(any(w in s for s in found) for w in wanted), (
        found,
        list(
            Notification.objects.filter(kind__startswith="alert.").values_list(
                "kind", "recipient", "status", "last_error"
            )
        ),
        list(Alert.objects.values_list("level", "burn_rule", "emailed", "notified_at")),
    )
    page_mail = next(m for m in smtp_server.messages if "[PAGE]" in str(m["Subject"]))
    body = page_mail.get_body(("plain",)).get_content()
    assert "fast" in body and "14.4" in body
    # A page goes to the matrix's people of a missed target: the drafting service manager.
    assert any("[PAGE]" in str(m["Subject"]) for m in smtp_server.to(alice_manager.email))
    assert Alert.objects.filter(agreement=fast, burn_rule="fast").count() == 2  # page, recovered
