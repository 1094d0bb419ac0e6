"""A period close issues a report; the customer opens it in the browser and downloads its
PDF and CSV, both showing the service credit computed from the Gold schedule."""

import csv
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from monitoring.evaluation.actions import breach_root_cause_set
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Breach
from reporting.models import Report
from reporting.services.reports import issue_due_reports
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = DOCS_SCREENSHOTS
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
# October 2026, 24x7 in UTC: 44,640 minutes of service time, 10 h (600 min) down.
# Availability (44,640 - 600) / 44,640 = 98.656 %: below the Gold bands 99.9 (5 %), 99.5
# (10 %) and 99 (20 %), not below 98 (30 %). The highest matching band gives 20 %, within
# the 30 % cap: 20 % of the 12,000 EUR monthly fee = 2,400.00 EUR.
CREDIT = "2,400.00 EUR"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_customer_downloads_the_report_pdf_and_csv_with_the_credit(
    new_page, tmp_path, settings, active_acme_agreement, acme_desk, services, alice_manager
):
    # In force since January (the lifecycle stamps the wall clock); no review window: this
    # test is about the issued report (tests/test_browser_report_review.py reviews a draft).
    type(active_acme_agreement).objects.filter(pk=active_acme_agreement.pk).update(
        activated_at=utc(2026, 1, 1)
    )
    settings.REPORT_REVIEW_DAYS = 0
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": utc(2026, 10, 1).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 10, 10, 8).isoformat(), "status": "down"},
            {"checked_at": utc(2026, 10, 10, 18).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 10, 31, 23, 59).isoformat(), "status": "up"},
        ],
    )
    evaluate_periods(NOW)  # closes October
    breach = Breach.objects.get(period_result__metric="availability")
    breach_root_cause_set(
        breach, alice_manager, "Storage controller failure; failover did not trigger."
    )
    issue_due_reports(NOW)
    report = Report.objects.get(agreement=active_acme_agreement, month=date(2026, 10, 1))

    page = new_page()
    login(page, "carol_customer", PASSWORD)
    page.goto("/reports/")
    page.get_by_role("link", name="October 2026").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("October 2026")
    expect(page.locator("#credit-due")).to_have_text(CREDIT)
    expect(
        page.get_by_text("Storage controller failure; failover did not trigger.")
    ).to_be_visible()
    expect(page.locator("#credit-table")).to_contain_text("20 %")
    path = screenshot(page, "report-page")
    if SCREENSHOTS.is_dir():
        shutil.copy(path, SCREENSHOTS / "report-page.png")

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = tmp_path / pdf_download.value.suggested_filename
    pdf_download.value.save_as(pdf)
    assert pdf.name == f"{active_acme_agreement.reference}-2026-10.pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Service credit due: {CREDIT}" in text
    assert "below 99 %" in text and "20 %" in text
    assert "98.66 %" in text

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    csv_text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(csv_text.splitlines()))
    due = next(row for row in rows if row["section"] == "credit_due")
    assert (due["credit_percent"], due["credit_amount"], due["currency"]) == (
        "20",
        "2400.00",
        "EUR",
    )
    credit = next(row for row in rows if row["section"] == "credit")
    assert (credit["item"], credit["target"], credit["credit_percent"]) == (
        "Availability",
        "99",
        "20",
    )
    assert report.credit_amount == 2400

    # At phone width the page reads without sideways scrolling of the page itself (wide
    # tables scroll in their own box).
    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, "carol_customer", PASSWORD)
    phone.goto(report.url)
    expect(phone.locator("#credit-due")).to_have_text(CREDIT)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "report-page-phone")

    # The first PDF page as a picture, for the docs.
    prefix = tmp_path / "report-pdf"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "90",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(prefix),
        ],
        check=True,
    )
    if SCREENSHOTS.is_dir():
        shutil.copy(f"{prefix}.png", SCREENSHOTS / "report-pdf.png")
    # The comparison table scrolls sideways in its own box: keyboard users reach it with Tab
    # (a named region), see where they are, and scroll it with the arrow keys.
    region = phone.get_by_role("region", name="Compared with earlier periods (scrolls sideways)")
    phone.get_by_role("heading", name="Compared with earlier periods").scroll_into_view_if_needed()
    phone.locator("#comparison-heading").evaluate("h => { h.tabIndex = -1; h.focus(); }")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.id") == "comparison-table"
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    outline = region.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    phone.keyboard.press("ArrowRight")
    # A function: an expression would be evaluated with eval(), which the CSP refuses.
    phone.wait_for_function("() => document.getElementById('comparison-table').scrollLeft > 0")
    assert_no_axe_violations(phone, "report page on a phone, comparison table focused")
