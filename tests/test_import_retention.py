"""Uploaded export files are kept for a retention period, then deleted; the imported rows and
the job's record stay, and the job page says where the file went."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from monitoring.models import ImportJob, Ticket
from monitoring.retention import purge_import_files
from monitoring.tasks import run_import_job
from tests.test_event_log_import import upload
from tests.test_import_upload import make_job, uci_slice

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SLA_IMPORT_FILE_RETENTION_DAYS = 30
    return settings.MEDIA_ROOT


@pytest.fixture
def servicenow_source(acme):
    from monitoring.models import Source

    return Source.objects.create(customer=acme, name="ServiceNow", kind=Source.Kind.SERVICENOW)


def finished(job: ImportJob, days_ago: float) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - timedelta(days=days_ago)
    )
    job.refresh_from_db()
    return job


def test_finished_jobs_lose_their_files_after_the_retention_and_keep_their_data(
    client, media, servicenow_source, acme_agreement, alice_manager
):
    old = make_job(servicenow_source, uci_slice(40), agreement=acme_agreement.reference)
    assert run_import_job(old.pk) is True
    old.refresh_from_db()
    assert old.status == ImportJob.Status.SUCCEEDED, old.error or old.problems
    tickets = Ticket.objects.count()
    assert tickets > 0
    old = finished(old, days_ago=31)
    recent = finished(make_job(servicenow_source, b"recent"), days_ago=29)
    ImportJob.objects.filter(pk=recent.pk).update(status=ImportJob.Status.REFUSED)
    queued = make_job(servicenow_source, b"still waiting")  # never finished: never purged
    ImportJob.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(days=90))
    old_path, recent_path, queued_path = (Path(j.file.path) for j in (old, recent, queued))

    now = timezone.now()
    report = purge_import_files(now)
    assert (report.jobs, report.files, report.abandoned) == (1, 1, 0)
    assert not old_path.exists()
    assert recent_path.exists() and queued_path.exists()
    old.refresh_from_db()
    assert old.files_removed_at == now
    assert old.file.name.endswith(".zip")  # the record still names what was imported
    assert Ticket.objects.count() == tickets

    client.force_login(alice_manager)
    page = client.get(reverse("monitoring:import-detail", args=[old.pk])).content.decode()
    assert "file deleted on" in page and "the imported data stays" in page
    page = client.get(reverse("monitoring:import-detail", args=[recent.pk])).content.decode()
    assert "file deleted on" not in page

    # A second run has nothing left to do.
    assert purge_import_files(now + timedelta(minutes=1)) == type(report)(0, 0, 0)


def test_abandoned_mapping_uploads_are_deleted_after_a_day(
    client, media, alice_manager, acme, servicenow_source
):
    from monitoring.models import Source

    jira = Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)
    client.force_login(alice_manager)
    location = upload(client, jira)  # step one of the event-log flow stores the file
    (stored,) = default_storage.listdir("imports")[1]
    job = make_job(servicenow_source, b"referenced by a job")
    fresh = default_storage.save("imports/fresh.csv", ContentFile(b"a,b\n"))
    an_hour_ago = (timezone.now() - timedelta(hours=1)).timestamp()
    os.utime(default_storage.path(fresh), (an_hour_ago, an_hour_ago))
    two_days_ago = (timezone.now() - timedelta(days=2)).timestamp()
    for name in (f"imports/{stored}", job.file.name):
        os.utime(default_storage.path(name), (two_days_ago, two_days_ago))

    report = purge_import_files(timezone.now())
    assert report.abandoned == 1
    assert not default_storage.exists(f"imports/{stored}")
    assert default_storage.exists(job.file.name)  # a queued job's file is not abandoned
    assert default_storage.exists(fresh)  # someone may be mapping its columns right now
    # Coming back to the abandoned flow says it expired instead of failing.
    response = client.get(location)
    assert response.status_code == 404
    assert "This upload has expired: upload the file again." in response.content.decode()


def test_the_not_found_page_says_what_is_missing_but_names_no_model(
    client, media, carol_customer, other_org_viewer, globex_agreement, servicenow_source
):
    client.force_login(other_org_viewer)
    job = make_job(servicenow_source, b"Acme's file")
    response = client.get(reverse("monitoring:import-detail", args=[job.pk]))
    page = response.content.decode()
    assert response.status_code == 404
    # The styled 404 (every mode) offers the way back: Home.
    assert "or it is not yours to see" in page and 'aria-label="Where to go from here"' in page
    assert '<a class="btn btn-primary" href="/">' in page
    assert "ImportJob" not in page and "matches the given query" not in page
    client.force_login(carol_customer)
    response = client.get(reverse("agreements:detail", args=[globex_agreement.pk]))
    assert "No such agreement." in response.content.decode()
