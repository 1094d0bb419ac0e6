"""The Sources pages: managers create, edit, disable and enable feeds, webhooks and probes in
the browser; a webhook's secret is shown to its creator once; team members and customers read
without secrets; nothing a form receives answers 500."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import signing
from monitoring.ingest import IngestError
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import ProbeState, Source
from monitoring.probe import probe_source_for

pytestmark = pytest.mark.django_db


def create(client, group: str, **data):
    return client.post(reverse("monitoring:source-create", args=[group]), data)


def webhook_data(acme, **extra):
    return {
        "customer": acme.pk,
        "kind": Source.Kind.UPTIME_KUMA,
        "name": "Acme Uptime Kuma",
        "description": "Kuma on the Acme jump host",
        "timezone": "Europe/Berlin",
        **extra,
    }


def probe_data(acme, service, **extra):
    return {
        "customer": acme.pk,
        "name": "Portal health",
        "service": service.pk,
        "probe_url": "https://portal.acme.example/health",
        "probe_interval_seconds": 30,
        "expected_status": "200-299,301",
        "timeout_seconds": 5,
        "retries_before_down": 3,
        **extra,
    }


def secret_on(page: str, secret: str) -> bool:
    return secret in page


# --- Creating each kind ------------------------------------------------------------------------


def test_manager_creates_a_webhook_source_and_sees_its_secret_once(client, alice_manager, acme):
    client.force_login(alice_manager)
    response = create(client, "webhook", **webhook_data(acme))
    source = Source.objects.get(name="Acme Uptime Kuma")
    assert response.status_code == 302
    assert response["Location"] == reverse("monitoring:source-detail", args=[source.pk])
    assert source.kind == Source.Kind.UPTIME_KUMA and source.customer == acme
    assert source.timezone == "Europe/Berlin"

    first = client.get(response["Location"]).content.decode()
    assert 'id="secret-once"' in first and secret_on(first, source.signing_secret)
    hook = reverse("monitoring:hook-uptime-kuma", args=[source.pk])
    assert hook in first  # the endpoint URL, with the Uptime Kuma set-up
    assert f"Bearer {source.signing_secret}" in first

    again = client.get(response["Location"]).content.decode()
    assert not secret_on(again, source.signing_secret)
    assert 'id="secret-once"' not in again
    assert hook in again and "Bearer &lt;secret&gt;" in again


def test_the_secret_shown_once_signs_webhooks(client, alice_manager, acme, acme_agreement):
    client.force_login(alice_manager)
    create(client, "webhook", **webhook_data(acme, kind=Source.Kind.WEBHOOK, name="Relay"))
    source = Source.objects.get(name="Relay")
    page = client.get(reverse("monitoring:source-detail", args=[source.pk])).content.decode()
    shown = page.split('id="signing-secret" value="', 1)[1].split('"', 1)[0]
    assert "openssl dgst -sha256 -hmac" in page
    body = json.dumps(
        {"tickets": [{"external_id": "R-1", "opened_at": "2026-03-02T09:00:00Z"}]}
    ).encode()
    now = int(time.time())
    answer = client.generic(
        "POST",
        reverse("monitoring:hook-generic", args=[source.pk]),
        body,
        content_type="application/json",
        headers={
            signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign(shown, now, body),
        },
    )
    assert answer.status_code == 200, answer.content


def test_alertmanager_source_shows_its_receiver_configuration(client, ada_admin, acme):
    client.force_login(ada_admin)
    create(client, "webhook", **webhook_data(acme, kind=Source.Kind.ALERTMANAGER, name="AM"))
    source = Source.objects.get(name="AM")
    page = client.get(reverse("monitoring:source-detail", args=[source.pk])).content.decode()
    assert "webhook_configs" in page and "send_resolved: true" in page
    assert f'credentials: "{source.signing_secret}"' in page
    assert reverse("monitoring:hook-alertmanager", args=[source.pk]) in page


def test_manager_creates_a_probe_source_for_a_covered_service(
    client, alice_manager, acme, acme_agreement, services
):
    client.force_login(alice_manager)
    portal = services["portal"]
    response = create(client, "probe", **probe_data(acme, portal))
    assert response.status_code == 302, response.content.decode()
    source = Source.objects.get(name="Portal health")
    assert source.kind == Source.Kind.PROBE and source.service == portal
    portal.refresh_from_db()
    assert portal.probe_url == "https://portal.acme.example/health"
    assert portal.probe_interval_seconds == 30
    state = ProbeState.objects.get(service=portal)
    assert (state.expected_status, state.timeout_seconds, state.retries_before_down) == (
        "200-299,301",
        5,
        3,
    )
    assert state.enabled
    # The probe loop writes this service's checks under the new source.
    assert probe_source_for(portal) == source
    page = client.get(response["Location"]).content.decode()
    assert "Portal health" in page and "https://portal.acme.example/health" in page
    assert 'id="secret-once"' not in page  # a probe has no sender to configure


def test_manager_creates_an_import_feed(client, alice_manager, acme):
    client.force_login(alice_manager)
    response = create(
        client,
        "feed",
        customer=acme.pk,
        kind=Source.Kind.SERVICENOW,
        name="Acme ServiceNow",
        timezone="utc",
    )
    assert response.status_code == 302
    source = Source.objects.get(name="Acme ServiceNow")
    assert source.kind == Source.Kind.SERVICENOW and source.timezone == "UTC"
    page = client.get(response["Location"]).content.decode()
    assert 'id="secret-once"' not in page and source.signing_secret not in page
    assert reverse("monitoring:import-new") in page


def test_the_sources_list_says_what_each_source_is(
    client, alice_manager, acme, acme_desk, django_assert_max_num_queries
):
    Source.objects.create(customer=acme, name="Kuma", kind=Source.Kind.UPTIME_KUMA)
    client.force_login(alice_manager)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("monitoring:source-list")).content.decode()
    assert "Acme desk" in page and "Kuma" in page and "Acme Logistics" in page
    assert "Uptime checks" in page and "Nothing yet" in page
    assert acme_desk.signing_secret not in page


# --- Who may do what ---------------------------------------------------------------------------


def test_team_member_sees_sources_read_only_without_secrets(client, tom_team, acme_desk):
    client.force_login(tom_team)
    listing = client.get(reverse("monitoring:source-list"))
    assert listing.status_code == 200 and "Acme desk" in listing.content.decode()
    detail = client.get(reverse("monitoring:source-detail", args=[acme_desk.pk])).content.decode()
    assert acme_desk.signing_secret not in detail
    assert reverse("monitoring:source-edit", args=[acme_desk.pk]) not in detail
    assert client.get(reverse("monitoring:source-new")).status_code == 403
    assert create(client, "feed", customer=acme_desk.customer_id, name="X").status_code == 403
    assert client.get(reverse("monitoring:source-edit", args=[acme_desk.pk])).status_code == 403
    toggle = client.post(reverse("monitoring:source-toggle", args=[acme_desk.pk]))
    assert toggle.status_code == 403
    acme_desk.refresh_from_db()
    assert acme_desk.enabled


def test_team_member_never_sees_a_new_sources_secret(client, alice_manager, tom_team, acme):
    client.force_login(alice_manager)
    create(client, "webhook", **webhook_data(acme))
    source = Source.objects.get(name="Acme Uptime Kuma")
    client.force_login(tom_team)
    page = client.get(reverse("monitoring:source-detail", args=[source.pk])).content.decode()
    assert source.signing_secret not in page and "Bearer" not in page


def test_customer_sees_own_sources_read_only_and_not_others(
    client, carol_customer, acme_desk, globex
):
    globex_feed = Source.objects.create(customer=globex, name="Globex feed")
    client.force_login(carol_customer)
    page = client.get(reverse("monitoring:source-list")).content.decode()
    assert "Acme desk" in page and "Globex feed" not in page
    assert reverse("monitoring:source-new") not in page
    detail = client.get(reverse("monitoring:source-detail", args=[acme_desk.pk])).content.decode()
    assert acme_desk.signing_secret not in detail and "Set up the sender" not in detail
    other = client.get(reverse("monitoring:source-detail", args=[globex_feed.pk]))
    assert other.status_code == 404
    assert client.get(reverse("monitoring:source-create", args=["feed"])).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, acme_desk):
    response = client.get(reverse("monitoring:source-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Edit, disable, enable ---------------------------------------------------------------------


def test_manager_edits_a_source_but_not_its_secret(client, alice_manager, acme_desk):
    secret = acme_desk.signing_secret
    client.force_login(alice_manager)
    url = reverse("monitoring:source-edit", args=[acme_desk.pk])
    form = client.get(url).content.decode()
    assert secret not in form and 'value="Europe/Berlin"' in form
    response = client.post(
        url,
        {"name": "Acme desk (ServiceNow)", "description": "Nightly export", "timezone": "UTC"},
    )
    assert response.status_code == 302
    acme_desk.refresh_from_db()
    assert acme_desk.name == "Acme desk (ServiceNow)" and acme_desk.timezone == "UTC"
    assert acme_desk.description == "Nightly export" and acme_desk.signing_secret == secret


def test_editing_a_probe_changes_its_settings(
    client, alice_manager, acme, acme_agreement, services
):
    client.force_login(alice_manager)
    create(client, "probe", **probe_data(acme, services["portal"]))
    source = Source.objects.get(name="Portal health")
    response = client.post(
        reverse("monitoring:source-edit", args=[source.pk]),
        {
            "name": "Portal health",
            "description": "",
            "probe_url": "https://portal.acme.example/ready",
            "probe_interval_seconds": 120,
            "expected_status": "200",
            "timeout_seconds": 10,
            "retries_before_down": 2,
        },
    )
    assert response.status_code == 302
    portal = services["portal"]
    portal.refresh_from_db()
    assert portal.probe_url.endswith("/ready") and portal.probe_interval_seconds == 120
    assert ProbeState.objects.get(service=portal).expected_status == "200"


def test_disabled_source_refuses_new_data_and_keeps_its_own(
    client, alice_manager, acme_desk, acme_agreement
):
    tickets_ingest(acme_desk, [{"external_id": "T-1", "opened_at": "2026-03-02T09:00:00Z"}])
    client.force_login(alice_manager)
    response = client.post(
        reverse("monitoring:source-toggle", args=[acme_desk.pk]), {"action": "disable"}
    )
    assert response.status_code == 302
    acme_desk.refresh_from_db()
    assert not acme_desk.enabled and acme_desk.tickets.count() == 1
    with pytest.raises(IngestError, match="disabled"):
        tickets_ingest(acme_desk, [{"external_id": "T-2", "opened_at": "2026-03-02T09:00:00Z"}])
    # Disabled sources are no longer offered for uploads.
    upload = client.get(reverse("monitoring:import-new")).content.decode()
    assert "Acme desk (REST API)</option>" not in upload
    detail = client.get(reverse("monitoring:source-detail", args=[acme_desk.pk])).content.decode()
    assert "Enable again" in detail

    client.post(reverse("monitoring:source-toggle", args=[acme_desk.pk]), {"action": "enable"})
    acme_desk.refresh_from_db()
    assert acme_desk.enabled
    tickets_ingest(acme_desk, [{"external_id": "T-2", "opened_at": "2026-03-02T09:00:00Z"}])


def test_disabled_webhook_source_answers_403_to_a_signed_request(client, acme):
    source = Source.objects.create(customer=acme, name="Relay", kind=Source.Kind.WEBHOOK)
    from monitoring.sources import source_disable

    source_disable(source)
    body = b'{"tickets": []}'
    now = int(time.time())
    answer = client.generic(
        "POST",
        reverse("monitoring:hook-generic", args=[source.pk]),
        body,
        content_type="application/json",
        headers={
            signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign(source.signing_secret, now, body),
        },
    )
    assert answer.status_code == 403 and "disabled" in answer.json()["error"]


def test_disabling_a_probe_pauses_it(client, alice_manager, acme, acme_agreement, services):
    client.force_login(alice_manager)
    create(client, "probe", **probe_data(acme, services["portal"]))
    source = Source.objects.get(name="Portal health")
    client.post(reverse("monitoring:source-toggle", args=[source.pk]), {"action": "disable"})
    assert not ProbeState.objects.get(service=services["portal"]).enabled
    client.post(reverse("monitoring:source-toggle", args=[source.pk]), {"action": "enable"})
    assert ProbeState.objects.get(service=services["portal"]).enabled


def test_ingest_stamps_last_data_received(
    acme_desk, acme_agreement, django_capture_on_commit_callbacks
):
    assert acme_desk.last_received_at is None
    with django_capture_on_commit_callbacks(execute=True):
        tickets_ingest(acme_desk, [{"external_id": "T-1", "opened_at": "2026-03-02T09:00:00Z"}])
    acme_desk.refresh_from_db()
    assert acme_desk.last_received_at is not None


# --- Bad input: clear errors, never 500 --------------------------------------------------------


def test_bad_probe_input_gives_clear_errors(
    client, alice_manager, acme, globex, acme_agreement, services
):
    client.force_login(alice_manager)
    page = create(
        client,
        "probe",
        **probe_data(
            acme,
            services["portal"],
            probe_url="not a url",
            probe_interval_seconds=3,
            expected_status="600",
            timeout_seconds=0,
            retries_before_down="",
        ),
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Enter a valid URL." in text
    assert "greater than or equal to 10" in text
    assert "status codes run from 100 to 599" in text
    assert not Source.objects.filter(name="Portal health").exists()

    uncovered = create(client, "probe", **probe_data(globex, services["portal"], name="G"))
    assert "No agreement of Globex Health covers" in uncovered.content.decode()


def test_a_service_has_one_probe_source(client, alice_manager, acme, acme_agreement, services):
    client.force_login(alice_manager)
    create(client, "probe", **probe_data(acme, services["portal"]))
    again = create(client, "probe", **probe_data(acme, services["portal"], name="Second"))
    assert again.status_code == 200
    assert "is already probed by the source “Portal health”" in again.content.decode()


def test_duplicate_name_and_unknown_zone_are_form_errors(client, alice_manager, acme_desk):
    client.force_login(alice_manager)
    page = create(
        client,
        "feed",
        customer=acme_desk.customer_id,
        kind=Source.Kind.CSV,
        name="acme DESK",
        timezone="Mars/Olympus",
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "already has a source named" in text and "Unknown time zone" in text


def test_unknown_group_and_kind_are_not_500(client, alice_manager, acme):
    client.force_login(alice_manager)
    assert client.get(reverse("monitoring:source-create", args=["teleport"])).status_code == 404
    # A probe kind posted to the webhook form is not one of its choices.
    page = create(client, "webhook", **webhook_data(acme, kind=Source.Kind.PROBE))
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert client.get(reverse("monitoring:source-detail", args=[999999])).status_code == 404


text_values = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=300),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.just("9" * 400),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    group=st.sampled_from(["webhook", "probe", "feed"]),
    values=st.fixed_dictionaries(
        {
            name: text_values
            for name in (
                "customer",
                "kind",
                "name",
                "description",
                "timezone",
                "service",
                "probe_url",
                "probe_interval_seconds",
                "expected_status",
                "timeout_seconds",
                "retries_before_down",
            )
        }
    ),
)
def test_no_source_form_input_answers_500(client, alice_manager, acme_desk, group, values):
    client.force_login(alice_manager)
    data = {key: value.replace("\x00", "") for key, value in values.items() if value is not None}
    created = create(client, group, **data)
    assert created.status_code in (200, 302)
    edited = client.post(reverse("monitoring:source-edit", args=[acme_desk.pk]), data)
    assert edited.status_code in (200, 302)


def test_the_migration_starts_last_received_from_the_stored_data(acme_desk, acme_agreement):
    import importlib

    from django.apps import apps

    from monitoring.models import Ticket

    migration = importlib.import_module(
        "monitoring.migrations.0010_source_pages_and_import_retries"
    )
    tickets_ingest(acme_desk, [{"external_id": "T-1", "opened_at": "2026-03-02T09:00:00Z"}])
    changed = Ticket.objects.get().changed_at
    idle = Source.objects.create(customer=acme_desk.customer, name="Idle")
    migration.backfill_last_received(apps, None)
    acme_desk.refresh_from_db()
    idle.refresh_from_db()
    assert acme_desk.last_received_at == changed and idle.last_received_at is None
