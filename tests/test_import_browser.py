"""Issue 14, imports in the browser: a PNG and a wrong-columns CSV are refused with a clear
message on the upload page, and a real export's job page lists the rows and every rule."""

from __future__ import annotations

import shutil

import pytest
from django.urls import reverse

from monitoring.models import ImportJob, Source
from monitoring.tasks import run_import_job
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot
from tests.support.data import SHARED_DATA

UPPTIME = SHARED_DATA / "uptime" / "upptime-cloudesire-status-changes.csv"
SCREENSHOTS = DOCS_SCREENSHOTS
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
SERVICE_MAP = (
    "https://marketplace.cloudeng.it=Customer Portal\n"
    "https://backend-staging-eng.cloudesire.com=ERP Hosting\n"
    "https://vc2.cloudeng.it=Managed Email"
)


def keep(page, name: str) -> None:
    path = screenshot(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / f"{name}.png")


def fill_upload(page, source: Source, name: str, content: bytes) -> None:
    page.goto(reverse("monitoring:import-new"))
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("Format").select_option("upptime")
    page.locator("#id_file").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    page.get_by_label("Service map").fill(SERVICE_MAP)
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_bad_files_are_refused_clearly_and_a_real_export_shows_its_rules(
    new_page, settings, tmp_path, alice_manager, acme_agreement, services
):
    settings.MEDIA_ROOT = tmp_path / "media"
    acme_agreement.services.add(services["erp"], services["email"])
    source = Source.objects.create(
        customer=acme_agreement.customer, name="ClouDesire status", kind=Source.Kind.UPPTIME
    )
    page = new_page({"width": 1440, "height": 900})
    login(page, alice_manager.username, PASSWORD)

    fill_upload(page, source, "status.png", PNG)
    assert page.locator("#upload-refused").is_visible()
    error = page.get_by_text("This is a PNG image, not a CSV text file.")
    assert error.is_visible()
    assert ImportJob.objects.count() == 0
    assert_no_axe_violations(page, "upload refused: PNG")
    keep(page, "import-upload-refused-png")

    fill_upload(page, source, "status.csv", b"name,when,value\nx,2026-01-01,1\n")
    assert page.get_by_text("Wrong columns: missing commit_time, site, emoji_status").is_visible()
    assert ImportJob.objects.count() == 0
    assert_no_axe_violations(page, "upload refused: wrong columns")
    keep(page, "import-upload-refused-wrong-columns")

    fill_upload(page, source, "upptime.csv", UPPTIME.read_bytes())
    page.wait_for_url("**/imports/*/")
    job = ImportJob.objects.get()
    run_import_job(job.pk)  # what the worker does; the page polls the row
    page.locator("#import-status .progress-bar").filter(has_text="Succeeded").wait_for()
    summary = page.locator("#import-summary")
    assert summary.locator('[data-rows="read"]').inner_text() == "2287"
    assert summary.locator('[data-rows="used"]').inner_text() == "2287"
    rule = summary.locator('[data-rule="UP-R2"]')
    assert "274 rows" in rule.inner_text() and "not kept as a response time" in rule.inner_text()
    assert_no_axe_violations(page, "job page with the rules applied")
    keep(page, "import-job-summary-rules")

    phone = new_page({"width": 390, "height": 844})
    login(phone, alice_manager.username, PASSWORD)
    phone.goto(reverse("monitoring:import-detail", args=[job.pk]))
    assert phone.locator('[data-rule="UP-R2"]').is_visible()
    assert_no_axe_violations(phone, "job page at phone width")
    keep(phone, "import-job-summary-rules-phone")


UCI = SHARED_DATA / "uci-incident-log" / "incident_event_log.csv.zip"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_servicenow_job_page_lists_every_rule_and_the_refused_rows(
    new_page, settings, tmp_path, alice_manager, acme_agreement
):
    settings.MEDIA_ROOT = tmp_path / "media"
    source = Source.objects.create(
        customer=acme_agreement.customer, name="ServiceNow", kind=Source.Kind.SERVICENOW
    )
    page = new_page({"width": 1440, "height": 900})
    login(page, alice_manager.username, PASSWORD)
    page.goto(reverse("monitoring:import-new"))
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("Format").select_option("servicenow")
    page.locator("#id_file").set_input_files(str(UCI))
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Skip unreadable rows").check()
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url("**/imports/*/")
    run_import_job(ImportJob.objects.get().pk)

    page.locator("#import-status .progress-bar").filter(has_text="Succeeded").wait_for()
    summary = page.locator("#import-summary")
    rows = {
        name: summary.locator(f'[data-rows="{name}"]').inner_text()
        for name in ("read", "used", "merged", "skipped", "refused")
    }
    assert rows == {
        "read": "141712", "used": "88948", "merged": "52754", "skipped": "0", "refused": "10"
    }  # fmt: skip
    codes = summary.locator("[data-rule]").evaluate_all("rows => rows.map(r => r.dataset.rule)")
    assert codes == ["SN-R2", "SN-R5", "SN-R9", "SN-R1"]
    assert "1556 tickets" in summary.locator('[data-rule="SN-R2"]').inner_text()
    assert_no_axe_violations(page, "ServiceNow job page with its rules")
    page.locator("#import-summary").scroll_into_view_if_needed()
    keep(page, "import-job-summary-servicenow")
