"""The pages of the evaluation engine: alerts, a breach, compliance per agreement, the
escalation matrix and the timers on a ticket's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import (
    Alert,
    Breach,
    EscalationContact,
    Level,
    PeriodResult,
    Ticket,
)
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db

FORMULA = "(counted − down) ÷ counted × 100"  # noqa: RUF001  (as printed on the page)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def evaluated(mid_month, active_acme_agreement, acme_desk, services):
    """Acme's Gold agreement with three tickets and an outage, evaluated at ``now``:

    * INC-1 (P1) opened 40 min ago, never answered: response threshold (30 min) breached;
    * INC-2 (P2) answered after 5 min: response met;
    * INC-OLD (P1) opened three days ago, never answered: breached long ago, so its alerts
      are recorded without email;
    * the portal was down for 20 minutes two hours ago.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    reference = active_acme_agreement.reference
    tickets_ingest(
        acme_desk,
        [
            {
                "external_id": "INC-1",
                "agreement": reference,
                "priority": "P1",
                "opened_at": iso(now - timedelta(minutes=40)),
            },
            {
                "external_id": "INC-2",
                "agreement": reference,
                "priority": "P2",
                "opened_at": iso(now - timedelta(minutes=20)),
                "first_response_at": iso(now - timedelta(minutes=15)),
            },
            {
                "external_id": "INC-OLD",
                "agreement": reference,
                "priority": "P1",
                "opened_at": iso(now - timedelta(days=3)),
            },
        ],
    )
    start = now - timedelta(hours=3)
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {
                "checked_at": iso(start + timedelta(minutes=5 * i)),
                "status": "down" if 12 <= i < 16 else "up",
            }
            for i in range(30)
        ],
    )
    evaluate_pending_tickets(now)
    evaluate_periods(now)
    return {"agreement": active_acme_agreement, "now": now}


def login(client, user) -> None:
    client.force_login(user)


def ticket_alert(external_id: str, level: str) -> Alert:
    """The alert of a ticket's first-response target at ``level``."""
    return Alert.objects.get(
        ticket__external_id=external_id, level=level, target_key__startswith="response_time"
    )


# --- Alerts page ------------------------------------------------------------------------------


def test_alerts_page_shows_level_subject_times_and_delivery(
    client, evaluated, alice_manager, django_assert_max_num_queries
):
    breached = ticket_alert("INC-1", Level.BREACHED)
    old = ticket_alert("INC-OLD", Level.BREACHED)
    assert breached.emailed and not old.emailed
    # One recipient's email went out, another keeps failing: both states show.
    rows = Notification.objects.filter(key=breached.notification_key).order_by("recipient")
    assert rows.count() >= 2
    first, second = list(rows[:2])
    Notification.objects.filter(pk=first.pk).update(status="sent", sent_at=timezone.now())
    Notification.objects.filter(pk=second.pk).update(attempts=3, last_error="550 mailbox full")
    login(client, alice_manager)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:alert-list"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Threshold breached" in page and "bi-x-octagon-fill" in page  # word and icon
    assert (
        "ticket INC-1" in page
        and reverse("monitoring:ticket-detail", args=[breached.ticket_id]) in page
    )
    assert "1 sent" in page and "pending" in page and "550 mailbox full" in page
    assert "3 attempts" in page
    assert "recorded only" in page and old.quiet_reason in page
    assert breached.value_text in page
    listed = [row["alert"] for row in response.context["rows"]]
    assert listed == sorted(listed, key=lambda a: (a.raised_at, a.pk), reverse=True)
    # Reached time in the alert's zone, which the page names.
    reached = breached.reached_at.astimezone(ZoneInfo(breached.zone))
    assert f"{reached:%H:%M}" in page and breached.zone in page


def test_alerts_page_query_count_does_not_grow_with_rows(
    client, evaluated, alice_manager, django_assert_max_num_queries
):
    assert Alert.objects.count() >= 4
    login(client, alice_manager)
    with django_assert_max_num_queries(12):
        client.get(reverse("monitoring:alert-list"))
    # More alerts (a second evaluation later raises the period alerts again: none new) and
    # more delivery rows do not add queries.
    evaluate_periods(evaluated["now"] + timedelta(minutes=1))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:alert-list"))
    assert response.status_code == 200


def test_alerts_page_filters_by_level_acknowledged_and_agreement(
    client, evaluated, alice_manager, tom_team
):
    login(client, alice_manager)
    response = client.get(reverse("monitoring:alert-list"), {"level": "breached"})
    rows = response.context["rows"]
    assert rows and all(row["alert"].level == "breached" for row in rows)

    acked = ticket_alert("INC-1", Level.BREACHED)
    Alert.objects.filter(pk=acked.pk).update(
        acknowledged_by=tom_team, acknowledged_at=timezone.now()
    )
    response = client.get(reverse("monitoring:alert-list"), {"acknowledged": "yes"})
    assert [row["alert"].pk for row in response.context["rows"]] == [acked.pk]
    response = client.get(reverse("monitoring:alert-list"), {"acknowledged": "no"})
    assert acked.pk not in [row["alert"].pk for row in response.context["rows"]]
    assert len(response.context["rows"]) == Alert.objects.count() - 1

    response = client.get(
        reverse("monitoring:alert-list"), {"agreement": evaluated["agreement"].pk}
    )
    assert len(response.context["rows"]) == Alert.objects.count()


def test_customer_sees_own_alerts_and_other_org_sees_none(
    client, evaluated, carol_customer, other_org_viewer
):
    login(client, carol_customer)
    response = client.get(reverse("monitoring:alert-list"))
    assert len(response.context["rows"]) == Alert.objects.count()
    page = response.content.decode()
    assert "/acknowledge/" not in page and "Not acknowledged yet" in page

    login(client, other_org_viewer)
    response = client.get(reverse("monitoring:alert-list"))
    page = response.content.decode()
    assert response.context["rows"] == []
    assert "INC-1" not in page and "0 alerts" in page
    # Filtering by another customer's agreement is refused like an unknown one.
    response = client.get(
        reverse("monitoring:alert-list"), {"agreement": evaluated["agreement"].pk}
    )
    assert response.context["rows"] == []


# --- Acknowledgement --------------------------------------------------------------------------


def test_provider_acknowledges_once_and_the_first_stands(
    client, evaluated, tom_team, alice_manager
):
    alert = ticket_alert("INC-1", Level.BREACHED)
    url = reverse("monitoring:alert-ack", args=[alert.pk])

    login(client, tom_team)
    response = client.post(url, {"next": reverse("monitoring:alert-list") + "?level=breached"})
    assert response.status_code == 302 and response["Location"].endswith("?level=breached")
    alert.refresh_from_db()
    assert alert.acknowledged_by == tom_team and alert.acknowledged_at is not None
    first_at = alert.acknowledged_at

    login(client, alice_manager)
    response = client.post(url, follow=True)
    alert.refresh_from_db()
    assert alert.acknowledged_by == tom_team and alert.acknowledged_at == first_at
    page = response.content.decode()
    assert "Already acknowledged by Tom Team" in page
    assert "Acknowledged</span>" in page and "by Tom Team" in page


def test_customer_cannot_acknowledge(client, evaluated, carol_customer, other_org_viewer):
    alert = ticket_alert("INC-1", Level.BREACHED)
    url = reverse("monitoring:alert-ack", args=[alert.pk])
    login(client, carol_customer)
    assert client.post(url).status_code == 403
    login(client, other_org_viewer)
    assert client.post(url).status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledge_needs_post_and_ignores_offsite_next(client, evaluated, tom_team):
    alert = ticket_alert("INC-1", Level.BREACHED)
    url = reverse("monitoring:alert-ack", args=[alert.pk])
    login(client, tom_team)
    assert client.get(url).status_code == 405
    response = client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == reverse("monitoring:alert-list")


# --- Breach page ------------------------------------------------------------------------------


def test_breach_page_shows_facts_and_alerts(client, evaluated, carol_customer):
    breach = Breach.objects.get(ticket__external_id="INC-1", target_key__startswith="response_time")
    login(client, carol_customer)
    response = client.get(reverse("monitoring:breach-detail", args=[breach.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert breach.target_label in page and "ticket INC-1" in page
    assert "Threshold breached" in page and breach.value_text in page
    assert len(response.context["rows"]) >= 1
    assert {row["alert"].ticket_id for row in response.context["rows"]} == {breach.ticket_id}
    # Customers read the note but have no form.
    assert 'name="root_cause"' not in page
    assert "No root-cause note yet." in page


def test_root_cause_is_written_by_the_provider_only(
    client, evaluated, alice_manager, carol_customer, other_org_viewer
):
    breach = Breach.objects.get(ticket__external_id="INC-1", target_key__startswith="response_time")
    url = reverse("monitoring:breach-detail", args=[breach.pk])

    login(client, carol_customer)
    assert client.post(url, {"root_cause": "Customer's version"}).status_code == 403
    login(client, other_org_viewer)
    assert client.get(url).status_code == 404
    assert client.post(url, {"root_cause": "x"}).status_code == 404
    breach.refresh_from_db()
    assert breach.root_cause == ""

    login(client, alice_manager)
    response = client.post(url, {"root_cause": "   "})
    assert response.status_code == 200 and response.context["form"].errors
    response = client.post(url, {"root_cause": "On-call phone was on silent.\nFixed rota."})
    assert response.status_code == 302
    breach.refresh_from_db()
    assert breach.root_cause.startswith("On-call phone") and breach.root_cause_by == alice_manager

    login(client, carol_customer)
    page = client.get(url).content.decode()
    assert "On-call phone was on silent.<br>Fixed rota." in page and "Alice Manager" in page


# --- Compliance page --------------------------------------------------------------------------


def test_compliance_page_explains_availability_with_the_period_figures(
    client, evaluated, carol_customer
):
    agreement = evaluated["agreement"]
    login(client, carol_customer)
    response = client.get(reverse("monitoring:compliance", args=[agreement.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "How availability is computed" in page and FORMULA in page

    availability = next(t for t in response.context["targets"] if t["availability"])
    row = availability["current"]
    figures = availability["availability"]
    assert row.details["down_seconds"] == pytest.approx(20 * 60)
    assert figures["down"] == "20\u00a0min" and figures["down"] in page
    assert figures["counted"] in page and figures["service"] in page
    assert figures["budget_left"] in page and figures["value"] in page
    assert availability["is_current"] and availability["label"] in page


def test_compliance_page_shows_ticket_counts_frozen_periods_and_open_breaches(
    client, evaluated, alice_manager
):
    agreement = evaluated["agreement"]
    login(client, alice_manager)
    response = client.get(reverse("monitoring:compliance", args=[agreement.pk]))
    page = response.content.decode()
    targets = response.context["targets"]
    ticket_targets = [t for t in targets if t["tickets"] is not None]
    assert ticket_targets
    p1 = next(
        t for t in ticket_targets if "P1" in t["target"].label and "esponse" in t["target"].label
    )
    assert p1["tickets"]["missed"] == 2 and "Missed it" in page
    # Past periods (the agreement started on 1 January) are closed and marked frozen.
    past = [p for t in targets for p in t["past"]]
    assert past and all(p["row"].closed_at for p in past)
    assert "frozen" in page
    open_breach = Breach.objects.filter(agreement=agreement, closed_at__isnull=True).first()
    assert open_breach is not None
    assert reverse("monitoring:breach-detail", args=[open_breach.pk]) in page
    assert "Open breaches" in page
    # Every status has its word next to its icon.
    for target in targets:
        assert target["state"].text in page


def test_compliance_page_of_another_customer_is_404(client, evaluated, other_org_viewer):
    login(client, other_org_viewer)
    url = reverse("monitoring:compliance", args=[evaluated["agreement"].pk])
    assert client.get(url).status_code == 404
    assert PeriodResult.objects.exists()


# --- Escalation page --------------------------------------------------------------------------


def test_escalation_page_shows_defaults_and_customers_may_view(
    client, active_acme_agreement, carol_customer, alice_manager
):
    login(client, carol_customer)
    url = reverse("monitoring:escalation", args=[active_acme_agreement.pk])
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    breached = next(level for level in response.context["matrix"] if level.level == "breached")
    assert not breached.explicit and all(entry.is_default for entry in breached.entries)
    emails = {entry.email for entry in breached.entries}
    assert {alice_manager.email, carol_customer.email} <= emails
    assert ">default<" in page and 'name="email"' not in page
    assert client.post(url, {"level": "warning", "email": "x@acme.example"}).status_code == 403


def test_drafter_adds_and_removes_contacts(
    client, active_acme_agreement, alice_manager, victor_viewer
):
    url = reverse("monitoring:escalation", args=[active_acme_agreement.pk])
    login(client, alice_manager)
    response = client.post(url, {"level": "warning", "email": "OnCall@Acme.example"})
    assert response.status_code == 302
    response = client.post(url, {"level": "warning", "user": victor_viewer.pk})
    assert response.status_code == 302
    contacts = EscalationContact.objects.filter(agreement=active_acme_agreement, level="warning")
    assert {(c.user_id, c.email) for c in contacts} == {
        (None, "oncall@acme.example"),
        (victor_viewer.pk, ""),
    }
    response = client.get(url)
    warning = next(level for level in response.context["matrix"] if level.level == "warning")
    assert warning.explicit and not any(entry.is_default for entry in warning.entries)

    contact = contacts.get(user=victor_viewer)
    remove = reverse("monitoring:escalation-remove", args=[active_acme_agreement.pk, contact.pk])
    assert client.post(remove).status_code == 302
    assert not EscalationContact.objects.filter(pk=contact.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"level": "warning"}, "Choose a portal user or enter an email address."),
        ({"level": "warning", "email": "oncall@acme.example", "user": "self"}, "not both"),
        ({"level": "warning", "email": "ONCALL@acme.example"}, "already hears about"),
        ({"level": "warning", "user": "other"}, "belongs to Globex Health"),
        ({"level": "warning", "email": "not-an-address"}, "Enter a valid email address."),
    ],
)
def test_escalation_form_errors(
    client, active_acme_agreement, alice_manager, other_org_viewer, data, message
):
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level="warning", email="oncall@acme.example"
    )
    substitute = {"self": alice_manager.pk, "other": other_org_viewer.pk}
    data = {key: substitute.get(value, value) for key, value in data.items()}
    login(client, alice_manager)
    response = client.post(reverse("monitoring:escalation", args=[active_acme_agreement.pk]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert EscalationContact.objects.filter(agreement=active_acme_agreement).count() == 1


def test_only_drafters_change_the_matrix(client, active_acme_agreement, tom_team, other_org_viewer):
    contact = EscalationContact.objects.create(
        agreement=active_acme_agreement, level="warning", email="oncall@acme.example"
    )
    url = reverse("monitoring:escalation", args=[active_acme_agreement.pk])
    remove = reverse("monitoring:escalation-remove", args=[active_acme_agreement.pk, contact.pk])
    login(client, tom_team)
    assert client.get(url).status_code == 200
    assert client.post(url, {"level": "warning", "email": "a@b.example"}).status_code == 403
    assert client.post(remove).status_code == 403
    login(client, other_org_viewer)
    assert client.get(url).status_code == 404
    assert client.post(remove).status_code == 404
    assert EscalationContact.objects.filter(pk=contact.pk).exists()


# --- Ticket timers ----------------------------------------------------------------------------


def test_ticket_page_shows_its_timers(client, evaluated, carol_customer):
    ticket = Ticket.objects.get(external_id="INC-2")
    login(client, carol_customer)
    response = client.get(reverse("monitoring:ticket-detail", args=[ticket.pk]))
    page = response.content.decode()
    timers = response.context["timers"]
    assert {row["timer"].metric for row in timers} == {"response_time", "resolution_time"}
    response_timer = next(row for row in timers if row["timer"].metric == "response_time")
    assert response_timer["state"].text == "Met" and "bi-check-circle-fill" in page
    assert f"{response_timer['used']} of {response_timer['allowed']}" in page
    assert "5 min of 30 min" in page  # P2: answered after 5 of the 30 minutes allowed
    assert "stopped" in page and "running" in page


def test_ticket_page_says_why_less_time_was_used_than_elapsed(
    client, active_acme_agreement, acme_desk, carol_customer
):
    """The issue: "15 min used" beside "18 min elapsed" without saying why. The timer says
    where the other 3 minutes went: a pause while waiting on the customer (24x7 calendar, so
    nothing fell outside its hours)."""
    now = datetime.now(UTC).replace(microsecond=0)
    opened = now - timedelta(minutes=18)
    tickets_ingest(
        acme_desk,
        [
            {
                "external_id": "INC-WAIT",
                "agreement": active_acme_agreement.reference,
                "priority": "P1",
                "opened_at": iso(opened),
                "status_history": [
                    {"at": iso(opened), "status": "New"},
                    {
                        "at": iso(opened + timedelta(minutes=5)),
                        "status": "Waiting on customer",
                        "pauses_clock": True,
                    },
                    {"at": iso(opened + timedelta(minutes=8)), "status": "In progress"},
                ],
            }
        ],
    )
    evaluate_pending_tickets(now)
    ticket = Ticket.objects.get(external_id="INC-WAIT")
    login(client, carol_customer)
    response = client.get(reverse("monitoring:ticket-detail", args=[ticket.pk]))
    page = response.content.decode()
    rows = {row["timer"].metric: row for row in response.context["timers"]}
    account = rows["response_time"]["account"]
    assert account.account.counted.total_seconds() == rows["response_time"]["timer"].used_seconds
    text = account.text
    assert text.startswith("15 min used of 18 min elapsed: 3 min paused (Waiting on customer)")
    assert "0 min outside the hours of" in text
    assert "15 min used of 18 min elapsed: 3 min paused (Waiting on customer); 0 min" in page
