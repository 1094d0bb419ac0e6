"""Availability alerts at their moment, end to end: a real worker, ``celery beat``, Redis,
PostgreSQL and SMTP.

The agreement is in force for two days only (today and tomorrow), so its availability
period counts about 172,800 s, and its target is tight (99.995 %, threshold 99.99 %,
warning at half the budget): an outage opened "now" crosses the warning after about 4.3 s,
the target after 8.6 s and the threshold after 17.3 s, while the test watches. Beat sends the
one-second tick to the test's own queue; the worker claims the period at each moment. Each
alert must exist within 2 s of its moment and carry that moment, once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from agreements.models import Agreement, Target
from agreements.services import lifecycle
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Alert, PeriodResult
from sla_portal.core.models import Notification
from tests.support.agreements import complete_for_proposal

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="a worker, beat and the test write at once: PostgreSQL only",
    ),
]

LEVELS = ("warning", "missed_target", "breached")
# The goal: an availability alert within 2 s of the moment its budget is crossed.
BOUND = timedelta(seconds=2)
# How often the test looks for new alert rows (adds at most this to what it observes).
POLL = 0.05


def sign_two_day_tight_availability(agreement: Agreement, alice, carol) -> Agreement:
    """99.995 % / 99.99 %, 24x7 UTC, warning at 50 %, in force today and tomorrow."""
    target = Target.objects.get(agreement=agreement, metric="availability")
    target.target_value = Decimal("99.995")
    target.threshold_value = Decimal("99.990")
    target.warning_percent = Decimal(50)
    target.calendar = None
    target.save()
    today = datetime.now(UTC).date()
    agreement.effective_from = today
    agreement.effective_to = today + timedelta(days=1)
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)
    lifecycle.accept(agreement, carol, version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, carol)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


def test_availability_alerts_within_two_seconds_of_each_crossing_stamped_with_it(
    smtp_server,
    celery_worker_and_beat,
    acme_agreement,
    acme_desk,
    alice_manager,
    carol_customer,
    services,
):
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    if midnight - now < timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds() + 1)  # not across the day's change
    agreement = sign_two_day_tight_availability(acme_agreement, alice_manager, carol_customer)
    portal = services["portal"]
    opened = timezone.now()
    checks_ingest(
        acme_desk,
        portal,
        [
            {"checked_at": (opened - timedelta(minutes=5)).isoformat(), "status": "up"},
            {"checked_at": opened.isoformat(), "status": "down"},
        ],
    )
    evaluate_periods(timezone.now(), [agreement.pk])
    row = PeriodResult.objects.get(agreement=agreement, metric="availability", closed_at=None)
    counted = row.details["counted_seconds"]
    budget = counted * (100 - 99.995) / 100
    expected = {
        "warning": opened + timedelta(seconds=budget * 0.5),
        "missed_target": opened + timedelta(seconds=budget),
        "breached": opened + timedelta(seconds=counted * (100 - 99.99) / 100),
    }
    assert row.next_due is not None
    assert abs(row.next_due - expected["warning"]) < timedelta(milliseconds=1)

    seen: dict[str, datetime] = {}
    give_up = time.monotonic() + (expected["breached"] - opened).total_seconds() + 15
    while len(seen) < len(LEVELS) and time.monotonic() < give_up:
        for level in Alert.objects.filter(period_result=row, burn_rule="").values_list(
            "level", flat=True
        ):
            seen.setdefault(level, datetime.now(UTC))
        time.sleep(POLL)

    alerts = {a.level: a for a in Alert.objects.filter(period_result=row, burn_rule="")}
    assert sorted(alerts) == sorted(LEVELS), (seen, celery_worker_and_beat.worker.log_path)
    assert Alert.objects.filter(period_result=row, burn_rule="").count() == 3  # once per level
    for level in LEVELS:
        alert = alerts[level]
        # Stamped with the crossing moment, not with the evaluation that found it.
        assert abs(alert.reached_at - expected[level]) < timedelta(milliseconds=1), level
        assert alert.raised_at - alert.reached_at <= BOUND, (level, alert.raised_at)
        assert seen[level] - alert.reached_at <= BOUND + timedelta(seconds=POLL), (
            level,
            seen[level] - alert.reached_at,
        )
    # The minute's evaluation afterwards finds every level raised: nothing more.
    evaluate_periods(timezone.now(), [agreement.pk])
    assert Alert.objects.filter(period_result=row, burn_rule="").count() == 3
    keys = [f"alert:{alerts[level].pk}" for level in LEVELS]
    assert Notification.objects.filter(key__in=keys).exists()
