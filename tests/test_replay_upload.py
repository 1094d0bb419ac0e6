"""Replaying on an uploaded export: read by the importers, ingested inside a transaction
that is rolled back after the replay, so the export counts for the replay and nothing of it
stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.models import Outage, Source, UptimeCheck
from reporting.replay import uploads
from tests.support.replay import *  # noqa: F403  (fixtures)

pytestmark = pytest.mark.django_db
QUERY = {"version": "2", "periods": "3", "until": "2026-03-31"}


def health_log() -> bytes:
    """The portal checked hourly in January 2026, down from 10:00 to 11:00 on the 20th
    (60 minutes: 99.866 %, below both 99.95 and 99.9)."""
    rows = ["key,check_time_utc_minute,result"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    down = (datetime(2026, 1, 20, 10, 0, tzinfo=UTC), datetime(2026, 1, 20, 11, 0, tzinfo=UTC))
    moment = start
    while moment < datetime(2026, 2, 1, tzinfo=UTC):
        rows.append(f"api,{moment:%Y-%m-%d %H:%M},{'failed' if moment == down[0] else 'success'}")
        moment += timedelta(hours=1)
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fresh_replays():
    cache.clear()


def test_replay_on_an_uploaded_export_counts_it_and_keeps_nothing(
    client, counter_proposal, carol_customer, media, monkeypatch
):
    queued = []
    monkeypatch.setattr(uploads, "replay_upload_enqueue", lambda *args: queued.append(args))
    client.force_login(carol_customer)
    url = f"/api/agreements/{counter_proposal.pk}/replay/"
    before = (Source.objects.count(), UptimeCheck.objects.count(), Outage.objects.count())
    response = client.post(
        url,
        QUERY
        | {
            "file": SimpleUploadedFile("health.csv", health_log()),
            "format": "healthcheck",
            "service": "Customer Portal",
        },
    )
    assert response.status_code == 202, response.content
    upload = response.json()["upload"]
    assert response.json()["state"] == "queued" and len(queued) == 1
    assert client.get(url, {"upload": upload}).status_code == 202

    uploads.replay_upload_in_task(*queued[0])
    replay = client.get(url, {"upload": upload}).json()
    availability = next(t for t in replay["proposed"]["targets"] if t["metric"] == "availability")
    # January now has the export's hour of downtime; February and March the held outages.
    assert [p["status"] for p in availability["periods"]] == ["missed_target"] * 3
    assert replay["upload"] == {
        "format": "healthcheck",
        "monitor": "api",
        "service": "Customer Portal",
    }
    assert (Source.objects.count(), UptimeCheck.objects.count(), Outage.objects.count()) == before
    assert not list((media / "replay-uploads").iterdir())  # the file is gone too

    held = client.get(url, QUERY).json()  # without the export: January was met
    same = next(t for t in held["proposed"]["targets"] if t["key"] == availability["key"])
    assert same["periods"][0]["status"] == "met"


def test_an_upload_is_checked_field_by_field(client, counter_proposal, alice_manager, media):
    client.force_login(alice_manager)
    url = f"/api/agreements/{counter_proposal.pk}/replay/"
    good = QUERY | {"format": "healthcheck", "service": "Customer Portal"}
    for change, field in (
        ({"format": "excel"}, "format"),
        ({"service": "Payroll"}, "service"),
        ({"name": "health.xlsx"}, "file"),
    ):
        name = change.pop("name", "health.csv")
        data = good | change | {"file": SimpleUploadedFile(name, health_log())}
        response = client.post(url, data)
        assert response.status_code == 400 and field in response.json(), (field, response.content)


def test_another_customers_upload_replay_is_not_found(client, counter_proposal, globex, media):
    from django.utils import timezone

    from reporting.models import ReplayRun
    from sla_portal.core.models import Role
    from tests.support.actors import make_user

    ReplayRun.objects.create(
        key="replay:abc:def", agreement=counter_proposal, created_at=timezone.now()
    )
    gina = make_user("gina_approver", globex, Role.CUSTOMER_APPROVER)
    client.force_login(gina)
    url = f"/api/agreements/{counter_proposal.pk}/replay/"
    assert client.get(url, {"upload": "replay:abc:def"}).status_code == 404


def test_an_unknown_upload_key_is_not_found(client, counter_proposal, alice_manager):
    client.force_login(alice_manager)
    url = reverse("reporting:agreement-replay", args=[counter_proposal.pk])
    assert client.get(url, {"upload": "replay:nothing"}).status_code == 404
    api = f"/api/agreements/{counter_proposal.pk}/replay/"
    assert client.get(api, {"upload": "replay:nothing"}).status_code == 404


def test_an_unreadable_export_says_why_and_stops(
    client, counter_proposal, alice_manager, media, monkeypatch
):
    queued = []
    monkeypatch.setattr(uploads, "replay_upload_enqueue", lambda *args: queued.append(args))
    client.force_login(alice_manager)
    url = f"/api/agreements/{counter_proposal.pk}/replay/"
    data = QUERY | {
        "file": SimpleUploadedFile("health.csv.gz", b"not gzip at all"),
        "format": "healthcheck",
        "service": "Customer Portal",
    }
    upload = client.post(url, data).json()["upload"]
    uploads.replay_upload_in_task(*queued[0])
    response = client.get(url, {"upload": upload})
    assert response.status_code == 400 and "file" in response.json()
    panel = client.get(
        reverse("reporting:agreement-replay", args=[counter_proposal.pk]),
        {"upload": upload},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "The replay stopped" in panel and "every 1s" not in panel
