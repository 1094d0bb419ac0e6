"""Dashboards at volume: the same queries and a bounded page whatever lies behind them, and
a live poll that answers 204 from its fingerprint, without rendering, until something the
page shows changes (and only then: time passing is not a change)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.db import connection
from django.db.models import F, Min
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, Review
from monitoring.evaluation.actions import breach_root_cause_set
from monitoring.models import Breach, MaintenanceWindow, Outage, PeriodResult, Source, Ticket
from sla_portal.core.models import Notification
from tests.support.volume import fill_history
from tests.test_dashboards import evaluate, globex_active, open_ticket, two_customers  # noqa: F401

pytestmark = pytest.mark.django_db
# ruff: noqa: F811 (the fixtures of tests/test_dashboards.py)

DASHBOARD = reverse("reporting:dashboard")
LIVE = reverse("reporting:dashboard-live")


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, len(queries)


def _version(client) -> str:
    page = client.get(DASHBOARD).content.decode()
    start = page.index('data-version="') + len('data-version="')
    return page[start : page.index('"', start)]


def _poll(client, version: str):
    return client.get(LIVE, {"v": version})


@pytest.fixture
def rendered():
    names: list[str] = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    yield names
    template_rendered.disconnect(record)


# --- (a) The same queries and a bounded page, at ten tickets or thousands -----------------------


@pytest.mark.parametrize("who", ["carol_customer", "alice_manager"])
def test_dashboard_costs_the_same_queries_and_size_with_much_more_history(
    client, request, two_customers, who
):
    acme_agreement, _ = two_customers
    client.force_login(request.getfixturevalue(who))
    client.get(DASHBOARD)  # warm the session

    def measure():
        # The cost of building and rendering, not of reading the cached render.
        caches["dashboard"].clear()
        page, page_queries = _get(client, DASHBOARD)
        caches["dashboard"].clear()
        live, live_queries = _get(client, LIVE)
        assert page.status_code == 200 and live.status_code == 200
        return page_queries, live_queries, len(page.content), len(live.content)

    small = measure()
    template = Ticket.objects.get(external_id="ACME-1")
    fill_history(template, tickets=3000, breaches=2000, open_timers=300, prefix="BULK")
    assert Breach.objects.filter(agreement=acme_agreement).count() >= 2000
    big = measure()
    fill_history(template, tickets=3000, breaches=2500, open_timers=600, prefix="MORE")
    bigger = measure()

    assert small[:2] == big[:2] == bigger[:2], (small, big, bigger)
    # Full lists are now top-N lists: twice the history, the same page (give or take the
    # digits of the counts).
    assert abs(bigger[2] - big[2]) < 200 and abs(bigger[3] - big[3]) < 200


def test_customer_lists_are_the_nearest_and_newest_with_counts_and_links(
    client, two_customers, carol_customer
):
    acme_agreement, _ = two_customers
    fill_history(
        Ticket.objects.get(external_id="ACME-1"), tickets=400, breaches=150, open_timers=40
    )
    client.force_login(carol_customer)
    page = client.get(DASHBOARD).content.decode()
    open_count = acme_agreement.ticket_timers.filter(stopped_at__isnull=True).count()
    assert page.count('data-countdown="threshold"') == 20
    assert f"All open tickets of {acme_agreement.reference}" in page
    assert f"the 20 nearest of {open_count} open ticket targets" in page
    assert f"?agreement={acme_agreement.pk}&amp;state=open" in page
    assert page.count('data-key="breach-') == 10
    breaches = acme_agreement.breaches.count()
    assert f"10 latest of {breaches}" in page
    history = reverse("reporting:agreement-breaches", args=[acme_agreement.pk])
    assert history in page
    # The nearest deadlines first: the originals (minutes away) before the clones (a day).
    section = page[page.index('class="table table-sm dash-tickets') :]
    assert section.index('data-ticket="ACME-1"') < section.index('data-ticket="FILL-1"')


def test_breach_history_is_paginated_and_scoped(
    client, two_customers, carol_customer, other_org_viewer
):
    acme_agreement, _ = two_customers
    fill_history(Ticket.objects.get(external_id="ACME-1"), tickets=120, breaches=110, open_timers=5)
    url = reverse("reporting:agreement-breaches", args=[acme_agreement.pk])
    client.force_login(carol_customer)
    first = client.get(url).content.decode()
    assert "110 breaches, newest first" in first and "Page 1 of 3" in first
    assert client.get(url, {"page": 3}).status_code == 200
    assert client.get(url, {"page": "x"}).status_code == 200
    client.force_login(other_org_viewer)
    assert client.get(url).status_code == 404


# --- (b), (c) The poll: 204 without rendering, also after time passes ---------------------------


@pytest.mark.parametrize("who", ["carol_customer", "alice_manager"])
def test_unchanged_poll_is_204_from_one_query_without_rendering(
    client, request, two_customers, who, rendered, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(who))
    version = _version(client)
    _poll(client, version)  # the session is read once more
    rendered.clear()
    with django_assert_num_queries(4):  # session, user, organisation, fingerprint
        assert _poll(client, version).status_code == 204
    assert rendered == []


@pytest.mark.parametrize("who", ["carol_customer", "alice_manager"])
def test_poll_stays_204_while_only_time_passes(mid_month, client, request, two_customers, who):
    """From a fixed mid-morning (``mid_month``): two hours later is still the same day, so
    the provider's fingerprint (which holds today's date) cannot change under the test."""
    client.force_login(request.getfixturevalue(who))
    version = _version(client)
    now = timezone.now()
    # Within the day and the period: the countdowns change, the page does not.
    period_end = PeriodResult.objects.filter(period_start__lte=now, period_end__gt=now).aggregate(
        end=Min("period_end")
    )["end"]
    shift = min(timedelta(hours=2), (period_end - now) / 2)
    with time_machine.travel(now + shift):
        assert _poll(client, version).status_code == 204


@pytest.mark.parametrize("who", ["carol_customer", "alice_manager"])
def test_poll_after_a_period_boundary_is_200(client, request, two_customers, who):
    """The current period is part of what the page shows (the provider's lights read the
    period containing now): crossing its end is a change even before a new row is written."""
    acme_agreement, _ = two_customers
    user = request.getfixturevalue(who)
    client.force_login(user)
    version = _version(client)
    now = timezone.now()
    end = PeriodResult.objects.filter(
        agreement=acme_agreement, period_start__lte=now, period_end__gt=now
    ).earliest("period_end")
    with time_machine.travel(end.period_end + timedelta(minutes=1)):
        client.force_login(user)  # the session may have expired by then
        assert _poll(client, version).status_code == 200


# --- (d) Every kind of change shows at the next poll ------------------------------------------


CUSTOMER_CHANGES = {
    "new evaluation": lambda a: PeriodResult.objects.filter(agreement=a, closed_at=None).update(
        evaluated_at=F("evaluated_at") + timedelta(seconds=1)
    ),
    "new breach": lambda a: Breach.objects.create(
        agreement=a,
        customer=a.customer,
        target_key="x",
        target_label="Resolution (P1)",
        ticket=Ticket.objects.get(external_id="ACME-2"),
        level="breached",
        opened_at=timezone.now(),
        value_text="NEWBREACH",
    ),
    "closed breach": lambda a: Breach.objects.filter(agreement=a).update(closed_at=timezone.now()),
    "new period result": lambda a: PeriodResult.objects.create(
        **{
            f.name: getattr(PeriodResult.objects.filter(agreement=a).first(), f.name)
            for f in PeriodResult._meta.concrete_fields
            if f.name not in ("id", "period_start", "period_end")
        }
        | {
            "period_start": timezone.now() - timedelta(days=400),
            "period_end": timezone.now() - timedelta(days=399),
        }
    ),
    # Data rows name the customer's source: data belongs to the source that sent it.
    "outage": lambda a: Outage.objects.create(
        service=a.services.first(),
        source=Source.objects.filter(customer=a.customer).first(),
        started_at=timezone.now() - timedelta(minutes=5),
    ),
    "maintenance": lambda a: MaintenanceWindow.objects.create(
        service=a.services.first(),
        source=Source.objects.filter(customer=a.customer).first(),
        external_id="mw-1",
        title="Patch night",
        starts_at=timezone.now() + timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=2),
    ),
    "agreement status": lambda a: Agreement.objects.filter(pk=a.pk).update(status="suspended"),
    "new open ticket": lambda a: (
        open_ticket(Ticket.objects.get(external_id="ACME-1").source, a, "NEW-1", "P1", 1),
        evaluate(),
    ),
}


@pytest.mark.parametrize("change", list(CUSTOMER_CHANGES))
def test_customer_poll_is_200_after_each_kind_of_change(
    client, two_customers, carol_customer, change
):
    acme_agreement, _ = two_customers
    if change == "closed breach":
        CUSTOMER_CHANGES["new breach"](acme_agreement)
    client.force_login(carol_customer)
    version = _version(client)
    assert _poll(client, version).status_code == 204
    CUSTOMER_CHANGES[change](acme_agreement)
    response = _poll(client, version)
    assert response.status_code == 200
    assert _version(client) != version
    html = response.content.decode()
    if change == "new breach":
        assert "NEWBREACH" in html
    if change == "maintenance":
        assert "Patch night" in html
    if change == "new open ticket":
        assert 'data-ticket="NEW-1"' in html


def test_customer_poll_is_200_after_a_root_cause_is_written(
    client, two_customers, carol_customer, alice_manager
):
    acme_agreement, _ = two_customers
    breach = CUSTOMER_CHANGES["new breach"](acme_agreement)
    client.force_login(carol_customer)
    version = _version(client)
    breach_root_cause_set(breach, alice_manager, "Disk full on the database host")
    response = _poll(client, version)
    assert response.status_code == 200 and "Disk full" in response.content.decode()


def test_other_organisations_changes_do_not_wake_a_customers_poll(
    client, two_customers, other_org_viewer
):
    acme_agreement, _ = two_customers
    client.force_login(other_org_viewer)
    version = _version(client)
    CUSTOMER_CHANGES["new breach"](acme_agreement)
    CUSTOMER_CHANGES["outage"](acme_agreement)
    assert _poll(client, version).status_code == 204


def test_provider_poll_is_200_after_each_kind_of_change(client, two_customers, alice_manager):
    acme_agreement, _ = two_customers
    client.force_login(alice_manager)
    for change in ("new breach", "closed breach", "new evaluation", "agreement status"):
        version = _version(client)
        assert _poll(client, version).status_code == 204
        CUSTOMER_CHANGES[change](acme_agreement)
        assert _poll(client, version).status_code == 200, change

    version = _version(client)
    review = Review.objects.filter(agreement=acme_agreement).first()
    Review.objects.filter(pk=review.pk).update(due_date=timezone.localdate() + timedelta(days=5))
    assert _poll(client, version).status_code == 200, "review"

    version = _version(client)
    Notification.objects.create(
        key="test:1",
        kind="alert.breached",
        recipient="x@example.com",
        subject="Delivery failed",
        status="failed",
        attempts=3,
    )
    response = _poll(client, version)
    assert response.status_code == 200 and "Delivery failed" in response.content.decode()
