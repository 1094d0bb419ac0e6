"""Importing export files from the browser: the upload form, the background job (claimed
once, refused whole, counted on success) and the full UCI log through a real worker."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.forms.imports import ImportUploadForm
from monitoring.models import ImportJob, Source, Ticket
from monitoring.tasks import run_import_job
from tests.support.actors import PASSWORD
from tests.support.browser import login, screenshot
from tests.support.data import SHARED_DATA

UCI = SHARED_DATA / "uci-incident-log" / "incident_event_log.csv.zip"


def uci_slice(lines: int = 200, *, break_state_on_line: int | None = None) -> bytes:
    """The first ``lines`` lines of the real UCI log, zipped, optionally with one bad state."""
    with zipfile.ZipFile(UCI) as archive, archive.open("incident_event_log.csv") as member:
        head = [member.readline() for _ in range(lines)]
    if break_state_on_line is not None:
        number, _state, rest = head[break_state_on_line - 1].split(b",", 2)
        head[break_state_on_line - 1] = b",".join([number, b"-100", rest])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("incident_event_log.csv", b"".join(head))
    return buffer.getvalue()


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def servicenow_source(acme) -> Source:
    return Source.objects.create(customer=acme, name="ServiceNow", kind=Source.Kind.SERVICENOW)


def make_job(source: Source, content: bytes, **options) -> ImportJob:
    return ImportJob.objects.create(
        source=source,
        format=ImportJob.Format.SERVICENOW,
        file=SimpleUploadedFile("slice.csv.zip", content),
        options={"timezone": "UTC", **options},
    )


@pytest.mark.django_db
def test_servicenow_upload_without_time_zone_is_a_form_error(alice_manager, servicenow_source):
    form = ImportUploadForm(
        {"source": servicenow_source.pk, "format": "servicenow", "dayfirst": "1"},
        {"file": SimpleUploadedFile("log.csv", b"number\n")},
        user=alice_manager,
    )
    assert not form.is_valid()
    assert "timezone" in form.errors


@pytest.mark.django_db
def test_agreement_must_belong_to_the_source_customer(
    alice_manager, servicenow_source, globex_agreement
):
    form = ImportUploadForm(
        {
            "source": servicenow_source.pk,
            "format": "servicenow",
            "timezone": "UTC",
            "dayfirst": "1",
            "agreement": globex_agreement.pk,
        },
        {"file": SimpleUploadedFile("log.csv", b"number\n")},
        user=alice_manager,
    )
    assert not form.is_valid()
    assert "agreement" in form.errors


@pytest.mark.django_db
def test_customers_cannot_upload(client, carol_customer):
    client.force_login(carol_customer)
    assert client.get(reverse("monitoring:import-new")).status_code == 403
    assert client.post(reverse("monitoring:import-new"), {}).status_code == 403


@pytest.mark.django_db
def test_job_page_is_scoped_to_the_source_customer(
    client, media, servicenow_source, carol_customer, other_org_viewer
):
    job = make_job(servicenow_source, b"x")
    client.force_login(other_org_viewer)
    assert client.get(reverse("monitoring:import-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("monitoring:import-progress", args=[job.pk])).status_code == 404
    assert f"#{job.pk}" not in client.get(reverse("monitoring:import-list")).content.decode()
    client.force_login(carol_customer)
    assert client.get(reverse("monitoring:import-detail", args=[job.pk])).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_upload_creates_a_queued_job_and_redirects_to_it(
    client, media, alice_manager, servicenow_source, acme_agreement, monkeypatch
):
    enqueued: list[int] = []
    monkeypatch.setattr(run_import_job, "delay", enqueued.append)
    client.force_login(alice_manager)
    response = client.post(
        reverse("monitoring:import-new"),
        {
            "source": servicenow_source.pk,
            "format": "servicenow",
            "file": SimpleUploadedFile("slice.csv.zip", uci_slice(20)),
            "timezone": "UTC",
            "dayfirst": "1",
            "pausing_states": "Awaiting User Info, Awaiting Vendor",
            "resolving_states": "Resolved, Closed",
            "agreement": acme_agreement.pk,
            "skip_invalid": "on",
        },
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("monitoring:import-detail", args=[job.pk])
    assert enqueued == [job.pk]  # after commit
    assert job.status == ImportJob.Status.QUEUED
    assert job.created_by == alice_manager
    assert job.options["agreement"] == acme_agreement.reference
    assert job.options["pausing_states"] == ["Awaiting User Info", "Awaiting Vendor"]
    page = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page  # polls while queued


@pytest.mark.django_db
def test_the_task_imports_a_slice_of_the_uci_log_once(media, servicenow_source, acme_agreement):
    job = make_job(servicenow_source, uci_slice(200), agreement=acme_agreement.reference)

    assert run_import_job(job.pk) is True
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error or job.problems
    assert job.created == Ticket.objects.count() > 10
    assert job.processed == job.total == job.created
    assert job.started_at <= job.finished_at
    assert Ticket.objects.filter(agreement=acme_agreement).count() == job.created
    ticket = Ticket.objects.get(external_id="INC0000045")
    assert ticket.opened_at == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)

    # A redelivered task finds the job claimed and does nothing.
    assert run_import_job(job.pk) is False
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


@pytest.mark.django_db
def test_a_refused_import_lists_its_problems_and_imports_nothing(
    client, media, servicenow_source, alice_manager
):
    job = make_job(servicenow_source, uci_slice(200, break_state_on_line=5))

    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert job.problems == [job.problems[0]] and job.problems[0].startswith(
        "line 5: incident_state"
    )
    assert Ticket.objects.count() == 0
    client.force_login(alice_manager)
    page = client.get(reverse("monitoring:import-detail", args=[job.pk])).content.decode()
    assert "Nothing was imported" in page and "line 5: incident_state" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling (the job status)


@pytest.mark.django_db
def test_a_damaged_zip_is_refused_with_a_clear_message(media, servicenow_source):
    # Issue 14: this used to fail with "BadZipFile: ..."; a damaged file is the user's to fix,
    # so the job is refused with one sentence saying so, and nothing is imported.
    job = make_job(servicenow_source, b"PK\x03\x04 not really a zip")

    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert job.problems == [job.problems[0]]
    assert job.problems[0].startswith("The zip archive is damaged or truncated")
    assert Ticket.objects.count() == 0


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_full_uci_log_uploaded_in_the_browser_is_imported_by_the_worker(
    new_page, celery_worker, alice_manager, acme_agreement
):
    source = Source.objects.create(
        customer=acme_agreement.customer, name="ServiceNow", kind=Source.Kind.SERVICENOW
    )
    page = new_page()
    login(page, alice_manager.username, PASSWORD)
    page.goto(reverse("monitoring:import-new"))
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("Format").select_option("servicenow")
    page.locator("#id_file").set_input_files(str(UCI))
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Agreement").select_option(str(acme_agreement.pk))
    page.get_by_label("Skip unreadable rows").check()
    screenshot(page, "import-new-form")
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url("**/imports/*/")

    status = page.locator("#import-status .progress-bar")
    status.filter(has_text="Succeeded").wait_for(timeout=240_000)
    assert page.locator('[data-count="created"]').inner_text() == "24918"
    assert page.locator('[data-count="skipped"]').inner_text() == "10"
    path = screenshot(page, "import-job-succeeded")
    assert path.exists()

    job = ImportJob.objects.get()
    try:
        assert Ticket.objects.count() == 24_918
        assert Ticket.objects.filter(agreement=acme_agreement).count() == 24_918
        ticket = Ticket.objects.get(external_id="INC0000045")
        assert ticket.opened_at == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
        assert ticket.resolved_at == datetime(2016, 2, 29, 11, 29, tzinfo=UTC)
    finally:
        # The worker wrote under the real MEDIA_ROOT; leave no 2 MB upload behind.
        job.file.delete(save=False)
