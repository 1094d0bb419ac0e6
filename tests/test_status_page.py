"""The public status page: what it shows, to whom, how it caches, and its subscriptions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import MaintenanceWindow, Outage, Source, UptimeCheck
from reporting.models import StatusNotice, StatusPage, Subscriber, SubscriberDelivery
from reporting.services.status import (
    deliver_notice,
    incident_create,
    incident_update_post,
    maintenance_notices_send,
    status_page_rotate,
    status_page_set_enabled,
    subscribe,
    subscriber_confirm,
)
from reporting.services.status_emails import confirm_token, unsubscribe_token
from reporting.status_bars import daily_uptime, overall_uptime
from sla_portal.core.models import Notification
from tests.support.status import confirmed_subscriber

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


# --- Daily uptime arithmetic (no database) -------------------------------------------------


@pytest.mark.django_db(transaction=False)
def test_a_day_with_36_minutes_down_has_97_5_percent_uptime():
    day = datetime(2026, 12, 5, tzinfo=UTC)
    outages = [(day + timedelta(hours=10), day + timedelta(hours=10, minutes=36))]
    bars = daily_uptime(outages, measured_from=day - timedelta(days=30), now=T0, days=3)
    assert [bar.day.isoformat() for bar in bars] == ["2026-12-05", "2026-12-06", "2026-12-07"]
    assert bars[0].uptime == pytest.approx(97.5)
    assert bars[0].level == "outage"
    assert bars[1].uptime == 100 and bars[1].level == "operational"
    # Today is the day so far: 12 hours measured.
    assert bars[2].measured_seconds == 12 * 3600


def test_overlapping_outages_of_two_sources_count_once_and_days_before_evidence_have_no_data():
    day = datetime(2026, 12, 6, tzinfo=UTC)
    outages = [
        (day + timedelta(hours=1), day + timedelta(hours=2)),
        (day + timedelta(hours=1, minutes=30), day + timedelta(hours=2, minutes=24)),
    ]
    bars = daily_uptime(outages, measured_from=day, now=T0, days=3)
    assert bars[0].uptime is None and bars[0].level == "nodata"
    assert bars[1].down_seconds == 84 * 60
    assert overall_uptime(bars) == pytest.approx((36 * 3600 - 84 * 60) / (36 * 3600) * 100)


def test_an_open_outage_runs_until_now_and_a_never_measured_service_has_no_data():
    bars = daily_uptime(
        [(T0 - timedelta(hours=6), None)], measured_from=T0 - timedelta(days=2), now=T0, days=1
    )
    assert bars[0].uptime == pytest.approx(50.0)
    assert all(bar.uptime is None for bar in daily_uptime([], None, T0, days=90))
    assert overall_uptime(daily_uptime([], None, T0, days=90)) is None


# --- The link ------------------------------------------------------------------------------


def test_the_link_carries_256_random_bits_and_only_their_hash_is_stored(acme_status_page):
    page, token = acme_status_page
    assert len(token) >= 43  # 32 bytes, URL-safe base64
    assert page.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = StatusPage.objects.filter(pk=page.pk).values()[0]
    assert token not in str(stored)
    assert Client().get(f"/status/{token}/").status_code == 200


def test_rotated_and_disabled_links_answer_404(acme_status_page, settings):
    page, token = acme_status_page
    client = Client()
    assert client.get(f"/status/{token}/").status_code == 200
    new = status_page_rotate(page)
    assert client.get(f"/status/{token}/").status_code == 404
    assert client.get(f"/status/{new}/").status_code == 200
    status_page_set_enabled(page, False)
    assert client.get(f"/status/{new}/").status_code == 404
    status_page_set_enabled(page, True)
    assert client.get(f"/status/{new}/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/status/" + "A" * 43 + "/",
        "/status/short/",
        "/status/" + "x" * 5000 + "/",
        "/status/%00%ff" + "a" * 30 + "/",
        "/status/confirm/garbage/",
        "/status/unsubscribe/garbage/",
    ],
)
def test_unknown_or_malformed_links_never_answer_500(path, db):
    response = Client().get(path)
    assert response.status_code in (200, 404)  # confirm/unsubscribe GET only ask


# --- What the page shows -------------------------------------------------------------------


def test_page_shows_state_bars_incidents_newest_update_first_and_maintenance(
    acme_status_page, acme_monitor, services, alice_manager
):
    page, token = acme_status_page
    portal = services["portal"]
    now = timezone.now()
    UptimeCheck.objects.create(
        service=portal, source=acme_monitor, checked_at=now - timedelta(days=20), status="up"
    )
    Outage.objects.create(
        service=portal, source=acme_monitor, started_at=now - timedelta(minutes=20)
    )
    MaintenanceWindow.objects.create(
        service=portal,
        source=acme_monitor,
        external_id="CHG-1",
        title="Database upgrade",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=2),
    )
    incident = incident_create(
        page.customer,
        "Portal unreachable",
        "outage",
        [portal],
        "We are looking into it.",
        alice_manager,
        internal_note="Root cause: SECRET-FIREWALL-RULE",
    )
    incident_update_post(incident, "identified", "A firewall change; rolling back.", alice_manager)
    body = Client().get(f"/status/{token}/").content.decode()
    assert "Customer Portal" in body
    assert "Outage" in body and "Some services have an outage" in body
    assert body.index("A firewall change") < body.index("We are looking into it.")
    assert "Database upgrade" in body
    assert "SECRET-FIREWALL-RULE" not in body
    assert body.count('class="day-') == 90
    # Every bar says its day and figure in words, not only in colour.
    assert "no data" in body and "% uptime" in body


def test_maintenance_in_progress_shows_under_maintenance(acme_status_page, acme_monitor, services):
    _page, token = acme_status_page
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=services["portal"],
        source=acme_monitor,
        external_id="CHG-2",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    body = Client().get(f"/status/{token}/").content.decode()
    assert "Under maintenance" in body and "In progress" in body


def test_page_shows_no_data_of_another_customer(
    acme_status_page, active_globex_agreement, services, globex, alice_manager
):
    _page, token = acme_status_page
    # Globex's own monitor says the shared Customer Portal is down, and Globex has an
    # incident on its own service: neither is Acme's.
    globex_monitor = Source.objects.create(customer=globex, name="Globex monitor")
    Outage.objects.create(
        service=services["portal"], source=globex_monitor, started_at=timezone.now()
    )
    incident_create(
        globex, "Globex records slow", "degraded", [services["records"]], "Slow.", alice_manager
    )
    body = Client().get(f"/status/{token}/").content.decode()
    assert "All systems operational" in body
    assert "Globex" not in body and "Patient Records" not in body


def test_an_incident_for_another_customers_service_is_refused(
    acme_status_page, active_globex_agreement, services, alice_manager
):
    from django.core.exceptions import ValidationError

    page, _ = acme_status_page
    with pytest.raises(ValidationError) as refused:
        incident_create(page.customer, "Wrong", "outage", [services["records"]], "x", alice_manager)
    assert "services" in refused.value.message_dict


# --- Caching ---------------------------------------------------------------------------------


def test_page_is_public_cacheable_and_answers_304_to_its_etag(
    acme_status_page, services, alice_manager
):
    page, token = acme_status_page
    client = Client()
    first = client.get(f"/status/{token}/")
    assert first.status_code == 200
    assert "public" in first["Cache-Control"] and "max-age=30" in first["Cache-Control"]
    assert not first.cookies  # nothing of the visitor: one rendering serves everyone
    etag = first["ETag"]
    again = client.get(f"/status/{token}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    incident_create(
        page.customer, "Slow pages", "degraded", [services["portal"]], "Looking.", alice_manager
    )
    from django.core.cache import cache

    cache.clear()  # the stamp is kept for a few seconds; a test does not wait for it
    changed = client.get(f"/status/{token}/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "Slow pages" in changed.content.decode()


def test_a_crowd_costs_no_query_per_request_once_cached(
    acme_status_page, django_assert_max_num_queries, monkeypatch
):
    _, token = acme_status_page
    # The stamp is kept 5 s; a slow machine must not turn that into a flaky count.
    monkeypatch.setattr("reporting.views.status.STAMP_CACHE_SECONDS", 300)
    client = Client()
    client.get(f"/status/{token}/")
    with django_assert_max_num_queries(0):
        for _ in range(20):
            assert client.get(f"/status/{token}/").status_code == 200


# --- Subscriptions ---------------------------------------------------------------------------


def test_subscribing_sends_one_confirmation_and_nothing_else_until_confirmed(
    acme_status_page, services, alice_manager
):
    page, token = acme_status_page
    response = Client().post(f"/status/{token}/subscribe/", {"email": " Dana@Example.com "})
    assert response.status_code == 200 and b"Check your inbox" in response.content
    subscriber = Subscriber.objects.get(page=page)
    assert subscriber.email == "dana@example.com" and not subscriber.is_active
    confirmations = Notification.objects.filter(kind="status.confirm")
    assert [row.recipient for row in confirmations] == ["dana@example.com"]
    assert "/status/confirm/" in confirmations[0].body_text
    incident_create(page.customer, "Down", "outage", [services["portal"]], "x", alice_manager)
    assert not Notification.objects.filter(kind="status.notice").exists()


def test_confirmation_link_works_once_and_expires(acme_status_page, settings):
    page, _ = acme_status_page
    subscribe(page, "erin@example.com", "10.0.0.1")
    subscriber = Subscriber.objects.get(email="erin@example.com")
    link = confirm_token(subscriber)
    client = Client(enforce_csrf_checks=False)
    assert client.get(f"/status/confirm/{link}/").status_code == 200  # asks only
    assert not Subscriber.objects.get(pk=subscriber.pk).is_active
    assert client.post(f"/status/confirm/{link}/").status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).is_active
    assert client.post(f"/status/confirm/{link}/").status_code == 400  # spent
    assert client.post("/status/confirm/" + link[:-3] + "abc/").status_code == 400  # forged

    subscribe(page, "fay@example.com", "10.0.0.1")
    late = Subscriber.objects.get(email="fay@example.com")
    settings.STATUS_CONFIRM_MAX_AGE_SECONDS = -1
    assert subscriber_confirm(confirm_token(late)).result == "expired"
    assert b"expired" in client.post(f"/status/confirm/{confirm_token(late)}/").content


def test_each_notice_reaches_each_confirmed_subscriber_exactly_once(
    acme_status_page, services, alice_manager
):
    page, _ = acme_status_page
    dana = confirmed_subscriber(page, "dana@example.com")
    subscribe(page, "pending@example.com", "10.0.0.2")  # never confirmed
    incident = incident_create(
        page.customer, "Down", "outage", [services["portal"]], "Looking.", alice_manager
    )
    notice = StatusNotice.objects.get(page=page)
    assert deliver_notice(notice) == 0  # announced again: nothing new
    rows = Notification.objects.filter(kind="status.notice")
    assert [row.recipient for row in rows] == ["dana@example.com"]
    assert SubscriberDelivery.objects.filter(subscriber=dana, notice=notice).count() == 1
    assert rows[0].headers["List-Unsubscribe"].startswith("<http")
    assert rows[0].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    incident_update_post(incident, "resolved", "Back up.", alice_manager)
    assert Notification.objects.filter(kind="status.notice").count() == 2
    subjects = list(
        Notification.objects.filter(kind="status.notice").values_list("subject", flat=True)
    )
    assert any(subject.startswith("[Resolved] Down") for subject in subjects)


def test_unsubscribe_is_one_click_without_a_session_and_stops_notices(
    acme_status_page, services, alice_manager
):
    page, _ = acme_status_page
    dana = confirmed_subscriber(page, "dana@example.com")
    client = Client(enforce_csrf_checks=True)
    # What a mail program sends for List-Unsubscribe-Post: no cookie, no CSRF token.
    response = client.post(
        f"/status/unsubscribe/{unsubscribe_token(dana)}/", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and b"Unsubscribed" in response.content
    assert Subscriber.objects.get(pk=dana.pk).unsubscribed_at is not None
    incident_create(page.customer, "Down", "outage", [services["portal"]], "x", alice_manager)
    assert not Notification.objects.filter(kind="status.notice").exists()


def test_subscribe_requests_are_limited_per_address_and_client(acme_status_page, settings):
    _, token = acme_status_page
    settings.STATUS_SUBSCRIBE_MAX_PER_ADDRESS = 2
    settings.STATUS_SUBSCRIBE_MAX_PER_IP = 3
    client = Client()
    url = f"/status/{token}/subscribe/"
    assert client.post(url, {"email": "a@example.com"}).status_code == 200
    assert client.post(url, {"email": "a@example.com"}).status_code == 200
    limited = client.post(url, {"email": "A@example.com"})
    assert limited.status_code == 429 and limited["Retry-After"] == "3600"
    assert client.post(url, {"email": "b@example.com"}).status_code == 429  # 4th from this IP
    # Each allowed request sent a link (the same one while it is pending); no more.
    assert Notification.objects.filter(kind="status.confirm").count() == 2


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": ""},
        {"email": "not-an-address"},
        {"email": "a" * 5000 + "@x.com"},
        {"email": "x@example.com\r\nBcc: y@example.com"},
        {"email": "\x00@example.com"},
    ],
)
def test_bad_subscribe_input_gets_a_clear_400(acme_status_page, data):
    _, token = acme_status_page
    response = Client().post(f"/status/{token}/subscribe/", data)
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def test_subscribing_on_a_disabled_page_answers_404(acme_status_page):
    page, token = acme_status_page
    status_page_set_enabled(page, False)
    response = Client().post(f"/status/{token}/subscribe/", {"email": "a@example.com"})
    assert response.status_code == 404


def test_upcoming_maintenance_is_announced_once(acme_status_page, acme_monitor, services):
    page, _ = acme_status_page
    confirmed_subscriber(page, "dana@example.com")
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=services["portal"],
        source=acme_monitor,
        external_id="CHG-9",
        title="Kernel patches",
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=1),
    )
    MaintenanceWindow.objects.create(  # too far ahead for now
        service=services["portal"],
        source=acme_monitor,
        external_id="CHG-10",
        starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=30, hours=1),
    )
    assert maintenance_notices_send(now) == 1
    assert maintenance_notices_send(now) == 0
    rows = Notification.objects.filter(kind="status.notice")
    assert rows.count() == 1 and "Scheduled maintenance" in rows[0].subject
    assert "Kernel patches" in rows[0].body_text


def test_confirmation_and_notice_emails_render_all_three_parts(
    acme_status_page, services, alice_manager, settings
):
    _page, token = acme_status_page
    Client().post(f"/status/{token}/subscribe/", {"email": "dana@example.com"})
    confirmation = Notification.objects.get(kind="status.confirm")
    assert confirmation.subject == "Confirm your subscription to Acme Logistics status"
    assert "Confirm subscription" in confirmation.body_html
    assert reverse("status-confirm", args=["x"]).rsplit("x", 1)[0] in confirmation.body_text
    assert not mail.outbox  # queued for the mail process, not sent from the request


def test_subscribing_again_when_subscribed_sends_nothing_and_changes_nothing(acme_status_page):
    page, _ = acme_status_page
    dana = confirmed_subscriber(page, "dana@example.com")
    assert subscribe(page, "DANA@example.com", "10.0.0.9").result == "ok"
    assert Subscriber.objects.get(pk=dana.pk).is_active
    assert not Notification.objects.filter(kind="status.confirm").exists()


def test_resubscribing_after_unsubscribing_needs_a_new_confirmation(acme_status_page):
    page, _ = acme_status_page
    dana = confirmed_subscriber(page, "dana@example.com")
    Subscriber.objects.filter(pk=dana.pk).update(unsubscribed_at=timezone.now())
    subscribe(page, "dana@example.com", "10.0.0.9")
    dana.refresh_from_db()
    assert not dana.is_active and dana.confirm_nonce
    assert Notification.objects.filter(kind="status.confirm").count() == 1


def test_unmeasured_time_leaves_the_days_measured_time():
    day = datetime(2026, 12, 6, tzinfo=UTC)
    silent = [(day + timedelta(hours=12), day + timedelta(hours=36))]
    outage = [(day + timedelta(hours=6), day + timedelta(hours=12))]
    bars = daily_uptime(outage, day - timedelta(days=1), now=T0, days=2, unmeasured=silent)
    assert bars[0].measured_seconds == 12 * 3600 and bars[0].uptime == pytest.approx(50.0)
    assert bars[1].uptime is None  # today up to noon: all silent


def test_a_service_whose_monitor_went_quiet_shows_no_recent_data_not_operational(
    acme_status_page, acme_monitor, services
):
    _, token = acme_status_page
    now = timezone.now()
    UptimeCheck.objects.create(
        service=services["portal"],
        source=acme_monitor,
        checked_at=now - timedelta(days=3),
        status="down",
    )
    Outage.objects.create(
        service=services["portal"], source=acme_monitor, started_at=now - timedelta(days=3)
    )
    Source.objects.filter(pk=acme_monitor.pk).update(
        last_data_at=now - timedelta(days=3),
        stale_at=now - timedelta(days=3) + timedelta(minutes=10),
    )
    body = Client().get(f"/status/{token}/").content.decode()
    assert "No recent data" in body and "Some services have no recent monitoring data" in body
    # The open outage ends where the evidence ends: the last two days are unmeasured, not down.
    # Only the ten minutes of evidence three days ago are measured (one bar, two if they
    # straddle midnight), and down; every later day is no data, none of them operational.
    assert body.count('class="day-outage"') in (1, 2)
    assert body.count('class="day-nodata"') == 90 - body.count('class="day-outage"')


def test_silence_that_counts_as_down_is_an_outage(acme_status_page, acme_monitor, services):
    _, token = acme_status_page
    now = timezone.now()
    UptimeCheck.objects.create(
        service=services["portal"],
        source=acme_monitor,
        checked_at=now - timedelta(days=1),
        status="up",
    )
    Source.objects.filter(pk=acme_monitor.pk).update(
        last_data_at=now - timedelta(hours=2),
        stale_at=now - timedelta(hours=1),
        silence_counts_as_down=True,
    )
    body = Client().get(f"/status/{token}/").content.decode()
    assert "Some services have an outage" in body


# --- Scope: the version in force, not the working copy ----------------------------------------


def _renegotiate_swapping_portal_for_erp(agreement, manager, services):
    from agreements.services import reviews

    reviews.review_start(agreement, manager)
    reviews.review_decide(
        agreement, manager, "renegotiate", findings="Scope", root_causes="Scope",
        lessons="Scope", actions=[{"description": "Rescope", "owner": manager,
                                   "due_date": timezone.localdate()}],
    )  # fmt: skip
    agreement.refresh_from_db()
    assert agreement.status == "renegotiating"
    # The provider's unproposed working copy: not the customer's, not what the SLA measures.
    agreement.services.add(services["erp"])
    agreement.services.remove(services["portal"])


def test_renegotiating_shows_the_services_in_force_not_the_working_copy(
    acme_status_page, active_acme_agreement, services, alice_manager
):
    from django.core.exceptions import ValidationError

    from reporting.selectors.status import customer_services, page_services

    page, token = acme_status_page
    before = Client().get(f"/status/{token}/").content.decode()
    _renegotiate_swapping_portal_for_erp(active_acme_agreement, alice_manager, services)

    assert [s.name for s in page_services(page)] == ["Customer Portal"]
    assert [s.name for s in customer_services(page.customer_id)] == ["Customer Portal"]
    body = Client().get(f"/status/{token}/").content.decode()
    assert "Customer Portal" in body and "ERP Hosting" not in body
    assert before.count("Customer Portal") == body.count("Customer Portal")
    with pytest.raises(ValidationError) as refused:
        incident_create(page.customer, "ERP", "outage", [services["erp"]], "x", alice_manager)
    assert "services" in refused.value.message_dict
    # The provider's forms offer only services in force too.
    from reporting.forms.status import IncidentForm, StatusPageForm

    for form in (IncidentForm(), StatusPageForm()):
        offered = set(form.fields["services"].queryset.values_list("name", flat=True))
        assert offered == {"Customer Portal"}


def test_an_address_that_grows_past_254_when_lowercased_gets_a_400_not_a_500(acme_status_page):
    _, token = acme_status_page
    email = "x" * 248 + "@İ.com"  # 254 characters; "İ".lower() is two
    assert len(email) == 254 and len(email.lower()) == 255
    response = Client(raise_request_exception=False).post(
        f"/status/{token}/subscribe/", {"email": email}
    )
    assert response.status_code == 400
    assert "254" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_notify_skips_an_address_too_long_once_lowercased_instead_of_failing(db):
    from sla_portal.core.notifications import notify

    long = "y" * 248 + "@İ.com"
    rows = notify(
        "status.confirm", "k", [long, "ok@example.com"], "emails/status_confirm",
        {"page_name": "P", "customer_name": "C", "confirm_url": "u", "valid_hours": 1},
    )  # fmt: skip
    assert [row.recipient for row in rows] == ["ok@example.com"]


def test_subscribing_while_the_cache_fails_answers_503_with_retry_after(
    acme_status_page, monkeypatch
):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("Redis is down")

    _, token = acme_status_page
    page_before = Client().get(f"/status/{token}/")  # the page itself survives, as before
    monkeypatch.setattr(cache, "add", broken)
    monkeypatch.setattr(cache, "incr", broken)
    monkeypatch.setattr(cache, "get", broken)
    response = Client(raise_request_exception=False).post(
        f"/status/{token}/subscribe/", {"email": "ops@acme.example"}
    )
    assert page_before.status_code == 200
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "Try again" in response.content.decode()
    # Failing closed: without the limit nobody may make the portal send confirmations.
    assert not Subscriber.objects.exists()
    assert not mail.outbox


@pytest.mark.django_db(transaction=True)
def test_two_pages_created_at_once_with_one_name_give_a_validation_error_not_a_500(
    active_acme_agreement, alice_manager
):
    import threading

    from django.core.exceptions import ValidationError
    from django.db import connection, transaction

    from reporting.services.status import status_page_create

    acme = active_acme_agreement.customer
    inserted, done = threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic():
                status_page_create(acme, "Ops", [], alice_manager)
                inserted.set()
                done.wait(timeout=1.5)  # the second one has checked and is waiting on the row
        finally:
            inserted.set()
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inserted.wait(timeout=10)
    # The first page is not committed: the name check finds nothing, the insert waits on the
    # unique index until the first commits, then collides.
    with pytest.raises(ValidationError) as refused:
        status_page_create(acme, "Ops", [], alice_manager)
    done.set()
    thread.join()
    assert "name" in refused.value.message_dict
    assert StatusPage.objects.filter(customer=acme, name="Ops").count() == 1


@pytest.fixture
def acme_portal_and_erp(acme_agreement, services, request):
    """Acme's agreement in force covering Customer Portal and ERP Hosting."""
    acme_agreement.services.add(services["erp"])
    agreement = request.getfixturevalue("active_acme_agreement")
    assert agreement.in_force_version.snapshot["terms"]["services"] == [
        "Customer Portal",
        "ERP Hosting",
    ]
    return agreement


def test_a_page_limited_to_some_services_names_no_other_service(
    acme_portal_and_erp, services, alice_manager
):
    from reporting.services.status import status_page_create

    acme = acme_portal_and_erp.customer
    page, token = status_page_create(acme, "Portal only", [services["portal"]], alice_manager)
    confirmed_subscriber(page, "ops@acme.example")
    incident_create(
        acme, "Both down", "outage", [services["portal"], services["erp"]], "Down.", alice_manager
    )
    body = Client().get(f"/status/{token}/").content.decode()
    assert "Both down" in body and "Customer Portal" in body
    assert "ERP Hosting" not in body
    notice = Notification.objects.get(kind="status.notice")
    assert "Customer Portal" in notice.body_text
    assert "ERP Hosting" not in notice.body_text and "ERP Hosting" not in notice.body_html


@pytest.mark.django_db(transaction=True)
def test_a_stamp_read_before_a_disable_committed_does_not_keep_the_link_alive(
    acme_status_page, monkeypatch
):
    from reporting.selectors.status import page_stamp
    from reporting.views import status as views

    page, token = acme_status_page
    client = Client()
    assert client.get(f"/status/{token}/").status_code == 200  # body cached under its stamp
    stale = page_stamp(token, timezone.now())
    calls = []

    def stamp_read_across_the_disable(token_, now):
        # The stamp query began while the page was enabled; the disable commits meanwhile
        # (and drops the cached stamp); then the query's old answer is written to the cache.
        if not calls:
            calls.append(now)
            status_page_set_enabled(page, False)
            return stale
        return page_stamp(token_, now)

    from django.core.cache import cache

    from reporting.services.status import stamp_cache_key

    cache.delete(stamp_cache_key(page.token_hash))  # the cached stamp expired
    monkeypatch.setattr(views, "page_stamp", stamp_read_across_the_disable)
    client.get(f"/status/{token}/")  # concurrent with the disable: either answer is fine
    assert calls
    assert client.get(f"/status/{token}/").status_code == 404


def test_an_unsolicited_request_does_not_cancel_a_pending_confirmation(acme_status_page):
    page, _ = acme_status_page
    t0 = timezone.now()
    subscribe(page, "gil@example.com", "10.0.0.1", now=t0)
    link = confirm_token(Subscriber.objects.get(email="gil@example.com"))
    # Someone else asks for the same address an hour later: the link is sent again (the
    # same nonce), and the link emailed first still works.
    subscribe(page, "gil@example.com", "10.0.0.66", now=t0 + timedelta(hours=1))
    sent = Notification.objects.filter(kind="status.confirm").order_by("id")
    assert sent.count() == 2
    assert sent[0].key.split(":")[2] == sent[1].key.split(":")[2]  # one nonce
    assert subscriber_confirm(link).result == "ok"


def test_a_request_after_the_confirmation_expired_sends_a_new_link(acme_status_page, settings):
    page, _ = acme_status_page
    t0 = timezone.now()
    subscribe(page, "hal@example.com", "10.0.0.1", now=t0)
    first = Subscriber.objects.get(email="hal@example.com").confirm_nonce
    later = t0 + timedelta(seconds=settings.STATUS_CONFIRM_MAX_AGE_SECONDS + 1)
    subscribe(page, "hal@example.com", "10.0.0.1", now=later)
    hal = Subscriber.objects.get(email="hal@example.com")
    assert hal.confirm_nonce and hal.confirm_nonce != first
    assert Notification.objects.filter(kind="status.confirm").count() == 2


def test_a_late_confirmer_gets_the_latest_notice_of_each_incident_still_active(
    acme_status_page, services, alice_manager
):
    page, _ = acme_status_page
    ongoing = incident_create(
        page.customer, "Slow", "degraded", [services["portal"]], "Slow.", alice_manager
    )
    incident_update_post(ongoing, "identified", "Found it.", alice_manager)
    over = incident_create(
        page.customer, "Blip", "outage", [services["portal"]], "Down.", alice_manager
    )
    incident_update_post(over, "resolved", "Back.", alice_manager)

    subscribe(page, "ivy@example.com", "10.0.0.1")
    ivy = Subscriber.objects.get(email="ivy@example.com")
    assert subscriber_confirm(confirm_token(ivy)).result == "ok"
    got = Notification.objects.filter(kind="status.notice", recipient="ivy@example.com")
    assert [row.body_text.count("Found it.") for row in got] == [1]
    assert "Back." not in got[0].body_text
    # Exactly once: confirming again (a spent link) or a later catch-up sends nothing more.
    assert subscriber_confirm(confirm_token(ivy)).result == "invalid"
    assert got.count() == 1


def test_a_moved_maintenance_window_is_announced_again_as_rescheduled(
    acme_status_page, acme_monitor, services
):
    page, _ = acme_status_page
    confirmed_subscriber(page, "dana@example.com")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        service=services["portal"],
        source=acme_monitor,
        external_id="CHG-11",
        title="Disk swap",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
    )
    assert maintenance_notices_send(now) == 1
    # The monitor's feed moves the window (updated in place, as ingest does).
    MaintenanceWindow.objects.filter(pk=window.pk).update(
        starts_at=now + timedelta(days=4), ends_at=now + timedelta(days=4, hours=2)
    )
    assert maintenance_notices_send(now) == 1
    assert maintenance_notices_send(now) == 0
    rows = Notification.objects.filter(kind="status.notice").order_by("id")
    assert rows.count() == 2
    assert "Rescheduled" in rows[1].subject and "Rescheduled" in rows[1].body_text
    assert "Rescheduled" not in rows[0].subject


def test_building_a_page_costs_the_same_queries_for_one_service_or_several(
    acme_portal_and_erp, acme_monitor, services, alice_manager, django_assert_max_num_queries
):
    from reporting.selectors.status import page_content
    from reporting.services.status import status_page_create

    acme = acme_portal_and_erp.customer
    page, _ = status_page_create(acme, "All", [], alice_manager)
    for key in ("portal", "erp"):
        UptimeCheck.objects.create(
            service=services[key], source=acme_monitor, checked_at=timezone.now(), status="up"
        )
    only_portal, _ = status_page_create(acme, "One", [services["portal"]], alice_manager)
    with django_assert_max_num_queries(12) as one:
        assert len(page_content(only_portal).services) == 1
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(page_content(page).services) == 2
