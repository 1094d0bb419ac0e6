"""Alerts of the evaluation engine: who hears of what, exactly once, and what the email says."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from monitoring.evaluation.ack import MAX_AGE, SALT, ack_token
from monitoring.evaluation.alert_emails import deliver_new_alerts, send_digests
from monitoring.evaluation.alerts import default_recipients
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets, mark_for_evaluation
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Alert, Breach, DigestItem, EscalationContact, Ticket
from sla_portal.core.models import Notification
from tests.test_evaluation import NOW, checks, ingest, target_key, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement(active_acme_agreement, services, tom_team):
    """The active Gold agreement, whose service Tom's team runs."""
    services["portal"].owner = tom_team
    services["portal"].save()
    return active_acme_agreement


def alert_mails():
    """The alert emails (the agreement's lifecycle sent others before)."""
    return Notification.objects.filter(kind__startswith="alert.")


def recipients_of(alert: Alert) -> set[str]:
    return set(Notification.objects.filter(key=alert.notification_key).values_list("recipient"))


def emails(*users) -> set[tuple[str]]:
    return {(user.email,) for user in users}


def open_ticket(source, agreement, external_id: str, minutes_ago: float, **extra) -> Ticket:
    ingest(
        source,
        agreement,
        {"external_id": external_id, "opened_at": NOW - timedelta(minutes=minutes_ago), **extra},
    )
    evaluate_pending_tickets(NOW)
    return Ticket.objects.get(external_id=external_id)


# --- The escalation matrix --------------------------------------------------------------------


def test_default_matrix(agreement, tom_team, alice_manager, carol_customer):
    assert default_recipients(agreement, "warning") == [tom_team]
    assert default_recipients(agreement, "missed_target") == [tom_team, alice_manager]
    breached = default_recipients(agreement, "breached")
    assert set(breached) == {tom_team, alice_manager, carol_customer}


def test_each_level_reaches_its_people(
    agreement, acme_desk, tom_team, alice_manager, carol_customer
):
    # P1 response: warning after 11.25 min, target 15, threshold 30.
    open_ticket(acme_desk, agreement, "warn", 12)
    open_ticket(acme_desk, agreement, "miss", 20)
    open_ticket(acme_desk, agreement, "breach", 40)
    levels = {a.ticket.external_id: a for a in Alert.objects.select_related("ticket")}
    assert {k: a.level for k, a in levels.items()} == {
        "warn": "warning",
        "miss": "missed_target",
        "breach": "breached",
    }
    assert recipients_of(levels["warn"]) == emails(tom_team)
    assert recipients_of(levels["miss"]) == emails(tom_team, alice_manager)
    assert recipients_of(levels["breach"]) == emails(tom_team, alice_manager, carol_customer)
    kinds = set(alert_mails().values_list("kind", flat=True))
    assert kinds == {"alert.warning", "alert.missed_target", "alert.breached"}


def test_escalation_contacts_override_one_level(agreement, acme_desk, tom_team, victor_viewer):
    EscalationContact.objects.create(agreement=agreement, level="warning", user=victor_viewer)
    EscalationContact.objects.create(agreement=agreement, level="warning", email="ops@acme.example")
    open_ticket(acme_desk, agreement, "warn", 12)
    open_ticket(acme_desk, agreement, "miss", 20)
    warning = Alert.objects.get(level="warning")
    assert recipients_of(warning) == {(victor_viewer.email,), ("ops@acme.example",)}
    # Levels without contacts keep the default matrix.
    assert (tom_team.email,) in recipients_of(Alert.objects.get(level="missed_target"))


# --- Exactly once -----------------------------------------------------------------------------


def test_one_notification_per_alert_and_recipient_when_everything_runs_twice(agreement, acme_desk):
    ticket = open_ticket(acme_desk, agreement, "twice", 40)
    first = sorted(alert_mails().values_list("kind", "key", "recipient"))
    assert len(first) == 3
    mark_for_evaluation([ticket.pk])
    assert evaluate_pending_tickets(NOW + timedelta(seconds=5)) == 1
    deliver_new_alerts(NOW + timedelta(seconds=5))
    # A worker that died after recording the emails but before marking the alert notified.
    Alert.objects.update(notified_at=None)
    assert deliver_new_alerts(NOW + timedelta(seconds=10)) == 1
    assert sorted(alert_mails().values_list("kind", "key", "recipient")) == first
    assert Alert.objects.count() == 1


def test_only_the_highest_of_several_levels_reached_at_once_is_raised(agreement, acme_desk):
    ticket = open_ticket(acme_desk, agreement, "late", 40)
    assert list(Alert.objects.values_list("level", flat=True)) == ["breached"]
    # Later evaluations do not go back to lower levels.
    mark_for_evaluation([ticket.pk])
    evaluate_pending_tickets(NOW + timedelta(minutes=1))
    assert list(Alert.objects.values_list("level", flat=True)) == ["breached"]


def test_levels_passed_over_at_once_still_reach_their_people(
    agreement, acme_desk, tom_team, victor_viewer
):
    # A matrix naming different people per level: whoever hears of a missed target must
    # hear of the breach that passed over it (a worker down across both deadlines).
    EscalationContact.objects.create(agreement=agreement, level="warning", user=tom_team)
    EscalationContact.objects.create(agreement=agreement, level="missed_target", user=victor_viewer)
    EscalationContact.objects.create(
        agreement=agreement, level="breached", email="oncall@acme.example"
    )
    open_ticket(acme_desk, agreement, "late", 40)
    alert = Alert.objects.get()
    assert alert.level == "breached"
    assert recipients_of(alert) == {
        (tom_team.email,),
        (victor_viewer.email,),
        ("oncall@acme.example",),
    }


def test_moments_older_than_the_max_age_are_recorded_quietly(agreement, acme_desk):
    # P4: response target 480 min, threshold 960; breached one minute too long ago.
    minutes = 960 + settings.SLA_ALERT_MAX_AGE_MINUTES + 1
    open_ticket(acme_desk, agreement, "history", minutes, priority="P4")
    alert = Alert.objects.get()
    assert alert.level == "breached"
    assert alert.target_key == target_key(agreement, "response_time", "P4")
    assert alert.emailed is False
    assert alert.quiet_reason
    assert alert.notified_at is not None
    assert not alert_mails().exists()
    assert Breach.objects.get().level == "breached"


def test_a_moment_just_within_the_max_age_is_emailed(agreement, acme_desk):
    minutes = 960 + settings.SLA_ALERT_MAX_AGE_MINUTES - 1
    open_ticket(acme_desk, agreement, "recent", minutes, priority="P4")
    alert = Alert.objects.get()
    assert alert.emailed is True
    assert Notification.objects.filter(key=alert.notification_key).count() == 3


# --- Digests ----------------------------------------------------------------------------------


def test_digest_users_get_warnings_in_the_digest_and_breaches_at_once(
    agreement, acme_desk, tom_team
):
    tom_team.alert_digest = True
    tom_team.save()
    open_ticket(acme_desk, agreement, "warn-1", 12)
    open_ticket(acme_desk, agreement, "warn-2", 12, priority="P1")
    open_ticket(acme_desk, agreement, "breach", 40)
    assert not Notification.objects.filter(kind="alert.warning").exists()
    assert DigestItem.objects.filter(user=tom_team, digested_at__isnull=True).count() == 2
    breach = Alert.objects.get(level="breached")
    assert (tom_team.email,) in recipients_of(breach)

    assert send_digests(NOW) == 1
    digest = Notification.objects.get(kind="alert.digest")
    assert digest.recipient == tom_team.email
    assert "warn-1" in digest.body_text and "warn-2" in digest.body_text
    assert not DigestItem.objects.filter(digested_at__isnull=True).exists()
    assert send_digests(NOW + timedelta(minutes=1)) == 0
    assert Notification.objects.filter(kind="alert.digest").count() == 1


# --- Closing ----------------------------------------------------------------------------------


def test_resolving_a_breached_ticket_closes_its_breach_and_says_so(
    agreement, acme_desk, tom_team, alice_manager, carol_customer
):
    opened = NOW - timedelta(hours=9)
    ingest(acme_desk, agreement, {"external_id": "long", "opened_at": opened})
    evaluate_pending_tickets(NOW)
    resolution_key = target_key(agreement, "resolution_time", "P1")
    breach = Breach.objects.get(target_key=resolution_key)
    assert breach.level == "breached"
    assert breach.closed_at is None

    later = NOW + timedelta(minutes=10)
    ingest(
        acme_desk,
        agreement,
        {
            "external_id": "long",
            "opened_at": opened,
            "first_response_at": opened + timedelta(minutes=5),
            "resolved_at": later,
        },
    )
    evaluate_pending_tickets(later)
    breach.refresh_from_db()
    assert breach.closed_at == later
    # The response was sent in time after all (it arrived late): its breach is closed too.
    response_key = target_key(agreement, "response_time", "P1")
    response_breach = Breach.objects.get(target_key=response_key)
    assert response_breach.closed_at == opened + timedelta(minutes=5)
    assert Alert.objects.filter(target_key=response_key, level="closed").count() == 1
    closed = Alert.objects.get(target_key=resolution_key, level="closed")
    assert closed.breach_id == breach.pk
    assert closed.reached_at == later
    # The people who heard of the breach hear that it is over.
    assert recipients_of(closed) == emails(tom_team, alice_manager, carol_customer)
    # Resolving again changes nothing.
    mark_for_evaluation(Ticket.objects.values_list("pk", flat=True))
    evaluate_pending_tickets(later + timedelta(minutes=1))
    assert Alert.objects.filter(target_key=resolution_key, level="closed").count() == 1


def test_a_period_breach_closes_with_its_period_and_says_so_once(
    agreement, acme_desk, services, tom_team, alice_manager, carol_customer
):
    # Four hours down on 5 March: more than the month's 0.5 % threshold budget (223 min), so
    # the breach is final on 10 March, long before the month ends.
    checks_ingest(
        acme_desk,
        services["portal"],
        checks((utc(2026, 3, 1), "up"), (utc(2026, 3, 5, 8), "down"), (utc(2026, 3, 5, 12), "up")),
    )
    evaluate_periods(NOW)
    key = target_key(agreement, "availability")
    breach = Breach.objects.get(target_key=key)
    assert (breach.level, breach.closed_at) == ("breached", None)
    assert list(Alert.objects.filter(target_key=key).values_list("level", flat=True)) == [
        "breached"
    ]

    # The worker evaluates a few minutes after the month ends: the period is frozen, the
    # breach closes with it, and the people who heard of it get the final figure.
    after_close = utc(2026, 4, 1, 0, 5)
    evaluate_periods(after_close)
    breach.refresh_from_db()
    assert breach.closed_at == after_close
    closed = Alert.objects.get(target_key=key, level="closed")
    assert (closed.breach_id, closed.reached_at, closed.emailed) == (
        breach.pk,
        utc(2026, 4, 1),
        True,
    )
    assert "99.46 %" in closed.value_text  # (44,640 - 240) / 44,640 minutes
    assert recipients_of(closed) == emails(tom_team, alice_manager, carol_customer)
    evaluate_periods(after_close + timedelta(minutes=5))
    assert Alert.objects.filter(target_key=key, level="closed").count() == 1


def test_a_period_breach_undone_by_corrected_data_closes_and_says_so(
    agreement, acme_desk, services, tom_team, alice_manager, carol_customer
):
    portal = services["portal"]
    checks_ingest(
        acme_desk,
        portal,
        checks((utc(2026, 3, 1), "up"), (utc(2026, 3, 5, 8), "down"), (utc(2026, 3, 5, 12), "up")),
    )
    evaluate_periods(NOW)
    key = target_key(agreement, "availability")
    assert Breach.objects.get(target_key=key).closed_at is None

    # The monitor re-sends 5 March: the "down" was a false alarm, the service was up.
    checks_ingest(acme_desk, portal, checks((utc(2026, 3, 5, 8), "up")))
    corrected = NOW + timedelta(hours=1)
    evaluate_periods(corrected)
    breach = Breach.objects.get(target_key=key)
    assert breach.closed_at == corrected
    closed = Alert.objects.get(target_key=key, level="closed")
    assert closed.breach_id == breach.pk
    assert recipients_of(closed) == emails(tom_team, alice_manager, carol_customer)


# --- What the email says ----------------------------------------------------------------------


def test_alert_email_names_agreement_target_ticket_values_due_time_and_link(
    agreement, acme_desk, carol_customer
):
    ticket = open_ticket(acme_desk, agreement, "INC-42", 40)
    alert = Alert.objects.get()
    mail = Notification.objects.get(key=alert.notification_key, recipient=carol_customer.email)
    due = (NOW - timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")  # opened + 30 min
    link = settings.SITE_URL + reverse("monitoring:ticket-detail", args=[ticket.pk])
    assert agreement.reference in mail.subject
    for body in (mail.body_text, mail.body_html):
        assert agreement.reference in body
        assert alert.target_label in body
        assert "INC-42" in body
        assert "40 min of business time used" in body
        assert "target 15 min" in body and "threshold 30 min" in body
        assert f"{due} (UTC)" in body
        assert link in body
    assert "Threshold breached" in mail.body_html


def test_alert_email_says_how_long_until_or_since_the_threshold(agreement, acme_desk, tom_team):
    # P1 response: warning after 11.25 min, target 15, threshold 30.
    open_ticket(acme_desk, agreement, "soon", 12)
    open_ticket(acme_desk, agreement, "late", 40)
    warning = Alert.objects.get(ticket__external_id="soon")
    breached = Alert.objects.get(ticket__external_id="late")
    mail = Notification.objects.get(key=warning.notification_key, recipient=tom_team.email)
    assert "18 min left until the threshold" in mail.body_text
    assert "18 min left until the threshold" in mail.body_html
    mail = Notification.objects.get(key=breached.notification_key, recipient=tom_team.email)
    assert "Threshold passed 10 min ago" in mail.body_text


def test_alert_emails_use_the_words_of_the_pages(agreement, acme_desk, tom_team, client):
    """The issue: one event was "Warning" in one place and "At risk" in another."""
    open_ticket(acme_desk, agreement, "soon", 12)
    alert = Alert.objects.get()
    mail = Notification.objects.get(key=alert.notification_key, recipient=tom_team.email)
    assert mail.subject.startswith("[At risk]")
    assert "Warning" not in mail.body_text and "Warning" not in mail.body_html
    client.force_login(tom_team)
    page = client.get(reverse("monitoring:alert-list")).content.decode()
    assert "At risk" in page and "> Warning" not in page


# --- The one-click acknowledge link -------------------------------------------------------------


def _ack_link(mail) -> str:
    match = re.search(r"(http\S+/alerts/ack/[^/\s\"]+/)", mail.body_text)
    assert match, mail.body_text
    assert match.group(1) in mail.body_html
    return match.group(1).removeprefix(settings.SITE_URL)


def test_provider_recipients_get_a_personal_ack_link_customers_none(
    agreement, acme_desk, tom_team, alice_manager, carol_customer
):
    open_ticket(acme_desk, agreement, "late", 40)
    alert = Alert.objects.get()
    mails = {n.recipient: n for n in Notification.objects.filter(key=alert.notification_key)}
    tom_link, alice_link = _ack_link(mails[tom_team.email]), _ack_link(mails[alice_manager.email])
    assert tom_link != alice_link
    assert "/alerts/ack/" not in mails[carol_customer.email].body_text


def test_ack_link_confirms_on_get_and_acknowledges_on_post_without_login(
    agreement, acme_desk, tom_team, client
):
    open_ticket(acme_desk, agreement, "soon", 12)
    alert = Alert.objects.get()
    link = _ack_link(Notification.objects.get(key=alert.notification_key))

    # A mail scanner (or the person) opening the link changes nothing.
    page = client.get(link)
    assert page.status_code == 200
    assert "Acknowledge this alert?" in page.content.decode()
    assert tom_team.display_name in page.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None

    page = client.post(link)
    assert page.status_code == 200 and "Acknowledged" in page.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == tom_team and alert.acknowledged_at is not None

    # Used again: says who acknowledged, records nothing new.
    first = alert.acknowledged_at
    again = client.post(link)
    assert again.status_code == 200 and "Already acknowledged" in again.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at == first


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJhIjoxLCJ1IjoxfQ:1tX:forged",
        "a" * 500,
        "%00",
        "x:y:z",
        "W10:1tX:abc",
        "\u00e9t\u00e9:\u2603",
        signing.dumps([1, 2], salt=SALT),
        signing.dumps({"a": "1", "u": "2"}, salt=SALT),
        signing.dumps({"a": 1}, salt="another-purpose"),
    ],
)
def test_a_forged_or_damaged_ack_link_gets_a_clear_page(agreement, acme_desk, client, token):
    open_ticket(acme_desk, agreement, "soon", 12)
    for method in (client.get, client.post):
        page = method(f"/alerts/ack/{token}/")
        assert page.status_code == 400
        assert "This acknowledge link is not valid" in page.content.decode()
    assert Alert.objects.get().acknowledged_at is None


def test_an_ack_link_for_another_alert_or_person_does_not_work(
    agreement, acme_desk, tom_team, carol_customer, client
):
    open_ticket(acme_desk, agreement, "soon", 12)
    alert = Alert.objects.get()
    # Signed correctly, but for a customer (who does not acknowledge) and a missing alert.
    for token in (
        ack_token(alert, carol_customer),
        signing.dumps({"a": 10**6, "u": tom_team.pk}, salt=SALT),
    ):
        page = client.post(reverse("monitoring:alert-ack-link", args=[token]))
        assert page.status_code == 400 and "not valid" in page.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_an_expired_ack_link_says_so(agreement, acme_desk, tom_team, client):
    open_ticket(acme_desk, agreement, "soon", 12)
    alert = Alert.objects.get()
    with time_machine.travel(timezone.now() - MAX_AGE - timedelta(hours=1)):
        token = ack_token(alert, tom_team)
    page = client.post(reverse("monitoring:alert-ack-link", args=[token]))
    assert page.status_code == 410 and "expired" in page.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_alert_email_names_the_ticket_title_and_assignee_when_the_feed_sends_them(
    agreement, acme_desk, tom_team
):
    open_ticket(
        acme_desk,
        agreement,
        "INC-7",
        40,
        title="Checkout fails for EU cards",
        assignee="Tom Team",
    )
    open_ticket(acme_desk, agreement, "INC-8", 40)
    known = Alert.objects.get(ticket__external_id="INC-7")
    mail = Notification.objects.get(key=known.notification_key, recipient=tom_team.email)
    for body in (mail.body_text, mail.body_html):
        assert "INC-7: Checkout fails for EU cards" in body
        assert "Tom Team" in body
    unknown = Alert.objects.get(ticket__external_id="INC-8")
    mail = Notification.objects.get(key=unknown.notification_key, recipient=tom_team.email)
    assert "Assignee:  not known" in mail.body_text
