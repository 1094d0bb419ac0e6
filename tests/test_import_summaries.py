"""Issue 14, imports: every row an importer reinterprets, fills in, merges or leaves out by a
rule is counted and shown with the rule, in the command's summary and on the job page, and
the counts add up (rows read = used + merged + left out + refused; docs/importers.md).

Checked on the five shared exports (tests/support/data.SHARED_DATA)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from monitoring import jobs
from monitoring.importers import RULES, healthcheck, servicenow, statuspage, upptime, uptime_kuma
from monitoring.models import ImportJob, Source, UptimeCheck
from monitoring.tasks import run_import_job
from tests.support.data import SHARED_DATA

UPTIME = SHARED_DATA / "uptime"
UCI = SHARED_DATA / "uci-incident-log" / "incident_event_log.csv.zip"
DEVZERO = UPTIME / "devzero-checks.csv.gz"
UPPTIME = UPTIME / "upptime-cloudesire-status-changes.csv"
KUMA = UPTIME / "uptime-kuma-export"
MAINTENANCES = UPTIME / "githubstatus-scheduled-maintenances.csv.gz"

# What each real export needs a rule for, counted by hand from the files (see the README of
# shared/data): rule code → count; and the rows read / used / merged / left out / refused.
EXPECTED = {
    "servicenow": (
        {"SN-R1": 52_754, "SN-R2": 1_556, "SN-R5": 7, "SN-R9": 1_544},
        {"read": 141_712, "used": 88_948, "merged": 52_754, "skipped": 0, "refused": 10},
    ),
    "healthcheck": (
        {"HC-R1": 4},
        {"read": 122_249, "used": 122_249, "merged": 0, "skipped": 0, "refused": 0},
    ),
    "upptime": (
        {"UP-R2": 274},
        {"read": 2_287, "used": 2_287, "merged": 0, "skipped": 0, "refused": 0},
    ),
    "uptime_kuma": (
        {"UK-R1": 50},
        {"read": 2_345, "used": 2_345, "merged": 0, "skipped": 0, "refused": 0},
    ),
    "statuspage": (
        {},
        {"read": 30, "used": 19, "merged": 0, "skipped": 0, "refused": 11},
    ),
}


def parse(kind: str):
    if kind == "servicenow":
        return servicenow.parse_incident_log(UCI, timezone="UTC")
    if kind == "healthcheck":
        return healthcheck.parse_checks(DEVZERO)
    if kind == "upptime":
        return upptime.parse_status_changes(UPPTIME)
    if kind == "uptime_kuma":
        return uptime_kuma.parse_heartbeats(KUMA / "heartbeat.csv", KUMA / "monitor.csv")
    return statuspage.parse_maintenances(MAINTENANCES)


@pytest.mark.parametrize("kind", EXPECTED)
def test_each_shared_export_names_every_rule_it_applied_and_the_rows_add_up(kind):
    parsed = parse(kind)
    rules, rows = EXPECTED[kind]
    summary = parsed.summary()

    assert dict(parsed.notes) == rules
    assert summary["rows"] == rows
    assert rows["read"] == rows["used"] + rows["merged"] + rows["skipped"] + rows["refused"]
    assert parsed.balanced
    assert rows["refused"] == len({error.line for error in parsed.errors if error.line})
    for entry in summary["rules"]:
        rule = RULES[entry["code"]]
        assert entry["line"] == f"{entry['count']} {rule.unit}: {rule.text} (rule {rule.code})"


def test_a_rule_that_leaves_rows_out_is_counted_as_left_out():
    parsed = uptime_kuma.parse_heartbeats(
        KUMA / "heartbeat.csv", KUMA / "monitor.csv", pending_as="skip"
    )
    assert parsed.notes == {"UK-R3": 50}
    assert parsed.summary()["rows"]["skipped"] == 50
    assert parsed.count == 2_345 - 50 and parsed.balanced


def test_every_rule_is_documented():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "importers.md").read_text()
    for code in RULES:
        assert f"`{code}`" in docs, code


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_check_commands_print_every_rule_with_its_count(acme_agreement, services):
    acme_agreement.services.add(services["erp"], services["email"])
    common = ["--customer", "acme", "--source", "Checks", "--format"]
    output = run(
        "import_checks", str(UPPTIME), *common, "upptime",
        "--map", "https://marketplace.cloudeng.it=Customer Portal",
        "--map", "https://backend-staging-eng.cloudesire.com=ERP Hosting",
        "--map", "https://vc2.cloudeng.it=Managed Email",
    )  # fmt: skip
    assert (
        "Rows read 2287 = 2287 used + 0 merged by a rule + 0 left out by a rule + 0 refused"
        in output
    )
    assert (
        "  274 rows: down row's response time ('0 ms': no answer) not kept as a response "
        "time (rule UP-R2)" in output
    )

    output = run(
        "import_checks", str(KUMA / "heartbeat.csv"), "--monitors", str(KUMA / "monitor.csv"),
        *common, "uptime_kuma",
        "--map", "Domain=Customer Portal", "--map", "Database=ERP Hosting",
        "--map", "LavaLink=Managed Email", "--map", "MySQL=ERP Hosting",
    )  # fmt: skip
    assert "Rows read 2345 = 2345 used" in output
    assert "  50 rows: status 2 (pending: a failed check Uptime Kuma is still retrying) " in output


@pytest.mark.django_db
def test_the_health_check_log_command_prints_its_rule(acme_agreement, services):
    acme_agreement.services.add(services["erp"], services["email"])
    output = run(
        "import_checks", str(DEVZERO), "--customer", "acme", "--source", "Status page",
        "--format", "healthcheck", "--map", "api=Customer Portal",
        "--map", "homepage=ERP Hosting", "--map", "dashboard=Managed Email",
    )  # fmt: skip
    assert "Rows read 122249 = 122249 used" in output
    assert "  4 rows: several results in one minute ('success|failed'): the worst taken" in output
    assert UptimeCheck.objects.count() == 122_249


@pytest.mark.django_db
def test_the_maintenance_command_lists_its_refused_rows(acme_agreement, services):
    components = ["API Requests", "Codespaces", "GitHub Actions", "GitHub Packages", "Packages"]
    maps = [arg for name in components for arg in ("--map", f"{name}=Customer Portal")]
    output = run(
        "import_maintenance", str(MAINTENANCES), "--customer", "acme", "--source", "GitHub",
        "--map", "Visit www.githubstatus.com for more information=Customer Portal",
        *maps, "--skip-invalid-rows",
    )  # fmt: skip
    assert "Rows read 30 = 19 used + 0 merged by a rule + 0 left out by a rule + 11 refused" in (
        output
    )
    assert output.count("skipped line ") == 11


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db
def test_the_job_page_shows_the_rows_and_every_rule(
    client, media, acme_agreement, services, alice_manager
):
    acme_agreement.services.add(services["erp"], services["email"])
    source = Source.objects.create(customer=acme_agreement.customer, name="Upptime", kind="upptime")
    job = ImportJob.objects.create(
        source=source,
        format="upptime",
        file=SimpleUploadedFile("status.csv", UPPTIME.read_bytes()),
        options={
            "map": {
                "https://marketplace.cloudeng.it": "Customer Portal",
                "https://backend-staging-eng.cloudesire.com": "ERP Hosting",
                "https://vc2.cloudeng.it": "Managed Email",
            }
        },
    )
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.problems or job.error
    assert job.summary["rows"] == EXPECTED["upptime"][1]
    assert [(r["code"], r["count"]) for r in job.summary["rules"]] == [("UP-R2", 274)]

    client.force_login(alice_manager)
    page = client.get(reverse("monitoring:import-detail", args=[job.pk])).content.decode()
    assert 'data-rows="read">2287<' in page and 'data-rows="used">2287<' in page
    assert 'data-rule="UP-R2"' in page and "274 rows" in page
    assert "not kept as a response time" in page


@pytest.mark.django_db
def test_progress_never_goes_back_and_moves_through_the_ingest(media, acme_agreement, monkeypatch):
    # 30,000 checks: enough for the ingest to run in several batches.
    rows = "".join(
        f"api,2026-01-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d},success\n"
        for i in range(30_000)
    )
    source = Source.objects.create(customer=acme_agreement.customer, name="HC", kind="healthcheck")
    job = ImportJob.objects.create(
        source=source,
        format="healthcheck",
        file=SimpleUploadedFile("hc.csv", ("key,check_time_utc_minute,result\n" + rows).encode()),
        options={"map": {"api": "Customer Portal"}},
    )
    seen: list[int] = []
    write = jobs.JobProgress.write

    def recording(self, value, stage):
        seen.append(value)
        write(self, value, stage)

    monkeypatch.setattr(jobs.JobProgress, "write", recording)
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.problems or job.error
    seen.append(job.progress)

    assert seen == sorted(seen), seen  # never decreases (it used to go 5 % → 0 %)
    assert seen[-1] == 100 and job.percent == 100
    ingest = [v for v in seen if jobs.VALIDATED < v < jobs.INGESTED]
    assert len(ingest) >= 5, seen  # the ingest phase moves the bar, batch by batch
    reading = [v for v in seen if 1 < v < jobs.READ_SHARE]
    assert len(reading) >= 2, seen  # reading the file moves the bar too
    assert jobs.READ_SHARE in seen and jobs.PARSED in seen  # phase boundaries are reported


@pytest.mark.parametrize("name", ["jira-changelog.csv", "jira-changelog-bad.csv"])
def test_event_logs_account_for_every_row(name):
    from monitoring.importers import event_log
    from tests.test_event_log_import import BERLIN, DATA, JIRA_MAPPING, JIRA_ROLES

    parsed = event_log.parse_event_log(DATA / name, JIRA_MAPPING, JIRA_ROLES, timezone=BERLIN)
    rows = parsed.summary()["rows"]
    assert parsed.balanced, rows
    if parsed.problem_tickets:
        assert rows["refused"] > 0 and parsed.notes["EL-R4"] == rows["skipped"] > 0


def test_csv_tickets_account_for_every_row():
    from monitoring.importers import generic_csv

    text = (
        "Key,Created,Priority,Reopened\n"
        "A-1,2026-03-02 09:00,Critical,\n"
        "A-2,2026-03-02 10:00,P2,1\n"
        "A-2,2026-03-02 11:00,P2,1\n"
        "A-3,not a date,Low,\n"
    )
    parsed = generic_csv.parse_tickets(
        StringIO(text),
        {"external_id": "Key", "opened_at": "Created", "priority": "Priority",
         "reopen_count": "Reopened"},
        date_format="iso",
        timezone="UTC",
    )  # fmt: skip
    assert parsed.summary()["rows"] == {
        "read": 4, "used": 2, "merged": 0, "skipped": 0, "refused": 2
    }  # fmt: skip
    assert dict(parsed.notes) == {"CSV-R1": 1, "CSV-R2": 1}


@pytest.mark.django_db(transaction=True)
def test_the_page_sees_the_ingest_progress_while_the_import_transaction_is_open(
    media, acme_agreement, monkeypatch
):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: progress joins the import transaction there")
    rows = "".join(
        f"api,2026-02-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d},success\n"
        for i in range(20_000)
    )
    source = Source.objects.create(customer=acme_agreement.customer, name="HC", kind="healthcheck")
    job = ImportJob.objects.create(
        source=source,
        format="healthcheck",
        file=SimpleUploadedFile("hc.csv", ("key,check_time_utc_minute,result\n" + rows).encode()),
        options={"map": {"api": "Customer Portal"}},
    )
    reader = connections.create_connection("default")  # another process polling the row
    seen_outside: list[tuple[int, int]] = []
    write = jobs.JobProgress.write

    def polling(self, value, stage):
        write(self, value, stage)
        if connection.in_atomic_block:
            with reader.cursor() as cursor:
                cursor.execute("SELECT progress FROM monitoring_importjob WHERE id = %s", [job.pk])
                seen_outside.append((value, cursor.fetchone()[0]))

    monkeypatch.setattr(jobs.JobProgress, "write", polling)
    try:
        run_import_job(job.pk)
    finally:
        reader.close()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.problems or job.error
    assert len(seen_outside) >= 5
    assert all(written == read for written, read in seen_outside), seen_outside


def test_event_log_rules_fill_and_reinterpret_ticket_values():
    from monitoring.importers import event_log

    text = (
        "Key,Changed,Status,Priority\n"
        "A-1,2026-03-02 09:00,Open,Low\n"
        "A-1,2026-03-02 09:30,Open,High\n"
        "A-1,2026-03-02 10:00,Done,High\n"
    )
    parsed = event_log.parse_event_log(
        StringIO(text),
        {"external_id": "Key", "at": "Changed", "state": "Status", "priority": "Priority"},
        {"Open": "new", "Done": "resolved"},
        date_format="iso",
        timezone="UTC",
    )
    # opened_at and first_response_at come from the history, the priority changed (High
    # wins), and the repeated "Open" is merged into the first one.
    assert dict(parsed.notes) == {"EL-R1": 1, "EL-R2": 1, "EL-R3": 1, "EL-R5": 1}
    assert parsed.rows[0]["priority"] == "P2"
    assert parsed.summary()["rows"] == {
        "read": 3, "used": 2, "merged": 1, "skipped": 0, "refused": 0
    }  # fmt: skip


JOBS = {
    "uptime_kuma": (
        KUMA / "heartbeat.csv",
        {"map": {"Domain": "Customer Portal", "Database": "ERP Hosting",
                 "LavaLink": "Managed Email", "MySQL": "ERP Hosting"}},
    ),
    "healthcheck": (
        DEVZERO,
        {"map": {"api": "Customer Portal", "homepage": "ERP Hosting",
                 "dashboard": "Managed Email"}},
    ),
    "statuspage": (
        MAINTENANCES,
        {"skip_invalid": True,
         "map": {name: "Customer Portal" for name in (
             "API Requests", "Codespaces", "GitHub Actions", "GitHub Packages", "Packages",
             "Visit www.githubstatus.com for more information")}},
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", JOBS)
@pytest.mark.django_db
def test_the_job_page_of_each_shared_export_lists_its_rules(
    client, media, acme_agreement, services, alice_manager, kind
):
    acme_agreement.services.add(services["erp"], services["email"])
    path, options = JOBS[kind]
    source = Source.objects.create(customer=acme_agreement.customer, name=kind, kind=kind)
    job = ImportJob.objects.create(
        source=source,
        format=kind,
        file=SimpleUploadedFile(path.name, path.read_bytes()),
        monitors_file=(
            SimpleUploadedFile("monitor.csv", (KUMA / "monitor.csv").read_bytes())
            if kind == "uptime_kuma"
            else ""
        ),
        options=options,
    )
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.problems or job.error
    rules, rows = EXPECTED[kind]
    assert job.summary["rows"] == rows
    assert {r["code"]: r["count"] for r in job.summary["rules"]} == rules

    client.force_login(alice_manager)
    page = client.get(reverse("monitoring:import-detail", args=[job.pk])).content.decode()
    assert f'data-rows="read">{rows["read"]}<' in page
    assert f'data-rows="refused">{rows["refused"]}<' in page
    for code, count in rules.items():
        assert f'data-rule="{code}"' in page and f"{count} rows" in page
    if not rules:
        assert "No row was reinterpreted, filled in, merged or left out by a rule." in page
