"""Password-reset emails: at most PASSWORD_RESET_MAX_PER_ADDRESS per address and
PASSWORD_RESET_MAX_PER_IP per client an hour. Past the limit the page answers exactly as
usual, for known and unknown addresses alike, and sends nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

pytestmark = pytest.mark.django_db

RESET = "/accounts/password_reset/"


def ask(client, email: str, ip: str = "198.51.100.20"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip)


def test_three_emails_per_address_then_none_with_the_same_answer(client, carol_customer):
    answers = [ask(client, carol_customer.email) for _ in range(5)]
    assert len(mail.outbox) == 3
    assert {a.status_code for a in answers} == {302}
    assert {a["Location"] for a in answers} == {"/accounts/password_reset/done/"}


def test_the_limit_reads_the_address_case_insensitively(client, carol_customer):
    for email in ("carol_customer@acme.example", "CAROL_customer@acme.example") * 2:
        ask(client, email)
    assert len(mail.outbox) == 3


def test_an_unknown_address_gets_the_same_answer_below_and_past_the_limit(client):
    answers = [ask(client, "nobody@nowhere.example") for _ in range(5)]
    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, "/accounts/password_reset/done/")
    }
    assert mail.outbox == []


def test_other_addresses_still_get_their_email(client, carol_customer, victor_viewer):
    for _ in range(4):
        ask(client, carol_customer.email)
    ask(client, victor_viewer.email)
    assert [m.to for m in mail.outbox][-1] == [victor_viewer.email]


def test_one_client_is_limited_across_addresses(client, settings, carol_customer, victor_viewer):
    settings.PASSWORD_RESET_MAX_PER_IP = 2
    for email in (carol_customer.email, victor_viewer.email, "x@nowhere.example"):
        ask(client, email)
    ask(client, victor_viewer.email)
    assert len(mail.outbox) == 2
    ask(client, victor_viewer.email, ip="203.0.113.50")
    assert len(mail.outbox) == 3


def test_the_limit_lifts_after_an_hour(client, carol_customer, settings):
    # The window is counted by the cache's expiry, which this test cannot move: a fresh cache
    # entry after the hour is what expiry leaves behind.
    for _ in range(4):
        ask(client, carol_customer.email)
    assert len(mail.outbox) == 3
    from django.core.cache import cache

    cache.clear()
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        ask(client, carol_customer.email)
    assert len(mail.outbox) == 4
