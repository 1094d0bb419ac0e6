"""Reports from the month monitoring started, reviewed by the provider as drafts before they
are issued (by a manager, or automatically after REPORT_REVIEW_DAYS), their period written
from local dates, money written one way, the reports API, and the
report email carrying the PDF and the CSV."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage

import pytest
from django.db.models import F

from monitoring.evaluation.actions import breach_root_cause_set
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Breach
from reporting import formatting
from reporting.models import Report
from reporting.services.reports import ReportError, issue_due_reports, report_correct, report_issue
from reporting.services.schedule import first_report_month
from sla_portal.core.models import EmailAttachment, Notification
from sla_portal.core.notifications import deliver_due
from sla_portal.core.tokens import create_token_for_tests

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)
# Put in force on 16 November 2026 (its effective date is 1 January 2026); November closes
# at midnight UTC (the Gold calendar is 24x7 in UTC) and is evaluated on 1 December.
ACTIVATED = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
CLOSED = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
ROOT_CAUSE = "Certificate expired on the load balancer; renewal job was disabled."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def put_in_force_at(agreement, moment: datetime) -> None:
    # The lifecycle stamps the wall clock; the tests name the moment.
    type(agreement).objects.filter(pk=agreement.pk).update(activated_at=moment)
    agreement.refresh_from_db()


@pytest.fixture
def november(active_acme_agreement, acme_desk, services):
    """In force since 16 November with a twelve-hour outage on the 20th; November closed."""
    put_in_force_at(active_acme_agreement, ACTIVATED)
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
    evaluate_periods(CLOSED)
    issue_due_reports(CLOSED)
    return Report.objects.get(agreement=active_acme_agreement, month=NOVEMBER)


# --- From the start of monitoring ------------------------------------------------------------


def test_putting_an_agreement_in_force_reports_no_month_before_monitoring_began(
    november, active_acme_agreement
):
    # Effective since January, put in force in November: one report, November; none of the
    # ten "no data" months before anyone measured, and no email at all yet (a draft).
    assert active_acme_agreement.effective_from == date(2026, 1, 1)
    assert first_report_month(active_acme_agreement) == NOVEMBER
    assert list(Report.objects.values_list("month", flat=True)) == [NOVEMBER]
    assert not Notification.objects.filter(kind="report.issued").exists()
    # Nor does it compare with the months before monitoring began.
    assert all(line["comparison"] == [] for line in november.content["lines"])
    # Running again later drafts nothing more for the past.
    assert issue_due_reports(CLOSED + timedelta(hours=1)) == 0
    assert Report.objects.count() == 1


def test_an_agreement_effective_after_it_was_signed_reports_from_its_effective_month(
    active_acme_agreement,
):
    put_in_force_at(active_acme_agreement, utc(2025, 12, 10))
    assert first_report_month(active_acme_agreement) == date(2026, 1, 1)


# --- The draft and its review ----------------------------------------------------------------


def test_a_closed_month_is_a_draft_only_provider_staff_see(
    client, november, carol_customer, victor_viewer, tom_team, alice_manager
):
    assert november.status == Report.Status.DRAFT
    assert (november.issued_at, november.issued_by) == (None, None)
    assert november.drafted_at == CLOSED
    for customer in (carol_customer, victor_viewer):
        client.force_login(customer)
        assert client.get(november.url).status_code == 404
        assert client.get(f"/reports/{november.pk}/pdf/").status_code == 404
        assert client.get(f"/reports/{november.pk}/csv/").status_code == 404
        assert november.url.encode() not in client.get("/reports/").content
        assert client.get(f"/api/reports/{november.pk}/").status_code == 404
        assert client.get("/api/reports/").json()["count"] == 0
    client.force_login(tom_team)
    page = client.get(november.url)
    assert page.status_code == 200
    assert b"Draft for the provider's review" in page.content
    assert b"Issue report" not in page.content  # team members review, managers issue
    client.force_login(alice_manager)
    page = client.get(november.url)
    assert b"Issue report" in page.content and b"Record the root cause" in page.content


def test_the_draft_follows_root_causes_recorded_during_the_review(client, november, alice_manager):
    breach = Breach.objects.get(period_result__metric="availability")
    assert [b["root_cause"] for b in november.content["breaches"]] == [""]
    breach_root_cause_set(breach, alice_manager, ROOT_CAUSE)
    client.force_login(alice_manager)
    assert ROOT_CAUSE.encode() in client.get(november.url).content
    november.refresh_from_db()
    assert november.status == Report.Status.DRAFT
    assert [b["root_cause"] for b in november.content["breaches"]] == [ROOT_CAUSE]


def test_a_manager_issues_the_draft_and_the_customer_gets_one_email(
    client, november, alice_manager, carol_customer, tom_team
):
    breach = Breach.objects.get(period_result__metric="availability")
    breach_root_cause_set(breach, alice_manager, ROOT_CAUSE)
    client.force_login(tom_team)
    assert client.post(f"/reports/{november.pk}/issue/").status_code == 403
    client.force_login(carol_customer)
    assert client.post(f"/reports/{november.pk}/issue/").status_code == 403

    client.force_login(alice_manager)
    response = client.post(f"/reports/{november.pk}/issue/", follow=True)
    assert response.status_code == 200
    assert b"Report issued and sent to the customer." in response.content
    november.refresh_from_db()
    assert november.status == Report.Status.ISSUED
    assert november.issued_by == alice_manager and november.issued_at is not None
    assert [b["root_cause"] for b in november.content["breaches"]] == [ROOT_CAUSE]
    emails = Notification.objects.filter(kind="report.issued", recipient=carol_customer.email)
    assert emails.count() == 1
    assert f"/reports/{november.pk}/pdf/" in emails.get().body_text
    assert f"/reports/{november.pk}/csv/" in emails.get().body_text
    assert sorted(a.content_type for a in emails.get().attachments.all()) == [
        "application/pdf",
        "text/csv",
    ]

    # Issued once: issuing again is refused, and the row is a fact now.
    again = client.post(f"/reports/{november.pk}/issue/", follow=True)
    assert b"issued already" in again.content
    assert emails.count() == 1
    client.force_login(carol_customer)
    page = client.get(november.url)
    assert page.status_code == 200 and ROOT_CAUSE.encode() in page.content
    assert f"by {alice_manager.display_name}".encode() in page.content


def test_a_draft_nobody_issued_is_issued_automatically_after_the_review_days(
    november, carol_customer, settings
):
    settings.REPORT_REVIEW_DAYS = 5
    assert issue_due_reports(CLOSED + timedelta(days=4, hours=23)) == 0
    november.refresh_from_db()
    assert november.is_draft
    assert issue_due_reports(CLOSED + timedelta(days=5)) == 1
    november.refresh_from_db()
    assert november.status == Report.Status.ISSUED
    assert (november.issued_by, november.issued_at) == (None, CLOSED + timedelta(days=5))
    assert november.emailed
    assert Notification.objects.filter(
        kind="report.issued", recipient=carol_customer.email
    ).exists()


def test_a_draft_reviewed_for_weeks_is_still_emailed_when_issued(november, alice_manager):
    # Recency counts from the draft (made at month close), not from the review's end.
    issued = report_issue(november, CLOSED + timedelta(days=20), alice_manager)
    assert issued.emailed and not issued.quiet_reason


def test_corrections_apply_to_issued_reports_only(november, alice_manager):
    with pytest.raises(ReportError, match="issue it instead"):
        report_correct(november, alice_manager, "Too early", CLOSED)
    issued = report_issue(november, CLOSED, alice_manager)
    breach = Breach.objects.get(period_result__metric="availability")
    breach_root_cause_set(breach, alice_manager, ROOT_CAUSE)
    correction = report_correct(issued, alice_manager, "Root cause added.", CLOSED)
    assert (correction.revision, correction.status) == (2, Report.Status.ISSUED)
    assert correction.issued_by == alice_manager


# --- One way to write the period and the money -----------------------------------------------


def test_the_period_is_the_local_calendar_month():
    assert formatting.period_label(NOVEMBER, "Europe/Berlin") == "1 – 30 Nov 2026 (Europe/Berlin)"
    assert formatting.period_label(date(2028, 2, 1), "Asia/Tokyo") == "1 – 29 Feb 2028 (Asia/Tokyo)"


def test_money_is_written_one_way():
    assert formatting.money(Decimal("12000.00"), "EUR") == "12,000.00 EUR"
    assert formatting.money("2400", "EUR") == "2,400.00 EUR"
    assert formatting.money("0.005", "USD") == "0.01 USD"
    assert formatting.amount(None) == ""
    assert formatting.percent("20.00") == "20 %"
    assert formatting.percent("99.50") == "99.5 %"


def test_a_report_east_of_utc_reads_its_own_calendar_month(client, november, alice_manager):
    # A report in Berlin time: November starts at 23:00 UTC on 31 October.
    berlin = Report.objects.create(
        **{
            f.attname: getattr(november, f.attname)
            for f in Report._meta.concrete_fields
            if f.name
            not in {"id", "agreement", "zone", "period_start", "period_end", "month", "status"}
            and f.name not in {"issued_at"}
        },
        status=Report.Status.ISSUED,
        issued_at=CLOSED,
        agreement_id=november.agreement_id,
        month=date(2026, 12, 1),
        zone="Europe/Berlin",
        period_start=utc(2026, 11, 30, 23),
        period_end=utc(2026, 12, 31, 23),
    )
    client.force_login(alice_manager)
    html = client.get(berlin.url).content.decode()
    assert "1 – 31 Dec 2026 (Europe/Berlin)" in html
    assert "30 Nov 2026" not in html


def test_the_page_csv_and_email_write_money_one_way(client, november, alice_manager):
    client.force_login(alice_manager)
    html = client.get(november.url).content.decode()
    assert "12,000.00 EUR" in html and "12000.00" not in html
    text = client.get(f"/reports/{november.pk}/csv/").content.decode("utf-8-sig")
    due = next(r for r in csv.DictReader(io.StringIO(text)) if r["section"] == "credit_due")
    # Value columns stay machine-readable; the note is for people and reads like the page.
    assert due["value"] == "12000.00"
    assert due["note"].endswith("of the monthly fee of 12,000.00 EUR")


# --- The API ---------------------------------------------------------------------------------


def test_the_api_lists_reports_with_the_credit_computation(
    client, november, alice_manager, carol_customer, other_org_viewer
):
    client.force_login(alice_manager)
    listing = client.get("/api/reports/", {"status": "draft"}).json()
    assert [r["id"] for r in listing["results"]] == [november.pk]
    report_issue(november, CLOSED, alice_manager)

    client.force_login(carol_customer)
    listing = client.get("/api/reports/").json()
    assert listing["count"] == 1
    row = listing["results"][0]
    assert row["status"] == "issued" and row["month"] == "2026-11-01"
    assert row["period_label"] == "1 – 30 Nov 2026 (UTC)"
    assert row["pdf_url"].endswith(f"/api/reports/{november.pk}/pdf/")
    assert row["csv_url"].endswith(f"/api/reports/{november.pk}/csv/")
    assert row["issued_by"] == alice_manager.display_name
    detail = client.get(f"/api/reports/{november.pk}/").json()
    credits = detail["credits"]
    assert credits["cap_percent"] == "30" and credits["monthly_fee"] == "12000.00"
    assert credits["amount"] == detail["credit_amount"]
    assert {band["achieved_below"] for band in credits["bands"]} >= {"99.9", "99.5"}
    availability = next(line for line in credits["lines"] if line["metric"] == "availability")
    assert availability["achieved"] is not None and availability["band_below"] is not None
    assert detail["targets"] and detail["breaches"][0]["level"] == "breached"

    assert client.get("/api/reports/", {"month": "2026-10-01"}).json()["count"] == 0
    assert client.get("/api/reports/", {"agreement": november.agreement_id}).json()["count"] == 1
    assert client.get("/api/reports/", {"status": "draft"}).json()["count"] == 0
    assert client.get("/api/reports/", {"month": "not-a-date"}).status_code == 400

    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Token {create_token_for_tests(carol_customer)}"}
    pdf = client.get(row["pdf_url"], **auth)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    csv_file = client.get(row["csv_url"], HTTP_ACCEPT="text/csv", **auth)
    assert csv_file.status_code == 200
    rows = list(csv.DictReader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert (
        next(r for r in rows if r["section"] == "credit_due")["credit_amount"]
        == (detail["credit_amount"])
    )

    client.force_login(other_org_viewer)
    assert client.get(f"/api/reports/{november.pk}/pdf/").status_code == 404
    assert client.get("/api/reports/").json()["count"] == 0
    assert client.get(f"/api/reports/{november.pk}/").status_code == 404


def test_the_reports_api_queries_do_not_grow_with_reports(
    client, november, alice_manager, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    with django_assert_max_num_queries(8):
        assert client.get("/api/reports/").status_code == 200


def test_the_reports_api_is_in_the_schema(client, alice_manager):
    client.force_login(alice_manager)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/reports/{id}/" in schema and "ReportCredits" in schema


# --- The email carries the PDF and the CSV ---------------------------------------------------


def report_mail(smtp_server, address: str) -> list[EmailMessage]:
    return [m for m in smtp_server.to(address) if "service report" in str(m["Subject"])]


def files(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """Content type → (filename, bytes) of each attachment."""
    found = {}
    for part in message.iter_attachments():
        assert part.get_content_type() not in found
        found[part.get_content_type()] = (part.get_filename(), part.get_payload(decode=True))
    return found


def test_the_customer_gets_one_email_with_the_pdf_and_the_csv(
    client, smtp_server, november, alice_manager, carol_customer
):
    report_issue(november, CLOSED + timedelta(hours=1), alice_manager)
    deliver_due()

    (message,) = report_mail(smtp_server, carol_customer.email)
    attached = files(message)
    assert sorted(attached) == ["application/pdf", "text/csv"]
    pdf_name, pdf = attached["application/pdf"]
    csv_name, csv = attached["text/csv"]
    assert pdf.startswith(b"%PDF")
    assert (pdf_name, csv_name) == (f"{november.filename}.pdf", f"{november.filename}.csv")
    client.force_login(carol_customer)
    download = client.get(f"/reports/{november.pk}/csv/")
    assert download.status_code == 200
    assert csv == download.content
    # The links stay, for those who prefer the portal.
    assert f"/reports/{november.pk}/pdf/" in message.get_body(("plain",)).get_content()

    # Every contact got the files, but the report's files are stored once.
    rows = Notification.objects.filter(kind="report.issued", key=f"report:{november.pk}")
    assert rows.count() > 1
    for other in rows:
        (sent,) = report_mail(smtp_server, other.recipient)
        assert files(sent) == attached
    assert EmailAttachment.objects.count() == 2


def test_a_retry_after_a_failed_send_sends_the_same_attachments(
    smtp_server, november, alice_manager, carol_customer
):
    smtp_server.refuse(carol_customer.email)
    report_issue(november, CLOSED + timedelta(hours=1), alice_manager)
    deliver_due()
    row = Notification.objects.get(kind="report.issued", recipient=carol_customer.email)
    assert row.status == Notification.Status.PENDING and row.attempts == 1
    stored = {a.content_type: (a.filename, bytes(a.content)) for a in row.attachments.all()}

    # A correction meanwhile (a root cause recorded late) is a new email with its own files;
    # the one already queued keeps the files it was queued with.
    breach = Breach.objects.get(period_result__metric="availability")
    breach_root_cause_set(breach, alice_manager, ROOT_CAUSE)
    november.refresh_from_db()
    correction = report_correct(november, alice_manager, "Late breach.", CLOSED + timedelta(days=1))
    smtp_server.refused.clear()
    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=F("next_attempt_at") - timedelta(hours=2)
    )
    deliver_due()

    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and row.attempts == 2
    (retried,) = [
        m
        for m in report_mail(smtp_server, carol_customer.email)
        if m["Message-ID"].startswith(f"<notification.{row.pk}.")
    ]
    assert files(retried) == stored
    assert stored["application/pdf"][1].startswith(b"%PDF")
    assert ROOT_CAUSE.encode() not in stored["text/csv"][1]
    (corrected,) = [m for m in report_mail(smtp_server, carol_customer.email) if m is not retried]
    assert ROOT_CAUSE.encode() in files(corrected)["text/csv"][1]
    assert correction.revision == 2
