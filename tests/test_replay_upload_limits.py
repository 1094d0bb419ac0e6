"""Uploads to replay on: the file deleted on every path, one run per export, limits on what
an export unpacks to, no endless redelivery of a task whose worker died; and the real
transaction (not the test's) rolled back with nothing left."""

from __future__ import annotations

import gzip

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring.models import Source, UptimeCheck
from reporting import tasks
from reporting.models import ReplayRun
from reporting.replay import uploads
from tests.support.replay import *  # noqa: F403  (fixtures)
from tests.test_replay_upload import QUERY, health_log

URL = "/api/agreements/{}/replay/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def queued(monkeypatch):
    found = []
    monkeypatch.setattr(uploads, "replay_upload_enqueue", lambda *args: found.append(args))
    return found


def _post(client, agreement, content: bytes, name: str = "health.csv"):
    data = QUERY | {
        "file": SimpleUploadedFile(name, content),
        "format": "healthcheck",
        "service": "Customer Portal",
    }
    return client.post(URL.format(agreement.pk), data)


def _files(media) -> list:
    folder = media / "replay-uploads"
    return list(folder.iterdir()) if folder.exists() else []


@pytest.mark.django_db
def test_one_run_per_export_and_the_file_deleted_on_every_path(
    client, counter_proposal, alice_manager, media, queued
):
    client.force_login(alice_manager)
    first = _post(client, counter_proposal, health_log()).json()["upload"]
    again = _post(client, counter_proposal, health_log()).json()["upload"]
    assert first == again and len(queued) == 1 and len(_files(media)) == 1

    uploads.replay_upload_in_task(*queued[0])
    assert ReplayRun.objects.get(key=first).state == "done" and not _files(media)
    # A second delivery of the finished task: it stops at once, and still deletes its file.
    path = queued[0][4][0]
    default_storage.save(path, ContentFile(health_log()))
    uploads.replay_upload_in_task(*queued[0])
    assert not _files(media)


@pytest.mark.django_db
def test_a_task_delivered_again_after_its_worker_died_fails_once(
    client, counter_proposal, alice_manager, media, queued
):
    client.force_login(alice_manager)
    key = _post(client, counter_proposal, health_log()).json()["upload"]
    ReplayRun.objects.filter(key=key).update(state="running")  # the first delivery's worker died
    uploads.replay_upload_in_task(*queued[0])
    row = ReplayRun.objects.get(key=key)
    assert row.state == "failed" and "stopped its worker" in row.error
    assert not _files(media)
    response = client.get(URL.format(counter_proposal.pk), {"upload": key})
    assert response.status_code == 400 and "stopped its worker" in response.json()["file"][0]
    assert tasks.replay_upload.soft_time_limit == tasks.REPLAY_SOFT_LIMIT
    assert tasks.replay_run.time_limit == tasks.REPLAY_HARD_LIMIT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limit", "value", "reason"),
    [("MAX_TEXT_BYTES", 4096, "MB once unpacked"), ("MAX_ROWS", 100, "rows")],
)
def test_an_export_is_limited_once_unpacked(
    client, counter_proposal, alice_manager, media, queued, monkeypatch, limit, value, reason
):
    monkeypatch.setattr(uploads, limit, value)
    client.force_login(alice_manager)
    packed = gzip.compress(health_log())
    assert len(packed) < 4096 < len(health_log())
    key = _post(client, counter_proposal, packed, "health.csv.gz").json()["upload"]
    uploads.replay_upload_in_task(*queued[0])
    response = client.get(URL.format(counter_proposal.pk), {"upload": key})
    assert response.status_code == 400 and reason in response.json()["file"][0]
    assert not _files(media)


@pytest.mark.django_db(transaction=True)
def test_the_uploads_transaction_is_really_rolled_back(
    client, counter_proposal, alice_manager, media, queued
):
    """No test transaction around it: the replay's own is the outermost, its progress goes
    through the second connection, and after the rollback nothing of the export is left."""
    client.force_login(alice_manager)
    before = (Source.objects.count(), UptimeCheck.objects.count())
    key = _post(client, counter_proposal, gzip.compress(health_log()), "h.csv.gz").json()["upload"]
    uploads.replay_upload_in_task(*queued[0])
    row = ReplayRun.objects.get(key=key)
    assert row.state == "done", row.error
    availability = next(
        t for t in row.result["proposed"]["targets"] if t["metric"] == "availability"
    )
    assert availability["periods"][0]["status"] == "missed_target"  # the export's hour down
    assert (Source.objects.count(), UptimeCheck.objects.count()) == before
    assert not Source.objects.filter(name__startswith="Uploaded export").exists()
    assert not _files(media)


@pytest.mark.django_db
def test_rows_of_past_days_are_pruned_by_inline_replays_too(
    client, counter_proposal, alice_manager
):
    from datetime import timedelta

    from django.utils import timezone

    old = ReplayRun.objects.create(
        key="replay:old",
        agreement=counter_proposal,
        state="done",
        created_at=timezone.now() - timedelta(days=3),
    )
    client.force_login(alice_manager)
    assert client.get(URL.format(counter_proposal.pk), QUERY).status_code == 200
    assert not ReplayRun.objects.filter(pk=old.pk).exists()
