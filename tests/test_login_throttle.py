"""Login throttling (django-axes): 30 wrong passwords lock one username from one address out of
the login page and the admin's for the cool-off, with a page that says so; others are not
affected, and the right password works again after the cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from sla_portal.core.models import Role
from tests.support.actors import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
HERE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


def _login(client, username: str, password: str, *, url: str = LOGIN, ip: str = HERE):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _hammer(client, username: str, *, url: str = LOGIN, times: int = 30) -> list[int]:
    return [_login(client, username, "wrong", url=url).status_code for _ in range(times)]


def test_thirty_wrong_passwords_then_the_right_one_is_refused(client, carol_customer):
    codes = _hammer(client, "carol_customer")
    limit = settings.AXES_FAILURE_LIMIT
    # The form answers as usual until the limit; from then on, the lockout page.
    assert set(codes[: limit - 1]) == {200}
    assert set(codes[limit:]) == {429}
    response = _login(client, "carol_customer", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_page_says_why_and_what_to_do(client, carol_customer):
    _hammer(client, "carol_customer", times=settings.AXES_FAILURE_LIMIT)
    response = _login(client, "carol_customer", PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "Too many failed logins" in page
    assert f"After {settings.AXES_FAILURE_LIMIT} wrong passwords" in page
    assert "15 minutes" in page  # the cool-off, in words
    assert 'href="/accounts/password_reset/"' in page


def test_the_admin_login_is_locked_out_too(client, provider_org):
    make_user("root_admin", provider_org, Role.PROVIDER_ADMIN, is_staff=True, is_superuser=True)
    codes = _hammer(client, "root_admin", url=ADMIN_LOGIN)
    assert codes[-1] == 429
    response = _login(client, "root_admin", PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_on_the_admin_login_count_for_the_portal_login(client, carol_customer):
    _hammer(client, "carol_customer", url=ADMIN_LOGIN)
    assert _login(client, "carol_customer", PASSWORD).status_code == 429


def test_another_user_from_the_same_address_is_unaffected(client, carol_customer, victor_viewer):
    """Lockout is per username and address: an office behind one NAT keeps working while
    one of its accounts is attacked."""
    _hammer(client, "carol_customer")
    response = _login(client, "victor_viewer", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(victor_viewer.pk)


def test_the_same_user_from_another_address_is_unaffected(client, carol_customer):
    _hammer(client, "carol_customer")
    response = _login(client, "carol_customer", PASSWORD, ip=ELSEWHERE)
    assert response.status_code == 302


def test_the_right_password_works_again_after_the_cool_off(client, carol_customer):
    _hammer(client, "carol_customer")
    assert _login(client, "carol_customer", PASSWORD).status_code == 429
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        response = _login(client, "carol_customer", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(carol_customer.pk)


def test_a_few_wrong_passwords_then_the_right_one_still_work(client, carol_customer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "carol_customer", "wrong").status_code == 200
    assert _login(client, "carol_customer", PASSWORD).status_code == 302


def test_the_test_client_login_needs_no_request(client, carol_customer):
    """Server-side logins (``Client.login``, management commands) pass no request; the throttle
    backend leaves them to the password check instead of failing."""
    assert client.login(username="carol_customer", password=PASSWORD)
