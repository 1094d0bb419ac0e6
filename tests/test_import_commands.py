"""The import commands on the real exports in shared/data: whole files or nothing, re-imports
change nothing, and every unreadable row is named."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from monitoring.models import Outage, Ticket, TicketPause, UptimeCheck
from tests.support.data import SHARED_DATA

pytestmark = pytest.mark.django_db

DATA = SHARED_DATA
UCI = DATA / "uci-incident-log" / "incident_event_log.csv.zip"
KUMA = DATA / "uptime" / "uptime-kuma-export"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_the_full_servicenow_log_imports_once_and_only_when_told_to_skip_unreadable_rows(
    acme_agreement,
):
    common = [
        "import_servicenow",
        str(UCI),
        "--customer",
        "acme",
        "--source",
        "ServiceNow",
        "--timezone",
        "UTC",
        "--agreement",
        acme_agreement.reference,
    ]
    with pytest.raises(CommandError, match="Nothing was imported"):
        run(*common)
    assert Ticket.objects.count() == 0

    output = run(*common, "--skip-invalid-rows")
    assert "24918 created" in output
    # Issue 14: every rule applied is in the summary, with its count, and the rows add up.
    assert (
        "Rows read 141712 = 88948 used + 52754 merged by a rule + 0 left out by a rule "
        "+ 10 refused (unreadable)" in output
    )
    assert (
        "  1556 tickets: resolved_at missing: taken from the first Resolved/Closed state "
        "change in the history (rule SN-R2)" in output
    )
    assert "  7 tickets: category missing ('?'): imported without a category (rule SN-R5)" in output
    assert "  52754 rows: same state as the incident's previous row" in output
    assert "  1544 tickets: priority or category changed during the incident" in output
    assert "skipped line 124509: incident_state" in output  # each unreadable row is named
    assert Ticket.objects.filter(agreement=acme_agreement).count() == 24_918

    ticket = Ticket.objects.get(external_id="INC0000045")
    assert ticket.opened_at == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
    assert ticket.resolved_at == datetime(2016, 2, 29, 11, 29, tzinfo=UTC)
    assert ticket.closed_at == datetime(2016, 3, 5, 12, 0, tzinfo=UTC)
    assert ticket.priority == "P3"
    assert [c.status for c in ticket.status_changes.all()] == ["New", "Resolved", "Closed"]
    assert TicketPause.objects.filter(ticket__source__name="ServiceNow").count() > 5_000

    again = run(*common, "--skip-invalid-rows")
    assert "0 created, 0 updated, 24918 unchanged" in again


def test_uptime_kuma_checks_become_outages_and_unmapped_monitors_are_refused(
    acme_agreement, services
):
    base = [
        "import_checks",
        str(KUMA / "heartbeat.csv"),
        "--monitors",
        str(KUMA / "monitor.csv"),
        "--format",
        "uptime_kuma",
        "--customer",
        "acme",
        "--source",
        "Uptime Kuma",
    ]
    with pytest.raises(CommandError, match="Nothing was imported"):
        run(*base, "--map", "Domain=Customer Portal")
    assert UptimeCheck.objects.count() == 0

    acme_agreement.services.add(services["erp"], services["email"])
    output = run(
        *base,
        "--map",
        "Domain=Customer Portal",
        "--map",
        "Database=ERP Hosting",
        "--map",
        "LavaLink=Managed Email",
        "--map",
        "MySQL=ERP Hosting",
    )
    assert "created" in output
    portal = services["portal"]
    assert UptimeCheck.objects.filter(service=portal).exists()
    assert Outage.objects.filter(service=portal).exists()


def test_unknown_customer_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No customer organisation with the slug 'nobody'"):
        run(
            "import_servicenow",
            str(UCI),
            "--customer",
            "nobody",
            "--source",
            "x",
            "--timezone",
            "UTC",
        )
