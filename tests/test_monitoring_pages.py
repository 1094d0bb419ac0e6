"""The pages people read ingested data on: tickets, one ticket's timeline, check history."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement
from monitoring.models import (
    MaintenanceWindow,
    Outage,
    Source,
    Ticket,
    TicketPause,
    TicketStatusChange,
    UptimeCheck,
)
from monitoring.views.tickets import humane_duration, timeline_bar
from tests.support.actors import PASSWORD
from tests.support.browser import login, screenshot

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def acme_source(acme) -> Source:
    return Source.objects.create(customer=acme, name="Acme desk", kind=Source.Kind.CSV)


@pytest.fixture
def globex_source(globex) -> Source:
    return Source.objects.create(customer=globex, name="Globex desk", kind=Source.Kind.CSV)


def make_ticket(source: Source, external_id: str, opened_at: datetime, **fields) -> Ticket:
    return Ticket.objects.create(
        source=source,
        customer=source.customer,
        external_id=external_id,
        opened_at=opened_at,
        **fields,
    )


@pytest.fixture
def paused_ticket(acme_source, acme_agreement, calendars) -> Ticket:
    """Opened Friday 17:00 in Berlin, waiting on the customer Monday 08:00-08:30, resolved
    Monday 09:00; the agreement's desk keeps Berlin office hours (Mon-Fri 08:00-18:00)."""
    Agreement.objects.filter(pk=acme_agreement.pk).update(support_calendar=calendars["office"])
    ticket = make_ticket(
        acme_source,
        "INC-1001",
        berlin(2026, 3, 6, 17),
        agreement=acme_agreement,
        priority="P2",
        category="Login",
        state=Ticket.State.RESOLVED,
        first_response_at=berlin(2026, 3, 6, 17, 10),
        resolved_at=berlin(2026, 3, 9, 9),
        reopen_count=1,
    )
    TicketStatusChange.objects.create(ticket=ticket, at=berlin(2026, 3, 6, 17), status="New")
    TicketStatusChange.objects.create(
        ticket=ticket, at=berlin(2026, 3, 9, 8), status="Awaiting customer", pauses_clock=True
    )
    TicketStatusChange.objects.create(
        ticket=ticket, at=berlin(2026, 3, 9, 8, 30), status="In progress"
    )
    TicketStatusChange.objects.create(
        ticket=ticket, at=berlin(2026, 3, 9, 9), status="Solved", resolves=True
    )
    TicketPause.objects.create(
        ticket=ticket,
        start=berlin(2026, 3, 9, 8),
        end=berlin(2026, 3, 9, 8, 30),
        reason="Awaiting customer",
    )
    return ticket


@pytest.fixture
def globex_ticket(globex_source) -> Ticket:
    return make_ticket(globex_source, "GLX-1", berlin(2026, 3, 2, 10), category="Records")


@pytest.fixture
def portal_history(services, active_acme_agreement, acme_source) -> dict:
    """Checks of the Acme portal over the last two hours, an outage that ended, one still
    ongoing, and a maintenance window yesterday."""
    portal = services["portal"]
    now = timezone.now().replace(microsecond=0)
    for minutes in range(0, 120, 10):
        status = UptimeCheck.Status.DOWN if minutes in (30, 40) else UptimeCheck.Status.UP
        UptimeCheck.objects.create(
            service=portal,
            source=acme_source,
            checked_at=now - timedelta(minutes=minutes),
            status=status,
            response_ms=120 + minutes,
        )
    # Rows name their source: data belongs to the source that sent it (monitoring.models.ownership).
    ended = Outage.objects.create(
        service=portal,
        source=acme_source,
        started_at=now - timedelta(minutes=45),
        ended_at=now - timedelta(minutes=25),
        cause="Database failover",
    )
    ongoing = Outage.objects.create(
        service=portal, source=acme_source, started_at=now - timedelta(minutes=3)
    )
    window = MaintenanceWindow.objects.create(
        service=portal,
        source=acme_source,
        external_id="MW-1",
        title="Patch day",
        starts_at=now - timedelta(hours=20),
        ends_at=now - timedelta(hours=19),
    )
    return {"service": portal, "now": now, "ended": ended, "ongoing": ongoing, "window": window}


# --- Pure helpers


def test_humane_duration_reads_like_people_talk():
    assert humane_duration(None) == "—"
    assert humane_duration(timedelta(seconds=20)) == "<\u00a01\u00a0min"
    assert humane_duration(timedelta(minutes=90)) == "1\u00a0h 30\u00a0min"
    assert humane_duration(timedelta(days=2, hours=4, minutes=5)) == "2\u00a0days 4\u00a0h"


def test_timeline_bar_clips_periods_and_runs_open_outages_to_the_end():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(hours=24)
    bar = timeline_bar(
        "Last 24 hours",
        start,
        end,
        outages=[
            (start - timedelta(hours=2), start + timedelta(hours=6)),
            (start + timedelta(hours=18), None),
        ],
        maintenance=[(start + timedelta(hours=12), start + timedelta(hours=13))],
    )
    by_key = {segment.key: segment for segment in bar.segments}
    assert (by_key["O1"].left, by_key["O1"].width) == (0, 25)
    assert (by_key["O2"].left, by_key["O2"].width) == (75, 25)
    assert "ongoing" in by_key["O2"].text
    assert by_key["M1"].kind == "maintenance" and by_key["M1"].left == 50


def test_timeline_bar_merges_periods_too_close_to_label_apart():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=7)
    bar = timeline_bar(
        "Last 7 days",
        start,
        end,
        outages=[
            (end - timedelta(minutes=45), end - timedelta(minutes=25)),
            (end - timedelta(minutes=3), None),
        ],
        maintenance=[],
    )
    [segment] = bar.segments
    assert segment.key == "O1\u2013O2"
    assert "ongoing" in segment.text and segment.anchor_right and segment.right == 0


# --- Tickets list


def test_manager_and_customer_see_the_tickets_list(
    client, alice_manager, carol_customer, paused_ticket, globex_ticket
):
    client.force_login(alice_manager)
    response = client.get(reverse("monitoring:ticket-list"))
    assert response.status_code == 200
    assert "INC-1001" in response.text and "GLX-1" in response.text

    client.force_login(carol_customer)
    response = client.get(reverse("monitoring:ticket-list"))
    assert "INC-1001" in response.text
    assert "GLX-1" not in response.text
    assert "30\u00a0min" in response.text  # time paused


def test_other_orgs_customer_sees_none_of_acmes_tickets(client, other_org_viewer, paused_ticket):
    client.force_login(other_org_viewer)
    response = client.get(reverse("monitoring:ticket-list"))
    assert response.status_code == 200
    assert "INC-1001" not in response.text
    assert "No tickets" in response.text


def test_tickets_list_needs_login(client):
    response = client.get(reverse("monitoring:ticket-list"))
    assert response.status_code == 302


def test_ticket_filters_narrow_the_list(
    client, alice_manager, paused_ticket, acme_source, acme_agreement
):
    make_ticket(acme_source, "REQ-7", berlin(2026, 4, 2, 9), priority="P4", category="Access")
    url = reverse("monitoring:ticket-list")
    client.force_login(alice_manager)

    def ids(**params) -> set[str]:
        page = client.get(url, params).context["page"]
        return {ticket.external_id for ticket in page}

    assert ids() == {"INC-1001", "REQ-7"}
    assert ids(priority="P4") == {"REQ-7"}
    assert ids(state="resolved") == {"INC-1001"}
    assert ids(agreement=acme_agreement.pk) == {"INC-1001"}
    assert ids(q="acce") == {"REQ-7"}
    assert ids(q="inc-10") == {"INC-1001"}
    assert ids(opened_from="2026-04-01") == {"REQ-7"}
    assert ids(opened_to="2026-03-31") == {"INC-1001"}


def test_agreement_filter_offers_only_the_users_agreements(
    client, carol_customer, paused_ticket, globex_agreement
):
    client.force_login(carol_customer)
    response = client.get(reverse("monitoring:ticket-list"), {"agreement": globex_agreement.pk})
    assert globex_agreement.reference not in response.text
    assert response.context["filter"].form.errors  # refused like an unknown id


def test_tickets_list_is_paginated_newest_first(client, alice_manager, acme_source):
    start = berlin(2026, 1, 5, 9)
    for number in range(55):
        make_ticket(acme_source, f"T-{number:03}", start + timedelta(hours=number))
    client.force_login(alice_manager)
    first = client.get(reverse("monitoring:ticket-list")).context["page"]
    assert len(first) == 50 and first.paginator.num_pages == 2
    assert first[0].external_id == "T-054"
    second = client.get(reverse("monitoring:ticket-list"), {"page": 2}).context["page"]
    assert [t.external_id for t in second] == [f"T-{n:03}" for n in range(4, -1, -1)]


def test_tickets_list_query_count_does_not_grow_with_rows(
    client, alice_manager, acme_source, acme_agreement, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    url = reverse("monitoring:ticket-list")
    start = berlin(2026, 1, 5, 9)
    for number in range(40):
        ticket = make_ticket(
            acme_source, f"Q-{number}", start + timedelta(hours=number), agreement=acme_agreement
        )
        TicketPause.objects.create(
            ticket=ticket, start=ticket.opened_at, end=ticket.opened_at + timedelta(minutes=5)
        )
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert len(response.context["page"]) == 40


# --- Ticket detail


def test_ticket_detail_shows_timeline_and_pauses(client, carol_customer, paused_ticket):
    client.force_login(carol_customer)
    response = client.get(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))
    assert response.status_code == 200
    text = response.text
    for expected in (
        "Opened",
        "Status: Awaiting customer",
        "clock paused",
        "Status: Solved",
        "resolves",
        "First response",
        "Resolved",
        "1 time",  # reopened
        "Awaiting customer",
    ):
        assert expected in text
    labels = [event.label for event in response.context["events"]]
    assert labels[0] == "Opened" and labels[-1] in ("Resolved", "Status: Solved")
    assert [row["duration"] for row in response.context["pauses"]] == ["30\u00a0min"]


def test_business_time_matches_a_hand_computation(client, alice_manager, paused_ticket):
    # Fri 17:00-18:00 (1 h) + Mon 08:00-09:00 (1 h) - pause Mon 08:00-08:30 = 1 h 30 min.
    client.force_login(alice_manager)
    response = client.get(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))
    business = response.context["business"]
    assert business["seconds"] == 90 * 60
    assert business["calendar"].name == "Berlin office hours"
    assert "1\u00a0h 30\u00a0min" in response.text
    assert response.context["elapsed"] == "2\u00a0days 16\u00a0h"  # plain calendar time


def test_business_time_without_pauses_is_two_office_hours(client, alice_manager, paused_ticket):
    paused_ticket.pauses.all().delete()
    client.force_login(alice_manager)
    response = client.get(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))
    assert response.context["business"]["seconds"] == 2 * 3600


def test_other_orgs_customer_gets_404_on_a_ticket(client, other_org_viewer, paused_ticket):
    client.force_login(other_org_viewer)
    response = client.get(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))
    assert response.status_code == 404


def test_ticket_detail_query_count_is_fixed(
    client, alice_manager, paused_ticket, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    with django_assert_max_num_queries(12):
        client.get(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))


# --- Check history


def test_service_checks_for_manager_and_customer(
    client, alice_manager, carol_customer, portal_history
):
    url = reverse("monitoring:service-checks", args=[portal_history["service"].pk])
    for user in (alice_manager, carol_customer):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert response.context["summary"]["total"] == 12
        assert response.context["share_up"] == round(10 / 12 * 100, 2)
        assert len(response.context["outages"]) == 2
        assert "ongoing" in response.text
        assert "Patch day" in response.text
        assert "Database failover" in response.text


def test_service_detail_links_to_check_history(client, carol_customer, portal_history):
    client.force_login(carol_customer)
    service = portal_history["service"]
    response = client.get(reverse("agreements:service-detail", args=[service.pk]))
    assert reverse("monitoring:service-checks", args=[service.pk]) in response.text


def test_other_orgs_customer_gets_404_on_uncovered_service_checks(
    client, other_org_viewer, globex_agreement, portal_history
):
    client.force_login(other_org_viewer)
    url = reverse("monitoring:service-checks", args=[portal_history["service"].pk])
    assert client.get(url).status_code == 404


def test_check_filters_narrow_history_and_summary(client, alice_manager, portal_history):
    client.force_login(alice_manager)
    url = reverse("monitoring:service-checks", args=[portal_history["service"].pk])
    response = client.get(url, {"status": "down"})
    assert response.context["summary"]["total"] == 2
    assert {row["check"].status for row in response.context["rows"]} == {"down"}

    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = client.get(url, {"checked_from": tomorrow})
    assert response.context["summary"]["total"] == 0
    assert response.context["outages"] == [] and response.context["maintenance"] == []


def test_check_history_is_paginated_newest_first(client, alice_manager, services, acme_agreement):
    portal = services["portal"]
    now = timezone.now().replace(microsecond=0)
    UptimeCheck.objects.bulk_create(
        UptimeCheck(service=portal, checked_at=now - timedelta(minutes=n), status="up")
        for n in range(60)
    )
    client.force_login(alice_manager)
    url = reverse("monitoring:service-checks", args=[portal.pk])
    page = client.get(url).context["page"]
    assert len(page) == 50 and page[0].checked_at == now
    assert len(client.get(url, {"page": 2}).context["page"]) == 10


def test_check_history_query_count_is_fixed(
    client, carol_customer, portal_history, django_assert_max_num_queries
):
    client.force_login(carol_customer)
    url = reverse("monitoring:service-checks", args=[portal_history["service"].pk])
    with django_assert_max_num_queries(11):
        client.get(url)


# --- In the browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_screenshots_of_ticket_timeline_and_check_history(
    new_page, carol_customer, paused_ticket, portal_history
):
    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto(reverse("monitoring:ticket-detail", args=[paused_ticket.pk]))
    assert page.get_by_role("heading", name="Timeline").is_visible()
    screenshot(page, "monitoring-ticket-detail")
    page.goto(reverse("monitoring:service-checks", args=[portal_history["service"].pk]))
    assert page.get_by_text("ongoing").first.is_visible()
    screenshot(page, "monitoring-service-checks")

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, "carol_customer", PASSWORD)
    phone.goto(reverse("monitoring:service-checks", args=[portal_history["service"].pk]))
    screenshot(phone, "monitoring-service-checks-phone")
    phone.goto(reverse("monitoring:ticket-list"))
    screenshot(phone, "monitoring-ticket-list-phone")
