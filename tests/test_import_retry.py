"""A refused import is corrected and retried on the file already stored: back to the mapping or
options step, a new job linked to the first, which keeps what it said. An expired file says so
and offers a new upload. Nothing is half written by a refused attempt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from monitoring.models import ImportJob, Ticket
from monitoring.retention import purge_import_files
from monitoring.sources import source_disable
from monitoring.tasks import run_import_job
from tests.test_event_log_import import columns_post, states_post
from tests.test_event_log_import import upload as upload_event_log
from tests.test_import_mapping import JIRA, mapping_post
from tests.test_import_mapping import upload as upload_csv
from tests.test_import_upload import make_job


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SLA_IMPORT_FILE_RETENTION_DAYS = 30
    return settings.MEDIA_ROOT


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    jobs: list[int] = []
    monkeypatch.setattr(run_import_job, "delay", jobs.append)
    return jobs


@pytest.fixture
def jira_source(acme):
    from monitoring.models import Source

    return Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)


def refused_csv_job(client, jira_source) -> ImportJob:
    """A Jira CSV imported with Priority mapped to the Summary column: every row refused."""
    location = upload_csv(client, jira_source, JIRA)
    client.post(location, mapping_post(map_priority="Summary", action="import"))
    job = ImportJob.objects.get()
    assert run_import_job(job.pk) is True
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    return job


def detail(client, job: ImportJob) -> str:
    return client.get(reverse("monitoring:import-detail", args=[job.pk])).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_refused_csv_import_is_corrected_and_retried_without_uploading_again(
    client, media, enqueued, alice_manager, jira_source, acme_agreement
):
    client.force_login(alice_manager)
    first = refused_csv_job(client, jira_source)
    said = list(first.problems)
    assert said and "priority" in said[0]
    assert Ticket.objects.count() == 0  # a refused attempt writes nothing

    page = detail(client, first)
    retry_url = reverse("monitoring:import-retry", args=[first.pk])
    assert "Correct and retry" in page and retry_url in page

    # Back to the mapping step, on the stored file, with the first attempt's choices.
    response = client.get(retry_url)
    assert response.status_code == 302
    mapping_url = response["Location"]
    assert "/imports/csv/" in mapping_url
    page = client.get(mapping_url).content.decode()
    assert '<option value="Summary" selected>' in page  # the wrong choice, to correct
    assert 'value="Europe/Lisbon"' in page
    first_url = reverse("monitoring:import-detail", args=[first.pk])
    assert f'Correcting <a class="alert-link" href="{first_url}"' in page

    # Corrected mapping: a new job linked to the first, on its own copy of the file.
    response = client.post(mapping_url, mapping_post(action="import"))
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert response["Location"] == reverse("monitoring:import-detail", args=[second.pk])
    assert second.retry_of == first and second.file.name != first.file.name
    assert second.options["mapping"]["priority"] == "Priority"
    assert run_import_job(second.pk) is True
    second.refresh_from_db()
    assert second.status == ImportJob.Status.SUCCEEDED, second.problems
    assert Ticket.objects.filter(source=jira_source).count() == 3

    # The first attempt keeps what it said; both pages link each other.
    first.refresh_from_db()
    assert first.status == ImportJob.Status.REFUSED and first.problems == said
    first_page = detail(client, first)
    assert f"Import #{second.pk}" in first_page and 'id="retries"' in first_page
    second_page = detail(client, second)
    assert 'id="retry-of"' in second_page and f"Import #{first.pk}" in second_page
    assert "Correct and retry" not in second_page  # succeeded: nothing to correct
    assert client.get(mapping_url).status_code == 404  # the pending retry is used up


@pytest.mark.django_db(transaction=True)
def test_a_refused_event_log_is_retried_from_its_columns(
    client, media, enqueued, alice_manager, jira_source, acme_agreement
):
    client.force_login(alice_manager)
    location = upload_event_log(client, jira_source)
    response = client.post(location, columns_post(map_service="Issue Type"))
    states_url = response["Location"]
    client.post(states_url, states_post(client, states_url, action="import"))
    first = ImportJob.objects.get()
    run_import_job(first.pk)
    first.refresh_from_db()
    assert first.status == ImportJob.Status.REFUSED and first.problems
    assert Ticket.objects.count() == 0

    response = client.get(reverse("monitoring:import-retry", args=[first.pk]))
    columns_url = response["Location"]
    assert "/imports/events/" in columns_url
    page = client.get(columns_url).content.decode()
    assert '<select name="map_service"' in page
    assert page.count('<option value="Issue Type" selected>') == 2  # category and the mistake
    response = client.post(columns_url, columns_post())
    states_url = response["Location"]
    client.post(states_url, states_post(client, states_url, action="import"))
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert second.retry_of == first and second.options["layout"] == "event_log"
    run_import_job(second.pk)
    second.refresh_from_db()
    assert second.status == ImportJob.Status.SUCCEEDED, second.problems
    assert second.created == 4


@pytest.fixture
def servicenow_source(acme):
    from monitoring.models import Source

    return Source.objects.create(customer=acme, name="ServiceNow", kind=Source.Kind.SERVICENOW)


@pytest.mark.django_db(transaction=True)
def test_an_export_refused_for_its_options_is_retried_with_new_options(
    client, media, enqueued, alice_manager, servicenow_source, acme_agreement
):
    client.force_login(alice_manager)
    # ServiceNow rows whose agreement reference does not exist: refused, nothing imported.
    from tests.test_import_upload import uci_slice

    first = make_job(servicenow_source, uci_slice(40), agreement="SLA-NOPE")
    first.created_by = alice_manager
    first.save()
    run_import_job(first.pk)
    first.refresh_from_db()
    assert first.status == ImportJob.Status.REFUSED
    assert Ticket.objects.count() == 0

    retry_url = reverse("monitoring:import-retry", args=[first.pk])
    page = client.get(retry_url).content.decode()
    # What the first attempt said stays in view while correcting.
    assert 'id="retry-note"' in page and "no agreement with this reference" in page
    assert 'name="file"' not in page  # no upload: the stored file is used
    assert 'value="UTC"' in page
    response = client.post(
        retry_url,
        {
            "source": servicenow_source.pk,
            "format": "servicenow",
            "timezone": "UTC",
            "dayfirst": "1",
            "agreement": acme_agreement.pk,
        },
    )
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert response["Location"] == reverse("monitoring:import-detail", args=[second.pk])
    assert second.retry_of == first and second.options["agreement"] == acme_agreement.reference
    assert default_storage.exists(second.file.name) and second.file.name != first.file.name
    run_import_job(second.pk)
    second.refresh_from_db()
    assert second.status == ImportJob.Status.SUCCEEDED, second.problems
    assert Ticket.objects.filter(source=servicenow_source).exists()

    # Bad options on the retry form are form errors, not a job and not a 500.
    page = client.post(retry_url, {"source": servicenow_source.pk, "format": "servicenow"})
    assert page.status_code == 200
    assert "ServiceNow exports have no time zone" in page.content.decode()
    assert ImportJob.objects.count() == 2


@pytest.mark.django_db
def test_an_expired_file_says_so_and_offers_a_new_upload(
    client, media, alice_manager, servicenow_source
):
    client.force_login(alice_manager)
    job = make_job(servicenow_source, b"number\n")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.REFUSED,
        problems=["line 2: bad"],
        finished_at=timezone.now() - timedelta(days=31),
    )
    purge_import_files(timezone.now())
    job.refresh_from_db()
    assert job.files_removed_at is not None

    page = detail(client, job)
    assert 'id="retry-expired"' in page and "deleted at the end of its retention" in page
    assert reverse("monitoring:import-new") in page  # a new upload is offered
    assert reverse("monitoring:import-retry", args=[job.pk]) not in page

    response = client.get(reverse("monitoring:import-retry", args=[job.pk]), follow=True)
    assert "upload it again" in response.content.decode()
    assert ImportJob.objects.count() == 1


@pytest.mark.django_db
def test_only_refused_or_failed_jobs_of_managers_are_retried(
    client, media, alice_manager, tom_team, carol_customer, servicenow_source
):
    job = make_job(servicenow_source, b"number\n")
    retry_url = reverse("monitoring:import-retry", args=[job.pk])
    for user in (tom_team, carol_customer):
        client.force_login(user)
        assert client.get(retry_url).status_code == 403
    client.force_login(alice_manager)
    response = client.get(retry_url, follow=True)  # queued: nothing to correct
    assert "nothing to correct" in response.content.decode()
    assert "Correct and retry" not in detail(client, job)

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.REFUSED)
    source_disable(servicenow_source)
    response = client.get(retry_url, follow=True)
    assert "is disabled: enable it first" in response.content.decode()
    assert client.get(reverse("monitoring:import-retry", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_preview_tables_are_keyboard_reachable_regions(client, media, alice_manager, jira_source):
    client.force_login(alice_manager)
    location = upload_csv(client, jira_source, JIRA)
    page = client.post(location, mapping_post()).content.decode()
    assert (
        '<div class="table-responsive scroll-region" tabindex="0" role="region" '
        'aria-label="Preview of the mapped rows (scrollable)">'
    ) in page
    assert "css/monitoring.css" in page
    listing = client.get(reverse("monitoring:import-list")).content.decode()
    assert 'tabindex="0" role="region" aria-label="Import jobs (scrollable)"' in listing


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"source": "x", "format": "nope", "timezone": "Mars/Olympus", "agreement": "1e9"},
        {"source": "999999", "format": "uptime_kuma", "service_map": "no equals sign"},
        {"format": "servicenow", "timezone": "UTC", "dayfirst": "2", "pausing_states": "a" * 5000},
        {"format": "healthcheck", "service_map": "key=No such service", "skip_invalid": "maybe"},
    ],
)
def test_junk_on_the_retry_form_is_a_form_error_not_a_500(
    client, media, alice_manager, servicenow_source, data
):
    job = make_job(servicenow_source, b"number\n")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.REFUSED)
    client.force_login(alice_manager)
    response = client.post(reverse("monitoring:import-retry", args=[job.pk]), data)
    assert response.status_code == 200
    if data:  # an empty POST just shows the form again
        assert "is-invalid" in response.content.decode()
    assert ImportJob.objects.count() == 1
