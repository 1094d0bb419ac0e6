"""First end-to-end pass through the evaluation services (no worker)."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Alert, Breach, PeriodResult, TicketTimer
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_ticket_timers_alerts_and_periods(active_acme_agreement, acme_desk, tom_team):
    now = datetime.now(UTC)
    rows = [
        {
            "external_id": "INC-1",
            "agreement": active_acme_agreement.reference,
            "priority": "P1",
            "opened_at": (now - timedelta(minutes=40)).isoformat(),
        },
        {
            "external_id": "INC-2",
            "agreement": active_acme_agreement.reference,
            "priority": "P2",
            "opened_at": (now - timedelta(minutes=20)).isoformat(),
            "first_response_at": (now - timedelta(minutes=15)).isoformat(),
        },
    ]
    tickets_ingest(acme_desk, rows)
    assert evaluate_pending_tickets(now) == 2
    timers = {(t.ticket.external_id, t.metric): t for t in TicketTimer.objects.all()}
    print({k: (v.state, v.due_at, v.next_due) for k, v in timers.items()})
    assert timers[("INC-1", "response_time")].state == "breached"
    assert timers[("INC-2", "response_time")].state == "met"
    print(list(Alert.objects.values_list("level", "target_label", "emailed")))
    print(list(Breach.objects.values_list("level", "target_label")))
    print(list(Notification.objects.values_list("kind", "recipient")))
    assert evaluate_periods(now) > 0
    for row in PeriodResult.objects.all():
        print(row.target_label, row.period_start, row.value, row.status, row.details)
