"""In Chromium: the provider admin creates a webhook source and sees its secret once; a refused
CSV import is corrected and retried without uploading the file again. Every page state visited
meets WCAG 2.2 AA (axe-core), and the import previews are reachable by keyboard."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import ImportJob, Source, Ticket
from monitoring.tasks import run_import_job
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot
from tests.test_import_mapping import JIRA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = DOCS_SCREENSHOTS
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def open_sources_from_the_navigation(page) -> None:
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("button", name="Monitoring").click()
    nav.get_by_role("link", name="Sources", exact=True).click()


def keep(page, name: str) -> None:
    path = screenshot(page, name)
    if SCREENSHOTS.is_dir():
        shutil.copy(path, SCREENSHOTS / f"{name}.png")


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_admin_creates_a_webhook_source_and_sees_its_secret_once(
    new_page, ada_admin, acme, acme_desk, acme_agreement
):
    # The desk last sent data three hours ago (stamped by the ingest; dated back here).
    tickets_ingest(acme_desk, [{"external_id": "T-1", "opened_at": "2026-03-02T09:00:00Z"}])
    Source.objects.filter(pk=acme_desk.pk).update(
        last_received_at=timezone.now() - timedelta(hours=3, minutes=5)
    )
    page = new_page(DESKTOP)
    login(page, "ada_admin", PASSWORD)
    open_sources_from_the_navigation(page)
    expect(page.locator(f'tr[data-source="{acme_desk.pk}"]')).to_contain_text("3 hours")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sources")
    expect(page.locator("#sources")).to_contain_text("Acme desk")
    assert_no_axe_violations(page, "sources list")

    page.get_by_role("link", name="New source").click()
    assert_no_axe_violations(page, "choose the kind of source")
    page.get_by_role("link", name="Choose webhook").click()
    page.get_by_label("Customer").select_option(label="Acme Logistics")
    page.get_by_label("Kind").select_option(label="Prometheus Alertmanager")
    page.get_by_label("Name").fill("acme DESK")  # taken, in another case: a clear error
    page.get_by_role("button", name="Create source").click()
    expect(page.locator("#id_name_error")).to_contain_text("already has a source named")
    assert_no_axe_violations(page, "new webhook source with errors")
    page.get_by_label("Name").fill("Acme Alertmanager")
    page.get_by_label("Description").fill("Prometheus of the Acme cluster")
    page.get_by_role("button", name="Create source").click()

    source = Source.objects.get(name="Acme Alertmanager")
    expect(page.get_by_role("heading", name="Signing secret: shown only now")).to_be_visible()
    expect(page.get_by_role("textbox", name="Signing secret")).to_have_value(source.signing_secret)
    expect(page.locator("pre")).to_contain_text(f'credentials: "{source.signing_secret}"')
    expect(page.get_by_label("Webhook URL")).to_have_value(
        f"{page.url.split('/sources/')[0]}/hooks/{source.pk}/alertmanager/"
    )
    assert_no_axe_violations(page, "new source with its secret shown once")
    keep(page, "source-created-secret-once")

    page.reload()
    expect(page.get_by_role("heading", name="Set up the sender")).to_be_visible()
    expect(page.locator("#secret-once")).to_have_count(0)
    assert source.signing_secret not in page.content()

    page.get_by_label("breadcrumb").get_by_role("link", name="Sources").click()
    expect(page.locator("#sources")).to_contain_text("Acme Alertmanager")
    keep(page, "sources-list")
    phone = new_page(PHONE)
    login(phone, "ada_admin", PASSWORD)
    phone.goto("/sources/")
    keep(phone, "sources-list-phone")


def test_a_refused_csv_import_is_corrected_and_retried_in_the_browser(
    new_page, media, alice_manager, acme_agreement, acme, monkeypatch
):
    jira = Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)
    # The job runs in the live server's thread as soon as it is committed (no worker here).
    monkeypatch.setattr(run_import_job, "delay", run_import_job)
    csv_path = media.parent / "jira.csv"
    csv_path.write_text(JIRA)

    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    page.goto("/imports/")
    page.get_by_role("link", name="Import tickets from any CSV").click()
    page.get_by_label("Source").select_option(label=str(jira))
    page.get_by_label("File").set_input_files(str(csv_path))
    page.get_by_role("button", name="Upload").click()

    # A wrong mapping: Priority read from the Summary column; Lisbon time.
    page.get_by_label("Priority").select_option("Summary")
    page.get_by_label("Time zone").fill("Europe/Lisbon")
    page.get_by_role("button", name="Preview").click()
    region = page.get_by_role("region", name="Preview of the mapped rows (scrollable)")
    expect(region).to_be_visible()
    region.focus()
    expect(region).to_be_focused()  # the scroll container is a keyboard stop
    assert_no_axe_violations(page, "mapping preview")
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.locator("[data-status]")).to_have_attribute("data-status", "refused")
    first = ImportJob.objects.get()
    expect(page.locator("#import-problems")).to_contain_text("priority")
    assert Ticket.objects.count() == 0
    assert_no_axe_violations(page, "refused import")
    expect(page.get_by_role("link", name="Correct and retry")).to_be_visible()
    keep(page, "import-refused-correct-and-retry")

    page.get_by_role("link", name="Correct and retry").click()
    expect(page.locator("#retry-note")).to_contain_text(f"import #{first.pk}")
    expect(page.get_by_label("Priority")).to_have_value("Summary")
    page.get_by_label("Priority").select_option("Priority")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator('[data-count="problem-rows"]')).to_have_text("0")
    assert_no_axe_violations(page, "retry: corrected mapping")
    keep(page, "import-retry-mapping")
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.locator("[data-status]")).to_have_attribute("data-status", "succeeded")
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert second.retry_of_id == first.pk
    expect(page.locator("#retry-of")).to_contain_text(f"Import #{first.pk}")
    expect(page.locator('[data-count="created"]')).to_have_text("3")
    assert Ticket.objects.filter(source=jira).count() == 3
    assert_no_axe_violations(page, "retried import succeeded")
    keep(page, "import-retry-succeeded")

    page.get_by_role("link", name=f"Import #{first.pk}").click()
    expect(page.locator("#retries")).to_contain_text(f"Import #{second.pk}")
    expect(page.locator("#import-problems")).to_contain_text("priority")  # what it said stays


def test_manager_creates_edits_and_disables_a_probe_source(
    new_page, alice_manager, acme, acme_agreement, services, carol_customer
):
    page = new_page(DESKTOP)
    login(page, "alice_manager", PASSWORD)
    page.goto("/sources/new/")
    page.get_by_role("link", name="Choose built-in http probe").click()
    page.get_by_label("Customer").select_option(label="Acme Logistics")
    page.get_by_label("Name").fill("Portal health")
    page.get_by_label("Service").select_option(label="Customer Portal")
    page.get_by_label("URL").fill("portal.acme.example/health")  # no scheme: https
    page.get_by_label("Interval (seconds)").fill("5")
    page.get_by_label("Expected status").fill("200-299,999")
    page.get_by_role("button", name="Create source").click()
    expect(page.locator("#id_probe_interval_seconds_error")).to_contain_text("10")
    expect(page.locator("#id_expected_status_error")).to_contain_text("100 to 599")
    assert_no_axe_violations(page, "new probe with errors")
    page.get_by_label("Interval (seconds)").fill("30")
    page.get_by_label("Expected status").fill("200-299")
    page.get_by_role("button", name="Create source").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Portal health")
    expect(page.locator("main")).to_contain_text("https://portal.acme.example/health")
    expect(page.locator("main")).to_contain_text("every 30 s")
    assert_no_axe_violations(page, "probe source")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Interval (seconds)").fill("60")
    assert_no_axe_violations(page, "edit probe source")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("every 60 s")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable again")).to_be_visible()
    assert_no_axe_violations(page, "disabled probe source")
    assert not Source.objects.get(name="Portal health").enabled

    # The customer sees the source read-only: no edit, no disable, no secret.
    customer = new_page(DESKTOP)
    login(customer, "carol_customer", PASSWORD)
    open_sources_from_the_navigation(customer)
    customer.get_by_role("link", name="Portal health").click()
    expect(customer.get_by_role("link", name="Edit")).to_have_count(0)
    expect(customer.get_by_role("button", name="Enable again")).to_have_count(0)
    assert_no_axe_violations(customer, "customer's read-only source")
