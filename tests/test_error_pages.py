"""Error pages: styled, helpful pages for people in every mode (DEBUG on and off), JSON for the API.

Runs on this module as the URLconf: the portal's own URLs and handlers, plus three views
that fail on purpose (a malformed request, a suspicious one and a bug), since no view of the
portal may answer 400 by exception or 500.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import path

from sla_portal.core import errors
from sla_portal.urls import handler400, handler403, handler404, handler500
from sla_portal.urls import urlpatterns as portal_urlpatterns


def _malformed(request: HttpRequest):
    raise BadRequest("malformed")


def _suspicious(request: HttpRequest):
    raise SuspiciousOperation("a tampered value")


def _bug(request: HttpRequest):
    raise RuntimeError("a bug in a view")


urlpatterns = [
    *portal_urlpatterns,
    path("test-errors/400/", _malformed),
    path("test-errors/400-suspicious/", _suspicious),
    path("test-errors/500/", _bug),
    path("api/test-errors/400/", _malformed),
    path("api/test-errors/500/", _bug),
]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

TECHNICAL = ("Using the URLconf", "Traceback", "Django tried these URL patterns", "Request Method")


@pytest.fixture(params=["production", "debug"])
def mode(request, settings) -> str:
    """Every page is checked with DEBUG off (production) and on (`make run`)."""
    settings.DEBUG = request.param == "debug"
    settings.DEBUG_ERROR_PAGES = False
    return request.param


@pytest.fixture
def browser_client() -> Client:
    # A bug must answer a page, not re-raise into the test.
    return Client(raise_request_exception=False, HTTP_ACCEPT="text/html")


def assert_styled_page(response, status: int, heading: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<html lang="en">' in html, "extends base.html"
    assert 'aria-label="Main navigation"' in html
    assert f"Error {status}" in html
    assert heading in html
    assert 'href="/"' in html, "a way Home"
    for marker in TECHNICAL:
        assert marker not in html, f"technical page leaked ({marker!r})"
    return html


def test_unknown_address_is_a_styled_404(mode, browser_client):
    response = browser_client.get("/no-such-page/")
    html = assert_styled_page(response, 404, "Page not found")
    assert "There is no page at this address" in html
    assert '<code class="text-break">/no-such-page/</code>' in html
    assert "Log in" in html, "an anonymous visitor is offered the login"


def test_missing_object_is_a_styled_404_without_django_wording(mode, browser_client, alice_manager):
    browser_client.force_login(alice_manager)
    response = browser_client.get("/organisations/no-such-organisation/")
    html = assert_styled_page(response, 404, "Page not found")
    assert "matches the given query" not in html
    assert "Alice" in html, "the navigation of the logged-in user"
    assert 'href="/accounts/login/' not in html


def test_refused_page_is_a_styled_403_that_names_the_role(mode, browser_client, carol_customer):
    browser_client.force_login(carol_customer)
    response = browser_client.get("/agreements/new/", HTTP_REFERER="http://testserver/agreements/")
    html = assert_styled_page(response, 403, "You cannot do this here")
    assert carol_customer.display_name in html
    assert carol_customer.get_role_display().lower() in html
    assert 'href="http://testserver/agreements/"' in html, "back to where they came from"


def test_back_link_never_points_outside_the_portal(mode, browser_client, carol_customer):
    browser_client.force_login(carol_customer)
    response = browser_client.get("/agreements/new/", HTTP_REFERER="https://evil.example/")
    html = assert_styled_page(response, 403, "You cannot do this here")
    assert "evil.example" not in html
    assert "Back to the previous page" not in html


def test_anonymous_403_offers_login_and_return(mode, browser_client):
    request = RequestFactory().get("/agreements/new/?x=1")
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    request.user = AnonymousUser()
    response = errors.permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert 'href="/accounts/login/?next=/agreements/new/%3Fx%3D1"' in html
    assert "Your role does not give access" in html


def test_csrf_failure_is_a_styled_403_with_the_remedy(mode, settings):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    html = assert_styled_page(response, 403, "The form could not be sent")
    assert "reload the page and send the form again" in html
    # The technical reason is for developers only.
    assert ("CSRF cookie not set" in html) == (mode == "debug")


@pytest.mark.parametrize("url", ["/test-errors/400/", "/test-errors/400-suspicious/"])
def test_malformed_request_is_a_styled_400(mode, browser_client, url):
    response = browser_client.get(url)
    html = assert_styled_page(response, 400, "The request could not be understood")
    assert "Nothing was changed" in html


def test_bug_is_a_styled_500_and_its_traceback_is_logged(mode, browser_client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = browser_client.get("/test-errors/500/")
    html = assert_styled_page(response, 500, "Something went wrong on our side")
    assert "a bug in a view" not in html
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and "a bug in a view" in str(logged[0].exc_info[1]), "the terminal sees it"


def test_500_page_renders_even_when_the_page_context_fails(mode, browser_client, monkeypatch):
    def broken_render(*args, **kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(errors, "render", broken_render)
    response = browser_client.get("/test-errors/500/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_debug_error_pages_setting_brings_back_djangos_technical_pages(settings, browser_client):
    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = True
    assert "Django tried these URL patterns" in browser_client.get("/no-such/").content.decode()
    assert "a bug in a view" in browser_client.get("/test-errors/500/").content.decode()


# --- The API keeps answering JSON -------------------------------------------------------------


def test_api_unknown_address_is_json_404(mode, browser_client):
    response = browser_client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_api_missing_object_is_json_404(mode, client, alice_manager):
    client.force_login(alice_manager)
    response = client.get("/api/agreements/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_api_refusal_is_json_403(mode, client, carol_customer):
    client.force_login(carol_customer)
    response = client.post("/api/tiers/", {}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("url", "status"), [("/api/test-errors/400/", 400), ("/api/test-errors/500/", 500)]
)
def test_api_failures_are_json(mode, browser_client, url, status):
    response = browser_client.get(url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_api_csrf_failure_is_json():
    response = errors.csrf_failure(RequestFactory().post("/api/me/"), reason="CSRF token missing.")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"detail": "CSRF failed: CSRF token missing."}


def test_api_docs_page_errors_are_not_json(mode, browser_client):
    """The documentation page is a page for people, under /api/ though it is."""
    response = browser_client.get("/api/docs/no-such-page/")
    assert_styled_page(response, 404, "Page not found")
