"""The dashboard's live part is rendered once per data fingerprint and audience, then read
from the cache (``reporting.views.dashboards``): an unchanged page costs the fingerprint query,
a change renders anew, and a render is never shown to another organisation."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement
from reporting.views import dashboards as dashboard_views
from tests.test_dashboards import globex_active, two_customers  # noqa: F401

pytestmark = pytest.mark.django_db
# ruff: noqa: F811 (the fixtures of tests/test_dashboards.py)
DASHBOARD = reverse("reporting:dashboard")
LIVE = reverse("reporting:dashboard-live")
PARTIALS = {"reporting/_dashboard_customer.html", "reporting/_dashboard_provider.html"}
# session, user, organisation and the fingerprint
UNCHANGED_PAGE_QUERIES = 4


@pytest.fixture
def rendered():
    names: list[str] = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    yield names
    template_rendered.disconnect(record)


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, len(queries)


def _live_part(response) -> str:
    """The polled part of a page (the rest carries a fresh CSRF token each time)."""
    html = response.content.decode()
    return html[html.index('id="dashboard-live"') :]


def _version(html: str) -> str:
    return re.search(r'data-version="([^"]+)"', html).group(1)


@pytest.mark.parametrize("who", ["carol_customer", "alice_manager"])
def test_an_unchanged_page_is_read_from_the_cache(client, request, two_customers, rendered, who):
    client.force_login(request.getfixturevalue(who))
    first, cold = _get(client, DASHBOARD)
    rendered.clear()
    second, warm = _get(client, DASHBOARD)
    assert first.status_code == second.status_code == 200
    assert warm == UNCHANGED_PAGE_QUERIES < cold
    assert not PARTIALS & set(rendered)
    assert _live_part(second) == _live_part(first)
    # The changed-poll partial (another tab's version) is the same cached render.
    rendered.clear()
    live, live_queries = _get(client, LIVE + "?v=old")
    assert live.status_code == 200 and live_queries == UNCHANGED_PAGE_QUERIES
    assert not PARTIALS & set(rendered)


def test_a_change_renders_anew(client, two_customers, carol_customer):
    acme_agreement, _ = two_customers
    client.force_login(carol_customer)
    page = client.get(DASHBOARD).content.decode()
    version = _version(page)
    assert "Renamed for the test" not in page
    Agreement.objects.filter(pk=acme_agreement.pk).update(
        title="Renamed for the test", updated_at=timezone.now()
    )
    poll = client.get(f"{LIVE}?v={version}")
    assert poll.status_code == 200
    assert "Renamed for the test" in poll.content.decode()
    assert _version(poll.content.decode()) != version
    assert "Renamed for the test" in client.get(DASHBOARD).content.decode()


def test_another_organisation_never_gets_a_cached_render(
    client, two_customers, carol_customer, other_org_viewer, monkeypatch
):
    """Even with equal fingerprints (forced here), the cache key names the organisation."""
    acme_agreement, globex_agreement = two_customers
    monkeypatch.setattr(dashboard_views, "dashboard_fingerprint", lambda user: "same")
    client.force_login(carol_customer)
    acme_page = client.get(DASHBOARD).content.decode()
    assert acme_agreement.reference in acme_page and "ACME-1" in acme_page
    client.force_login(other_org_viewer)
    for url in (DASHBOARD, LIVE):
        page = client.get(url).content.decode()
        assert globex_agreement.reference in page and "GLOBEX-1" in page
        assert acme_agreement.reference not in page and "ACME-1" not in page


def test_empty_dashboards_of_two_organisations_stay_apart(
    client, carol_customer, other_org_viewer, active_acme_agreement
):
    """Globex has nothing in force: its (empty) page is its own, not Acme's."""
    client.force_login(carol_customer)
    assert active_acme_agreement.reference in client.get(DASHBOARD).content.decode()
    client.force_login(other_org_viewer)
    page = client.get(DASHBOARD).content.decode()
    assert active_acme_agreement.reference not in page and 'id="no-agreements"' in page


def test_viewers_and_approvers_see_the_same_render(
    client, two_customers, carol_customer, victor_viewer, rendered
):
    """The customer partial shows nothing that depends on the role, so one organisation's
    users may share a render: rendered for each without the cache, the two are equal."""
    with time_machine.travel(timezone.now(), tick=False):
        bodies = []
        for user in (carol_customer, victor_viewer):
            caches["dashboard"].clear()
            client.force_login(user)
            bodies.append(client.get(LIVE).content)
        assert bodies[0] == bodies[1]
        rendered.clear()
        client.force_login(carol_customer)
        assert client.get(LIVE).content == bodies[1]
        assert not PARTIALS & set(rendered)


def test_the_provider_view_is_not_shared_with_a_customer(
    client, two_customers, carol_customer, alice_manager, monkeypatch
):
    monkeypatch.setattr(dashboard_views, "dashboard_fingerprint", lambda user: "same")
    client.force_login(alice_manager)
    assert "Tickets at risk" in client.get(DASHBOARD).content.decode()
    client.force_login(carol_customer)
    assert "Tickets at risk" not in client.get(DASHBOARD).content.decode()


def test_countdowns_say_when_they_were_counted(client, two_customers, carol_customer):
    """A cached render's countdowns are as old as the render: readers without JavaScript
    are told when that was (the browser recounts them and hides the note)."""
    client.force_login(carol_customer)
    moment = timezone.localtime(timezone.now())
    with time_machine.travel(moment, tick=False):
        page = client.get(DASHBOARD).content.decode()
    assert f"Time left as of {moment:%H:%M}" in page


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dashboard": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
)
def test_the_page_works_when_the_cache_is_down(client, two_customers, carol_customer):
    client.force_login(carol_customer)
    for url in (DASHBOARD, LIVE):
        response = client.get(url)
        assert response.status_code == 200 and "ACME-1" in response.content.decode()
