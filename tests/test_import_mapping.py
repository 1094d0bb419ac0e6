"""Importing any service desk's CSV export: the pure column-mapping parser, then the browser flow
(upload → map and preview → save the mapping → import as a background job)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.importers import ImportOptionError
from monitoring.importers import generic_csv as gc
from monitoring.models import ImportJob, Source, Ticket
from monitoring.models.imports import ColumnMapping
from monitoring.tasks import run_import_job

JIRA = (
    "Issue key,Summary,Priority,Created,Resolved,Issue Type\n"
    "SUP-1,Printer,High,25/03/2026 09:15,25/03/2026 11:00,Incident\n"
    "SUP-2,VPN,1 - Critical,02/04/2026 14:00,,Incident\n"
    "SUP-3,Mail,Low,03/04/2026 08:00,04/04/2026 10:30,Request\n"
)


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


# --- the pure parser -------------------------------------------------------------------------


def test_guess_mapping_from_header_names():
    header = ["Issue key", "Summary", "Priority", "Created", "Resolved", "Issue Type"]
    assert gc.guess_mapping(header) == {
        "external_id": "Issue key",
        "opened_at": "Created",
        "resolved_at": "Resolved",
        "priority": "Priority",
        "category": "Issue Type",
    }
    assert gc.guess_mapping(["Number", "Created at"])["external_id"] == "Number"
    assert gc.guess_mapping(["ID", "Opened"]) == {"external_id": "ID", "opened_at": "Opened"}


def test_mapping_turns_records_into_ticket_rows():
    mapping = gc.guess_mapping(gc.read_header(csv_file(JIRA)))
    result = gc.parse_tickets(csv_file(JIRA), mapping, timezone="Europe/Lisbon")
    assert result.errors == [] and result.date_format == gc.DAYFIRST
    first = result.rows[0]
    assert first["external_id"] == "SUP-1" and first["category"] == "Incident"
    assert first["priority"] == "P2"
    # Lisbon is UTC+0 before 29 March 2026, UTC+1 after.
    assert first["opened_at"] == datetime(2026, 3, 25, 9, 15, tzinfo=UTC)
    assert result.rows[1]["opened_at"] == datetime(2026, 4, 2, 13, 0, tzinfo=UTC)
    assert result.rows[1]["resolved_at"] is None and result.rows[1]["priority"] == "P1"


def test_dates_are_detected_day_first_or_month_first():
    assert gc.detect_date_format(["03/04/2026 10:00", "25/03/2026 09:00"]) == gc.DAYFIRST
    assert gc.detect_date_format(["03/04/2026 10:00", "03/25/2026 9:00 PM"]) == gc.MONTHFIRST
    assert gc.detect_date_format(["2026-03-25 09:00", "", "2026-03-25T09:00:00+01:00"]) == gc.ISO


def test_ambiguous_dates_ask_the_user():
    with pytest.raises(ImportOptionError, match="choose day-first or month-first"):
        gc.detect_date_format(["03/04/2026 10:00", "01/02/2026 10:00"])
    text = "Key,Created\nA-1,03/04/2026 10:00\n"
    with pytest.raises(ImportOptionError, match="choose day-first"):
        gc.parse_tickets(csv_file(text), {"external_id": "Key", "opened_at": "Created"})
    chosen = gc.parse_tickets(
        csv_file(text),
        {"external_id": "Key", "opened_at": "Created"},
        date_format=gc.MONTHFIRST,
        timezone="UTC",
    )
    assert chosen.rows[0]["opened_at"] == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_iso_with_offset_keeps_its_offset_without_a_time_zone():
    text = "Key,Created\nA-1,2026-03-25T09:15:00+02:00\nA-2,2026-03-25T09:15:00Z\n"
    result = gc.parse_tickets(csv_file(text), {"external_id": "Key", "opened_at": "Created"})
    assert result.errors == []
    assert result.rows[0]["opened_at"] == datetime(
        2026, 3, 25, 9, 15, tzinfo=timezone(timedelta(hours=2))
    )
    assert result.rows[1]["opened_at"] == datetime(2026, 3, 25, 9, 15, tzinfo=UTC)


def test_naive_dates_without_a_time_zone_are_errors():
    text = "Key,Created\nA-1,2026-03-25 09:15\n"
    result = gc.parse_tickets(csv_file(text), {"external_id": "Key", "opened_at": "Created"})
    assert result.rows == [] and result.needs_timezone
    assert result.errors[0].line == 2 and result.errors[0].field == "opened_at"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", "P1"),
        ("P1", "P1"),
        ("p3", "P3"),
        ("Critical", "P1"),
        ("1 - Critical", "P1"),
        ("High", "P2"),
        ("major", "P2"),
        ("Medium", "P3"),
        ("Normal", "P3"),
        ("Lowest", "P4"),
        ("4", "P4"),
        ("", ""),
    ],
)
def test_priority_normalisation(value, expected):
    assert gc.normalise_priority(value) == expected


def test_unknown_priority_is_a_row_error():
    with pytest.raises(ValueError, match="not a priority"):
        gc.normalise_priority("Whenever")
    text = "Key,Created,Prio\nA-1,2026-03-25T09:15:00Z,Whenever\n"
    result = gc.parse_tickets(
        csv_file(text), {"external_id": "Key", "opened_at": "Created", "priority": "Prio"}
    )
    assert [(e.line, e.field) for e in result.errors] == [(2, "priority")]


def test_missing_required_column_is_an_option_error():
    with pytest.raises(ImportOptionError, match="required field"):
        gc.parse_tickets(csv_file(JIRA), {"external_id": "Issue key"})
    with pytest.raises(ImportOptionError, match="not in the file"):
        gc.parse_tickets(csv_file(JIRA), {"external_id": "Issue key", "opened_at": "Opened"})


def test_row_problems_carry_line_field_and_reason():
    text = (
        "Key,Created,Resolved,CSAT\n"
        "A-1,2026-03-25T09:15:00Z,2026-03-24T09:15:00Z,5\n"
        ",2026-03-25T09:15:00Z,,9\n"
        "A-1,not a date,,\n"
    )
    mapping = {"external_id": "Key", "opened_at": "Created", "resolved_at": "Resolved"}
    result = gc.parse_tickets(csv_file(text), {**mapping, "csat": "CSAT"}, date_format=gc.ISO)
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "resolved_at"),
        (3, "csat"),
        (3, "external_id"),
        (4, "opened_at"),
        (4, "external_id"),
    ]
    assert result.problem_lines == 3 and result.rows == []


# --- the web flow ----------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def jira_source(acme) -> Source:
    return Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)


@pytest.fixture
def globex_source(globex) -> Source:
    return Source.objects.create(customer=globex, name="Zammad", kind=Source.Kind.ZAMMAD)


def upload(client, source: Source, text: str, **extra) -> str:
    response = client.post(
        reverse("monitoring:csv-upload"),
        {"source": source.pk, "file": SimpleUploadedFile("jira.csv", text.encode()), **extra},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def mapping_post(**overrides) -> dict[str, str]:
    data = {
        "map_external_id": "Issue key",
        "map_opened_at": "Created",
        "map_resolved_at": "Resolved",
        "map_priority": "Priority",
        "map_category": "Issue Type",
        "date_format": "auto",
        "timezone": "Europe/Lisbon",
        "save_name": "",
        "action": "preview",
    }
    return {**data, **overrides}


@pytest.mark.django_db
def test_customers_get_403(client, carol_customer):
    client.force_login(carol_customer)
    assert client.get(reverse("monitoring:csv-upload")).status_code == 403
    assert client.post(reverse("monitoring:csv-upload"), {}).status_code == 403
    url = reverse("monitoring:csv-mapping", args=["anything"])
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_a_saved_mapping_of_another_orgs_source_is_not_selectable(
    client, media, alice_manager, jira_source, globex_source
):
    theirs = ColumnMapping.objects.create(
        source=globex_source, name="Zammad", mapping={"external_id": "Number"}
    )
    client.force_login(alice_manager)
    response = client.post(
        reverse("monitoring:csv-upload"),
        {
            "source": jira_source.pk,
            "file": SimpleUploadedFile("jira.csv", JIRA.encode()),
            "mapping": theirs.pk,
        },
    )
    assert response.status_code == 400  # a refused form answers 400 (issue 14)
    assert "Choose a mapping saved for this source." in response.content.decode()


@pytest.mark.django_db
def test_another_users_upload_is_not_reachable(
    client, media, alice_manager, ada_admin, jira_source
):
    client.force_login(alice_manager)
    location = upload(client, jira_source, JIRA)
    client.force_login(ada_admin)
    assert client.get(location).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_upload_map_preview_save_and_import(
    client, media, alice_manager, jira_source, acme_agreement, monkeypatch
):
    enqueued: list[int] = []
    monkeypatch.setattr(run_import_job, "delay", enqueued.append)
    client.force_login(alice_manager)
    bad = JIRA + "SUP-4,Bad,Medium,31/02/2026 08:00,,Incident\n"
    location = upload(client, jira_source, bad)

    # The mapping page lists the columns and guesses the mapping from the header.
    page = client.get(location).content.decode()
    assert "<code>Issue key</code>" in page and "<code>Summary</code>" in page
    assert '<option value="Created" selected>' in page
    assert '<option value="Issue key" selected>' in page

    # The preview shows the mapped rows and the bad date's row error.
    page = client.post(location, mapping_post()).content.decode()
    assert "SUP-1" in page and "2026-03-25T09:15:00+00:00" in page
    assert "line 5: opened_at" in page and "not a valid date" in page
    assert 'data-count="problem-rows">1<' in page

    # Save the mapping under a name, for this source.
    response = client.post(location, mapping_post(action="save", save_name="Jira default"))
    assert response.status_code == 302
    saved = ColumnMapping.objects.get(source=jira_source, name="Jira default")
    assert saved.mapping["opened_at"] == "Created" and saved.timezone == "Europe/Lisbon"

    # Import with the problem row skipped: a generic_csv job, then the job page.
    response = client.post(location, mapping_post(action="import", skip_invalid="on"))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("monitoring:import-detail", args=[job.pk])
    assert job.format == ImportJob.Format.GENERIC_CSV and enqueued == [job.pk]
    assert job.options["date_format"] == gc.DAYFIRST
    assert job.options["mapping"]["external_id"] == "Issue key"

    assert run_import_job(job.pk) is True
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error or job.problems
    assert (job.created, job.skipped) == (3, 1)  # SUP-4 and its impossible date
    ticket = Ticket.objects.get(source=jira_source, external_id="SUP-1")
    assert ticket.priority == "P2" and ticket.category == "Incident"
    assert ticket.opened_at == datetime(2026, 3, 25, 9, 15, tzinfo=UTC)
    assert client.get(location).status_code == 404  # the pending upload is used up

    # A second upload can start from the saved mapping.
    again = upload(client, jira_source, JIRA, mapping=saved.pk)
    page = client.get(again).content.decode()
    assert "starting from the saved mapping “Jira default”" in page


@pytest.mark.django_db
def test_ambiguous_dates_and_missing_zone_are_form_errors(
    client, media, alice_manager, jira_source
):
    client.force_login(alice_manager)
    location = upload(client, jira_source, "Key,Created\nA-1,03/04/2026 10:00\n")
    data = {"map_external_id": "Key", "map_opened_at": "Created", "date_format": "auto"}
    page = client.post(location, {**data, "timezone": "UTC"}).content.decode()
    assert "choose day-first or month-first" in page
    page = client.post(location, {**data, "date_format": "dayfirst"}).content.decode()
    assert "The dates carry no time zone: choose one." in page
    response = client.post(location, {**data, "date_format": "dayfirst", "action": "import"})
    assert response.status_code == 200 and not ImportJob.objects.exists()
