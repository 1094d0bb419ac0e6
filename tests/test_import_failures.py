"""Issue 14, imports: every failure is one clear message and nothing is written.

A PNG, a truncated gzip or zip, an empty file, a file with the wrong columns or in the wrong
encoding is refused by every import command (exit status 1, one line, no traceback) and by
every browser upload (a form error, no job, no stored file); a refused import never leaves a
new, empty source behind."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from monitoring.importers import event_log as el
from monitoring.models import ImportJob, MaintenanceWindow, Source, Ticket, UptimeCheck
from monitoring.models.imports import ColumnMapping
from monitoring.tasks import run_import_job

REPO = Path(__file__).resolve().parent.parent

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
GOOD_CSV = ("key,check_time_utc_minute,result\n" + "api,2026-01-01 00:00,success\n" * 50).encode()


def _truncated_gzip() -> bytes:
    whole = gzip.compress(GOOD_CSV * 20)
    return whole[: len(whole) // 2]


def _truncated_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.csv", GOOD_CSV * 20)
    whole = buffer.getvalue()
    return whole[: len(whole) // 2]


BAD_FILES = {
    "binary": (PNG, "This is a PNG image, not a CSV text file."),
    "truncated gzip": (_truncated_gzip(), "The gzip file is damaged or truncated"),
    "truncated zip": (_truncated_zip(), "The zip archive is damaged or truncated"),
    "empty": (b"", "The file is empty"),
    "wrong columns": (b"name,when,value\nx,2026-01-01,1\n", "Wrong columns: missing"),
    "wrong encoding": (
        "key,check_time_utc_minute,result\nM\u00fcnchen,2026-01-01 00:00,success\n".encode(
            "latin-1"
        ),
        "The file is not UTF-8 text (byte 0xfc on line 2)",
    ),
}
BAD = pytest.mark.parametrize("content,message", BAD_FILES.values(), ids=BAD_FILES.keys())


def written() -> tuple[int, int, int, int, int]:
    return (
        Source.objects.count(),
        Ticket.objects.count(),
        UptimeCheck.objects.count(),
        MaintenanceWindow.objects.count(),
        ImportJob.objects.count(),
    )


def refused_command(*args: str) -> str:
    """Run a command that must refuse; its one-line error."""
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=out, stderr=out)
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in out.getvalue()
    assert message.startswith("Nothing was imported: ")
    return message


def command_args(kind: str, path: Path, tmp_path: Path) -> list[str]:
    base = ["--customer", "acme", "--source", "New source"]
    if kind == "servicenow":
        return ["import_servicenow", str(path), *base, "--timezone", "UTC"]
    if kind == "maintenance":
        return ["import_maintenance", str(path), *base]
    if kind == "event_log":
        return ["import_event_log", str(path), "--customer", "acme", "--source", "Jira"]
    args = ["import_checks", str(path), *base, "--format", kind]
    if kind == "uptime_kuma":
        monitors = tmp_path / "monitor.csv"
        monitors.write_text("id,name\n1,Domain\n")
        args += ["--monitors", str(monitors)]
    return args


@pytest.fixture
def jira_source(acme) -> Source:
    source = Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)
    ColumnMapping.objects.create(
        source=source,
        name="changelog",
        mapping={
            "external_id": "Issue key",
            "at": "Changed",
            "state": "Status",
            el.STATES_KEY: {"Open": "new", "Done": "resolved"},
        },
        timezone="UTC",
    )
    return source


@BAD
@pytest.mark.parametrize(
    "kind",
    ["servicenow", "uptime_kuma", "healthcheck", "upptime", "maintenance", "event_log"],
)
@pytest.mark.django_db
def test_every_import_command_refuses_a_bad_file_in_one_line_and_writes_nothing(
    kind, content, message, acme, jira_source, tmp_path
):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    before = written()
    args = command_args(kind, path, tmp_path)
    if kind == "event_log":
        args += ["--mapping", "changelog"]

    if kind == "event_log" and message.startswith("Wrong columns"):
        message = "are not in the file"  # the saved mapping names the columns it needs
    assert message in refused_command(*args)
    assert written() == before
    assert not Source.objects.filter(name="New source").exists()


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_command_error(acme, tmp_path):
    error = refused_command(*command_args("healthcheck", tmp_path / "nowhere.csv", tmp_path))
    assert "No such file or directory" in error


@pytest.mark.django_db
def test_a_refused_import_leaves_no_empty_source_behind(acme, tmp_path):
    # A readable file whose rows the ingest refuses (the endpoint is not mapped to a service):
    # the source the command would create is rolled back with the rows.
    path = tmp_path / "checks.csv"
    path.write_bytes(GOOD_CSV[:200])
    refused_command(*command_args("healthcheck", path, tmp_path))
    assert not Source.objects.filter(name="New source").exists()


def _database_url() -> str:
    """The test database as a URL, for a ``manage.py`` run in a subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_the_command_line_prints_one_line_and_exits_non_zero(acme, tmp_path):
    path = tmp_path / "export.csv.gz"
    path.write_bytes(_truncated_gzip())
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "import_servicenow", str(path), "--customer", "acme",
         "--source", "x", "--timezone", "UTC"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().startswith("CommandError: Nothing was imported: The gzip file")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


@BAD
@pytest.mark.parametrize("format", ["servicenow", "healthcheck", "upptime", "statuspage"])
@pytest.mark.django_db
def test_the_upload_page_refuses_a_bad_file_before_any_job_exists(
    client, media, alice_manager, acme, format, content, message
):
    source = Source.objects.create(customer=acme, name="Uploads", kind=format)
    client.force_login(alice_manager)
    response = client.post(
        reverse("monitoring:import-new"),
        {"source": source.pk, "format": format, "timezone": "UTC", "dayfirst": "1",
         "file": SimpleUploadedFile("export.csv", content)},
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400
    if content:
        assert message in page.replace("&#x27;", "'")
    else:  # Django's own FileField refuses an empty upload first
        assert "The submitted file is empty." in page
    assert ImportJob.objects.count() == 0 and stored_files(media) == []


@BAD
@pytest.mark.django_db
def test_the_uptime_kuma_monitor_list_is_checked_too(
    client, media, alice_manager, acme, content, message
):
    source = Source.objects.create(customer=acme, name="Kuma", kind="uptime_kuma")
    client.force_login(alice_manager)
    heartbeats = b"monitor_id,status,time,ping\n1,1,2026-01-01 00:00:00,12\n"
    response = client.post(
        reverse("monitoring:import-new"),
        {"source": source.pk, "format": "uptime_kuma", "timezone": "UTC",
         "file": SimpleUploadedFile("heartbeat.csv", heartbeats),
         "monitors_file": SimpleUploadedFile("monitor.csv", content)},
    )  # fmt: skip
    assert response.status_code == 400
    assert ImportJob.objects.count() == 0 and stored_files(media) == []


@BAD
@pytest.mark.parametrize("url", ["monitoring:csv-upload", "monitoring:event-log-upload"])
@pytest.mark.django_db
def test_the_column_mapping_uploads_refuse_a_bad_file(
    client, media, alice_manager, jira_source, url, content, message
):
    client.force_login(alice_manager)
    response = client.post(
        reverse(url), {"source": jira_source.pk, "file": SimpleUploadedFile("x.csv", content)}
    )
    page = response.content.decode().replace("&#x27;", "'")
    if message.startswith("Wrong columns"):
        # Any columns can be mapped here: the next step asks which one holds what.
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert ("The submitted file is empty." if not content else message) in page
    assert ImportJob.objects.count() == 0 and stored_files(media) == []
    assert not client.session.get("csv_uploads")


@BAD
@pytest.mark.django_db
def test_a_job_on_a_bad_file_is_refused_with_the_same_message(media, acme, content, message):
    # Jobs re-read stored files (a retry, or a file the upload check could not see): the
    # worker refuses them with the same sentence instead of failing with a decoding error.
    source = Source.objects.create(customer=acme, name="Checks", kind="healthcheck")
    job = ImportJob.objects.create(
        source=source, format="healthcheck", file=SimpleUploadedFile("x.csv", content)
    )
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert any(message in problem for problem in job.problems), job.problems
    assert UptimeCheck.objects.count() == 0


@pytest.mark.django_db
def test_a_refused_import_still_prints_the_rows_and_rules(acme, tmp_path):
    # The endpoint is not mapped: refused; the summary of what was read is printed anyway.
    path = tmp_path / "checks.csv"
    path.write_text(
        "key,check_time_utc_minute,result\napi,2026-01-01 00:00,success|failed\n"
        "api,2026-01-01 00:01,success\n"
    )
    out = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 1 problem"):
        call_command(*command_args("healthcheck", path, tmp_path), stdout=out, stderr=out)
    assert "Rows read 2 = 2 used + 0 merged by a rule" in out.getvalue()
    assert "  1 row: several results in one minute" in out.getvalue()
    assert not Source.objects.filter(name="New source").exists()
