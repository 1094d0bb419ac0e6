"""``manage.py compliance_figures``: an agreement's period results as a Markdown table."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest

# Mid-March 2026: January and February are closed, March is open.
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
HEADER = [
    "| Target | Period | Met | Missed | Value | Target | Threshold | Status | Closed |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
]


def ticket(external_id, priority, opened, response=None, resolved=None, agreement=None):
    return {
        "external_id": external_id,
        "agreement": agreement.reference,
        "priority": priority,
        "opened_at": opened,
        "first_response_at": response,
        "resolved_at": resolved,
    }


@pytest.fixture
def evaluated(active_acme_agreement, acme_desk):
    """Gold (24x7 UTC calendar; response P1 15/30 min, P2 30/60 min; resolution P1 4/8 h, P2
    8/16 h; 95 % of tickets within target, 90 % threshold). The desk's times are Berlin time
    (UTC+1 in winter)."""
    a = active_acme_agreement
    rows = [
        # Answered after 10 min, resolved after 2 h: met both.
        ticket("J1", "P1", "2026-01-10T10:00", "2026-01-10T10:10", "2026-01-10T12:00", a),
        # Answered after 20 min: response target (15 min) missed, within the threshold.
        ticket("J2", "P1", "2026-01-20T10:00", "2026-01-20T10:20", "2026-01-20T13:00", a),
        # Opened on 31 January, answered after 45 min (due 22:30 UTC on the 31st, so the
        # miss is January's); resolved after 4 h on 1 February, so the met resolution is
        # February's: a ticket counts in the period in which it was decided.
        ticket("J3", "P2", "2026-01-31T23:00", "2026-01-31T23:45", "2026-02-01T03:00", a),
        # Answered in 5 min, never resolved: the 4 h resolution target was missed in February.
        ticket("F1", "P1", "2026-02-05T09:00", "2026-02-05T09:05", None, a),
        # Answered after 45 min (missed), resolved after 1 h (met).
        ticket("F2", "P2", "2026-02-10T09:00", "2026-02-10T09:45", "2026-02-10T10:00", a),
        # Open for 13 min at NOW (12:47 Berlin = 11:47 UTC): past the warning point of the
        # P1 response target (75 % of 15 min), so March is at risk.
        ticket("M1", "P1", "2026-03-15T12:47", None, None, a),
    ]
    tickets_ingest(acme_desk, rows)
    assert evaluate_pending_tickets(NOW) == 6
    evaluate_periods(NOW)
    return a


def figures(*args) -> list[str]:
    out = StringIO()
    call_command("compliance_figures", *args, stdout=out)
    return out.getvalue().splitlines()


def test_response_figures_per_priority_and_month(evaluated):
    assert figures(evaluated.reference, "--metric", "response_time") == [
        *HEADER,
        "| Response time (P1) | 2026-01 | 1 | 1 | 50.00 % | 95.00 % | 90.00 % "
        "| Threshold breached | yes |",
        "| Response time (P1) | 2026-02 | 1 | 0 | 100.00 % | 95.00 % | 90.00 % | Met | yes |",
        "| Response time (P1) | 2026-03 | 0 | 0 | – | 95.00 % | 90.00 % | At risk | no |",
        "| Response time (P2) | 2026-01 | 0 | 1 | 0.00 % | 95.00 % | 90.00 % "
        "| Threshold breached | yes |",
        "| Response time (P2) | 2026-02 | 0 | 1 | 0.00 % | 95.00 % | 90.00 % "
        "| Threshold breached | yes |",
        "| Response time (P2) | 2026-03 | 0 | 0 | – | 95.00 % | 90.00 % | No data | no |",
        "| Response time (P3) | 2026-01 | 0 | 0 | – | 95.00 % | 90.00 % | No data | yes |",
        "| Response time (P3) | 2026-02 | 0 | 0 | – | 95.00 % | 90.00 % | No data | yes |",
        "| Response time (P3) | 2026-03 | 0 | 0 | – | 95.00 % | 90.00 % | No data | no |",
        "| Response time (P4) | 2026-01 | 0 | 0 | – | 95.00 % | 90.00 % | No data | yes |",
        "| Response time (P4) | 2026-02 | 0 | 0 | – | 95.00 % | 90.00 % | No data | yes |",
        "| Response time (P4) | 2026-03 | 0 | 0 | – | 95.00 % | 90.00 % | No data | no |",
    ]


def test_resolution_counts_a_ticket_in_the_month_it_was_decided(evaluated):
    lines = figures(
        evaluated.reference, "--metric", "resolution_time", "--from", "2026-01", "--to", "2026-02"
    )
    assert lines[:2] == HEADER
    assert lines[2:6] == [
        "| Resolution time (P1) | 2026-01 | 2 | 0 | 100.00 % | 95.00 % | 90.00 % | Met | yes |",
        "| Resolution time (P1) | 2026-02 | 0 | 1 | 0.00 % | 95.00 % | 90.00 % "
        "| Threshold breached | yes |",
        # J3 was opened in January but resolved in February.
        "| Resolution time (P2) | 2026-01 | 0 | 0 | – | 95.00 % | 90.00 % | No data | yes |",
        "| Resolution time (P2) | 2026-02 | 2 | 0 | 100.00 % | 95.00 % | 90.00 % | Met | yes |",
    ]
    assert not any("2026-03" in line for line in lines)
    assert len(lines) == 2 + 4 * 2


def test_other_metrics_show_values_in_their_unit_without_ticket_counts(evaluated):
    lines = figures(evaluated.reference, "--metric", "availability", "--to", "2026-01")
    # No uptime checks were ingested: no figure rather than a guessed 100 %.
    assert lines == [
        *HEADER,
        "| Availability | 2026-01 | – | – | – | 99.90 % | 99.50 % | No data | yes |",
    ]
    errors = figures(evaluated.reference, "--metric", "error_count", "--from", "2026-02")
    # Nor is zero errors from services that never sent an error event a measurement.
    assert "| 2026-02 | – | – | – | 0 | 1 | No data | yes |" in errors[2]


def test_unknown_agreement_and_bad_month_are_refused(evaluated):
    with pytest.raises(CommandError, match="No agreement with the reference 'SLA-NOPE'"):
        figures("SLA-NOPE")
    with pytest.raises(CommandError, match="--from expects a month as YYYY-MM"):
        figures(evaluated.reference, "--from", "2026-13")


def test_an_agreement_without_results_prints_only_the_header(active_acme_agreement):
    err = StringIO()
    out = StringIO()
    call_command("compliance_figures", active_acme_agreement.reference, stdout=out, stderr=err)
    assert out.getvalue().splitlines() == HEADER
    assert "No period results" in err.getvalue()
