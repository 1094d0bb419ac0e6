"""Monthly reports: issued at period close, with service credits, immutable, corrected by
new revisions, emailed to the customer's contacts, scoped to their organisation."""

import csv
import io
import subprocess
import tempfile
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from agreements.models import Review
from monitoring.evaluation.actions import breach_root_cause_set
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Breach
from reporting.models import Report
from reporting.services.reports import ReportError, issue_due_reports, report_correct, report_draft
from reporting.services.schedule import due_months
from reporting.views.agreements import _period_reports
from sla_portal.core.models import Notification

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
# October 2026 has 31 days of 24x7 service time in UTC: 44,640 minutes. Ten hours down.
DOWN_MINUTES = 600
AVAILABILITY = (44640 - DOWN_MINUTES) / 44640 * 100  # 98.6559… %
# Gold: below 99.9 → 5 %, below 99.5 → 10 %, below 99 → 20 %, below 98 → 30 %; cap 30 %.
# 98.656 % lies below 99.9, 99.5 and 99 but not below 98: the highest of those is 20 %,
# so the credit is 20 % of the 12,000 EUR monthly fee.
CREDIT_PERCENT = Decimal("20")
CREDIT_AMOUNT = Decimal("2400.00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def october_outage(acme_desk, services, hours_down: int = 10) -> None:
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": utc(2026, 10, 1).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 10, 10, 8).isoformat(), "status": "down"},
            {"checked_at": utc(2026, 10, 10, 8 + hours_down).isoformat(), "status": "up"},
            {"checked_at": utc(2026, 10, 31, 23, 59).isoformat(), "status": "up"},
        ],
    )


@pytest.fixture(autouse=True)
def issue_without_review(settings):
    """These tests are about issuing: no review window, a closed month is issued at once
    (tests/test_report_review.py covers the draft and its review)."""
    settings.REPORT_REVIEW_DAYS = 0


def monitored_since(agreement, moment: datetime) -> None:
    """Put the agreement in force at ``moment`` (the lifecycle stamps the wall clock)."""
    type(agreement).objects.filter(pk=agreement.pk).update(activated_at=moment)
    agreement.refresh_from_db()


@pytest.fixture
def october(active_acme_agreement, acme_desk, services):
    """Monitored since 1 January 2026, periods evaluated up to 3 November 2026 and the due
    reports issued."""
    monitored_since(active_acme_agreement, utc(2026, 1, 1))
    october_outage(acme_desk, services)
    evaluate_periods(NOW)
    issue_due_reports(NOW)
    return Report.objects.get(agreement=active_acme_agreement, month=OCTOBER)


def test_period_close_issues_a_report_per_month_with_the_credit(october, active_acme_agreement):
    reports = Report.objects.filter(agreement=active_acme_agreement)
    # January (the effective month) to October; November is still open.
    assert sorted(r.month for r in reports) == [date(2026, m, 1) for m in range(1, 11)]
    availability = next(
        line for line in october.content["lines"] if line["metric"] == "availability"
    )
    assert availability["value"] == pytest.approx(AVAILABILITY)
    assert availability["status"] == "breached"  # threshold 99.5 %
    assert (availability["goal_target"], availability["goal_threshold"]) == (99.9, 99.5)
    assert (october.credit_percent, october.credit_amount, october.currency) == (
        CREDIT_PERCENT,
        CREDIT_AMOUNT,
        "EUR",
    )
    credits = october.content["credits"]
    assert credits["cap_percent"] == "30" and credits["monthly_fee"] == "12000.00"
    charges = october.version.snapshot["sections"]["charges"]["fields"]
    assert credits["exclusions"] == charges["credit_exclusions"]
    assert (october.revision, october.issued_by, october.supersedes) == (1, None, None)
    assert len(october.content_hash) == 64
    # The comparison holds the nine earlier months, whose availability had no data.
    assert [p["month"] for p in availability["comparison"]] == [
        f"2026-{m:02d}-01" for m in range(1, 10)
    ]
    september = Report.objects.get(agreement=active_acme_agreement, month=date(2026, 9, 1))
    assert september.credit_amount == Decimal("0")
    no_data = next(c for c in september.content["credits"]["lines"])
    assert "No data" in no_data["note"]


def test_issuing_again_issues_nothing(october, active_acme_agreement):
    assert issue_due_reports(NOW) == 0
    assert report_draft(active_acme_agreement, OCTOBER, NOW) is None
    assert due_months(active_acme_agreement, NOW) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            **{
                f.attname: getattr(october, f.attname)
                for f in Report._meta.concrete_fields
                if f.name != "id"
            }
        )


def test_a_month_is_not_reported_before_its_periods_close(
    active_acme_agreement, acme_desk, services
):
    monitored_since(active_acme_agreement, utc(2026, 1, 1))
    october_outage(acme_desk, services)
    before_close = utc(2026, 10, 31, 23, 0)
    evaluate_periods(before_close)
    issue_due_reports(before_close)
    months = set(Report.objects.values_list("month", flat=True))
    assert OCTOBER not in months and date(2026, 9, 1) in months
    # Reports never cover months before the agreement took effect (1 January 2026).
    assert min(months) == date(2026, 1, 1)


def test_an_issued_report_never_changes(october):
    with pytest.raises(DatabaseError), transaction.atomic():
        Report.objects.filter(pk=october.pk).update(credit_amount=Decimal("0"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Report.objects.filter(pk=october.pk).delete()
    with pytest.raises(ValueError, match="never changes"):
        october.save()
    october.refresh_from_db()
    assert october.credit_amount == CREDIT_AMOUNT


def test_only_recent_months_are_emailed_to_the_customer_contacts(
    october, carol_customer, alice_manager, victor_viewer
):
    rows = Notification.objects.filter(kind="report.issued")
    assert set(rows.values_list("key", flat=True)) == {f"report:{october.pk}"}
    # Carol is the customer's signatory and approver (one email), Alice the service manager;
    # Victor only views.
    assert set(rows.values_list("recipient", flat=True)) == {
        carol_customer.email.lower(),
        alice_manager.email.lower(),
    }
    email = rows.get(recipient=carol_customer.email.lower())
    assert "October 2026" in email.subject and "2,400.00 EUR" in email.subject
    assert "2,400.00 EUR (20 % of the monthly fee)" in email.body_text
    assert f"/reports/{october.pk}/pdf/" in email.body_text
    assert "2,400.00 EUR" in email.body_html
    september = Report.objects.get(month=date(2026, 9, 1))
    assert not september.emailed and "not emailed" in september.quiet_reason


def test_a_correction_is_a_new_revision_that_says_what_changed(
    october, alice_manager, carol_customer
):
    breach = Breach.objects.get(period_result__target_key__startswith="availability")
    assert [b["root_cause"] for b in october.content["breaches"] if b["id"] == breach.pk] == [""]
    with pytest.raises(ReportError, match="Nothing changed"):
        report_correct(october, alice_manager, "Check", NOW)
    with pytest.raises(ReportError, match="service managers"):
        report_correct(october, carol_customer, "Please", NOW)

    breach_root_cause_set(breach, alice_manager, "Storage controller failure in rack 4.")
    correction = report_correct(october, alice_manager, "Root cause of the outage added.", NOW)

    assert (correction.revision, correction.supersedes_id) == (2, october.pk)
    assert correction.issued_by == alice_manager
    assert correction.change_note == "Root cause of the outage added."
    assert any(
        "Root cause of" in change and "Storage controller failure" in change
        for change in correction.changes
    )
    assert correction.credit_amount == CREDIT_AMOUNT
    october.refresh_from_db()
    assert october.is_superseded and not correction.is_superseded
    assert october.content["breaches"][0]["root_cause"] == ""  # the old revision as issued
    with pytest.raises(ReportError, match="supersedes"):
        report_correct(october, alice_manager, "Again", NOW)
    assert Notification.objects.filter(key=f"report:{correction.pk}").exists()


def _csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))


def test_customer_sees_the_report_page_pdf_and_csv(client, october, carol_customer):
    client.force_login(carol_customer)
    listing = client.get("/reports/")
    assert listing.status_code == 200 and october.url.encode() in listing.content

    page = client.get(october.url)
    assert page.status_code == 200
    html = page.content.decode()
    # Money is written one way on the page (the issue: "12000.00 EUR" beside "12,000.00").
    assert "2,400.00 EUR" in html and "12,000.00 EUR" in html
    assert "2400.00" not in html and "12000.00" not in html
    assert "Threshold breached" in html  # the status in words, not colour alone
    assert "98.66 %" in html
    assert "Issue a correction" not in html  # only service managers correct

    rows = _csv_rows(client.get(f"/reports/{october.pk}/csv/"))
    due = next(r for r in rows if r["section"] == "credit_due")
    assert (due["credit_percent"], due["credit_amount"], due["currency"]) == (
        "20",
        "2400.00",
        "EUR",
    )
    availability = next(r for r in rows if r["section"] == "target" and "vailab" in r["item"])
    assert float(availability["value"]) == pytest.approx(AVAILABILITY)
    assert availability["status"] == "breached"

    pdf = client.get(f"/reports/{october.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert "-2026-10.pdf" in pdf["Content-Disposition"]
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf.content)
        file.flush()
        text = subprocess.run(
            ["pdftotext", "-layout", file.name, "-"], capture_output=True, text=True, check=True
        ).stdout
    assert "Service credit due: 2,400.00 EUR" in text
    assert "98.66 %" in text


def test_other_organisations_get_404(client, october, other_org_viewer):
    client.force_login(other_org_viewer)
    assert october.url.encode() not in client.get("/reports/").content
    for suffix in ("", "pdf/", "csv/"):
        assert client.get(f"{october.url}{suffix}").status_code == 404


def test_only_service_managers_issue_corrections_through_the_page(
    client, october, carol_customer, alice_manager
):
    client.force_login(carol_customer)
    assert client.post(f"{october.url}correct/", {"note": "x"}).status_code == 403
    client.force_login(alice_manager)
    page = client.get(october.url)
    assert "Issue a correction" in page.content.decode()
    refused = client.post(f"{october.url}correct/", {"note": "Nothing new"}, follow=True)
    assert "Nothing changed" in refused.content.decode()
    assert Report.objects.filter(month=OCTOBER).count() == 1


def test_report_list_queries_do_not_grow_with_reports(
    client, october, carol_customer, django_assert_max_num_queries
):
    client.force_login(carol_customer)
    with django_assert_max_num_queries(8):
        assert client.get("/reports/").status_code == 200


def test_the_review_page_lists_the_reports_of_its_period_with_trends(
    client, october, active_acme_agreement, carol_customer
):
    review = Review.objects.create(
        agreement=active_acme_agreement,
        due_date=date(2026, 11, 15),
        period_start=date(2026, 8, 1),
        period_end=date(2026, 10, 31),
    )
    reports = _period_reports(review)
    assert [r.month for r in reports] == [date(2026, m, 1) for m in (8, 9, 10)]
    assert reports.credit_total == {"EUR": CREDIT_AMOUNT}
    availability = next(row for row in reports.targets if "vailab" in row["label"])
    assert [c["status"] for c in availability["cells"]] == ["no_data", "no_data", "breached"]
    client.force_login(carol_customer)
    page = client.get(f"/agreements/{active_acme_agreement.pk}/reviews/{review.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "October 2026" in html and "2400.00 EUR" in html


@pytest.mark.django_db(transaction=True)
def test_two_workers_issue_one_report(active_acme_agreement, acme_desk, services):
    monitored_since(active_acme_agreement, utc(2026, 1, 1))
    october_outage(acme_desk, services)
    evaluate_periods(NOW)
    barrier = threading.Barrier(2)
    issued = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            issued.append(report_draft(active_acme_agreement, OCTOBER, NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(issued) == 2
    assert len([r for r in issued if r is not None]) == 1
    assert Report.objects.filter(agreement=active_acme_agreement, month=OCTOBER).count() == 1


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"])
def test_a_period_is_reported_in_the_month_it_ends_whatever_its_zone(zone):
    from monitoring.compliance.periods import period_bounds
    from reporting.services.schedule import month_bounds, result_month

    for instant, month in [
        (utc(2026, 10, 15), OCTOBER),
        (utc(2026, 3, 29, 12), date(2026, 3, 1)),  # the month daylight saving starts in Europe
        (utc(2026, 12, 15), date(2026, 12, 1)),
    ]:
        start, end = period_bounds("month", instant, zone)
        assert result_month(end) == month
        assert month_bounds(month, zone) == (start, end)
    # A quarter is reported in its last month, a year in December.
    assert result_month(period_bounds("quarter", utc(2026, 8, 1), zone)[1]) == date(2026, 9, 1)
    assert result_month(period_bounds("year", utc(2026, 5, 1), zone)[1]) == date(2026, 12, 1)


def test_the_comparison_table_is_a_keyboard_reachable_named_region(client, october, carol_customer):
    """The issue: scrollable tables could not be reached by keyboard."""
    client.force_login(carol_customer)
    html = client.get(october.url).content.decode()
    start = html.index('id="comparison-table"')
    tag = html[html.rindex("<div", 0, start) : html.index(">", start)]
    assert 'tabindex="0"' in tag and 'role="region"' in tag
    assert 'aria-label="Compared with earlier periods' in tag
