"""An agreement put in force mid-month, the month closed: the service manager reviews the
draft report, records the root cause of its breach, and issues it; the customer gets one
email with the PDF and CSV attached, and no report exists for the months before monitoring."""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from reporting.models import Report
from reporting.services.rendering import report_csv_bytes
from reporting.services.reports import issue_due_reports
from sla_portal.core.notifications import deliver_due
from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import DOCS_SCREENSHOTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = DOCS_SCREENSHOTS
# In force since 16 November 2026 (effective since 1 January); November closes at midnight UTC.
ACTIVATED = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
CLOSED = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
NOVEMBER = date(2026, 11, 1)
ROOT_CAUSE = "Certificate expired on the load balancer; renewal job was disabled."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def keep(path: Path, name: str) -> None:
    if SCREENSHOTS.is_dir():
        shutil.copy(path, SCREENSHOTS / f"{name}.png")


def test_manager_reviews_and_issues_the_first_report_and_the_customer_gets_one_email(
    new_page, smtp_server, active_acme_agreement, acme_desk, services, carol_customer
):
    # Put in force mid-month (the lifecycle stamps the wall clock; the test names the day).
    type(active_acme_agreement).objects.filter(pk=active_acme_agreement.pk).update(
        activated_at=ACTIVATED
    )
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": utc(2026, 11, 16, 10).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 11, 20, 8).isoformat(), "status": "down"},
            {"checked_at": utc(2026, 11, 20, 20).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 11, 30, 23, 59).isoformat(), "status": "up"},
        ],
    )
    evaluate_periods(CLOSED)  # closes November (and every month since January)
    issue_due_reports(CLOSED)
    # One report, November, as a draft: none for January to October.
    assert list(Report.objects.values_list("month", "status")) == [(NOVEMBER, "draft")]
    report = Report.objects.get()
    deliver_due()  # what the lifecycle sent so far (activation) goes out now
    assert not [m for m in smtp_server.messages if "service report" in str(m["Subject"])]

    # The customer does not see the draft.
    customer = new_page()
    login(customer, "carol_customer", PASSWORD)
    customer.goto("/reports/")
    expect(customer.get_by_text("No reports yet")).to_be_visible()
    assert_no_axe_violations(customer, "customer's report list while the report is a draft")
    assert customer.goto(report.url).status == 404

    # The manager reviews the draft.
    manager = new_page({"width": 1440, "height": 900})
    login(manager, "alice_manager", PASSWORD)
    manager.goto("/reports/")
    row = manager.get_by_role("row").filter(has_text="November 2026")
    expect(row).to_contain_text("Draft")
    assert_no_axe_violations(manager, "provider's report list with a draft")
    row.get_by_role("link", name="November 2026").click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text("November 2026")
    expect(manager.locator("#report-period")).to_have_text("1 – 30 Nov 2026 (UTC)")
    expect(manager.get_by_role("heading", name="Draft for the provider's review")).to_be_visible()
    expect(manager.get_by_text("not recorded yet")).to_be_visible()
    expect(manager.locator("#credit-due")).to_contain_text(" EUR")
    assert_no_axe_violations(manager, "draft report")
    keep(screenshot(manager, "report-review-draft"), "report-review-draft")
    # At phone width the review notice and its button fit without sideways scrolling.
    phone = new_page({"width": 390, "height": 844})
    login(phone, "alice_manager", PASSWORD)
    phone.goto(report.url)
    expect(phone.get_by_role("button", name="Issue report")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert_no_axe_violations(phone, "draft report on a phone")
    keep(screenshot(phone, "report-review-draft-phone"), "report-review-draft-phone")

    # ... records the root cause of the breach on its page ...
    manager.get_by_role("link", name="Record the root cause").first.click()
    manager.get_by_role("textbox", name="Root cause").fill(ROOT_CAUSE)
    manager.get_by_role("button", name="Save note").click()
    expect(manager.get_by_role("blockquote")).to_have_text(ROOT_CAUSE)
    assert_no_axe_violations(manager, "breach page with the root cause recorded")

    # ... and back on the draft, which follows it, issues the report.
    manager.goto(report.url)
    expect(manager.get_by_text(ROOT_CAUSE)).to_be_visible()
    manager.get_by_role("button", name="Issue report").click()
    expect(manager.get_by_text("Report issued and sent to the customer.")).to_be_visible()
    expect(manager.get_by_role("heading", name="Draft for the provider's review")).to_have_count(0)
    expect(manager.locator("#report-meta")).to_contain_text("issued")
    expect(manager.locator("#report-meta")).to_contain_text("by Alice")
    assert_no_axe_violations(manager, "issued report")
    keep(screenshot(manager, "report-review-issued"), "report-review-issued")
    report.refresh_from_db()
    assert report.status == "issued" and report.issued_by.username == "alice_manager"

    # The customer gets exactly one report email, with the PDF and CSV attached (and linked).
    deliver_due()
    reports_mail = [
        m for m in smtp_server.to(carol_customer.email) if "service report" in str(m["Subject"])
    ]
    assert len(reports_mail) == 1
    body = reports_mail[0].get_body(preferencelist=("plain",)).get_content()
    assert f"/reports/{report.pk}/pdf/" in body and f"/reports/{report.pk}/csv/" in body
    assert "November 2026" in str(reports_mail[0]["Subject"])
    attached = {
        part.get_content_type(): part.get_payload(decode=True)
        for part in reports_mail[0].iter_attachments()
    }
    assert sorted(attached) == ["application/pdf", "text/csv"]
    assert attached["application/pdf"].startswith(b"%PDF")
    assert attached["text/csv"] == report_csv_bytes(report)

    # ... and now sees the issued report, with the root cause.
    customer.goto("/reports/")
    customer.get_by_role("link", name="November 2026").click()
    expect(customer.get_by_text(ROOT_CAUSE)).to_be_visible()
    expect(customer.get_by_role("button", name="Issue report")).to_have_count(0)
    assert_no_axe_violations(customer, "customer's issued report")
    assert Report.objects.filter(month__lt=NOVEMBER).count() == 0
