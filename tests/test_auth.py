import re

import pytest
from django.core import mail

from tests.support.actors import PASSWORD

pytestmark = pytest.mark.django_db


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_and_logout(client, carol_customer):
    response = client.post(
        "/accounts/login/", {"username": "carol_customer", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert "Welcome, Carol" in response.content.decode()
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, carol_customer):
    response = client.post("/accounts/login/", {"username": "carol_customer", "password": "x"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_password_change(client, carol_customer):
    client.force_login(carol_customer)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-secret-2026",
            "new_password2": "a-new-long-secret-2026",
        },
    )
    assert response.status_code == 302
    carol_customer.refresh_from_db()
    assert carol_customer.check_password("a-new-long-secret-2026")


def test_password_reset_by_email(client, carol_customer):
    response = client.post("/accounts/password_reset/", {"email": carol_customer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [carol_customer.email]
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", message.body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session-held one
    response = client.post(
        form_url, {"new_password1": "reset-secret-2026!", "new_password2": "reset-secret-2026!"}
    )
    assert response.status_code == 302
    carol_customer.refresh_from_db()
    assert carol_customer.check_password("reset-secret-2026!")
