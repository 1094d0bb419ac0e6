"""The agreement document: the page both sides read, and the signable PDF."""

from __future__ import annotations

import re
import subprocess
from datetime import date, time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements.demo import seed_demo_agreements
from agreements.formatting import (
    DASH,
    compliance_text,
    credit_band_rows,
    format_duration,
    format_money,
    format_number,
    format_value,
    weekly_hours_text,
)
from agreements.models import Agreement, Signatory, SupportChannel, Target
from agreements.pdf import StaticFilesFetcher
from agreements.presentation import Mark, bands_text
from agreements.sections import SECTIONS
from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from sla_portal.core.demo import seed_demo_accounts
from sla_portal.core.models import User
from tests.support.actors import PASSWORD
from tests.support.browser import login, screenshot

GOLD = "SLA-DEMO-0001"  # Acme's Gold agreement
GOLD_TITLE = "Customer Portal and ERP \u2013 Gold"
GLOBEX = "SLA-DEMO-0003"  # Globex's Silver agreement


# --- Formatting (no database) --------------------------------------------------------------


def plain(text: str) -> str:
    """Text with the no-break spaces between numbers and units as ordinary spaces."""
    return text.replace("\u00a0", " ")


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (Decimal("15.000"), "minutes", "15 min"),
        (Decimal("4.000"), "hours", "4 h"),
        (Decimal("99.900"), "percent", "99.9 %"),
        (Decimal("1500.000"), "ms", "1,500 ms"),
        (Decimal("30"), "seconds", "30 s"),
        (Decimal("2.000"), "count", "2"),
        (Decimal("0.000"), "count", "0"),
        (None, "minutes", "—"),
    ],
)
def test_values_are_shown_with_their_unit(value, unit, expected):
    assert plain(format_value(value, unit)) == expected


def test_unit_stays_on_the_line_of_its_number():
    assert format_value(Decimal("15"), "minutes") == "15\u00a0min"


def test_numbers_drop_stored_trailing_zeros_without_scientific_notation():
    assert format_number(Decimal("1000.000")) == "1,000"
    assert format_number(Decimal("99.950")) == "99.95"


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (45, "45 min"),
        (60, "1 h"),
        (240, "4 h"),
        (90, "1 h 30 min"),
        (2880, "2 days"),
        (1440, "1 day"),
        (0, "0 min"),
        (None, "—"),
    ],
)
def test_durations_read_humanely(minutes, expected):
    assert plain(format_duration(minutes)) == expected


def test_money_has_two_decimals_and_the_currency():
    assert plain(format_money(Decimal("12000"), "EUR")) == "12,000.00 EUR"


def test_compliance_goal_names_what_it_counts_and_the_breach_level():
    text = compliance_text(Decimal("95.00"), Decimal("90.00"), "tickets")
    assert plain(text) == "95 % of tickets; breach below 90 %"
    assert compliance_text(None, None, "tickets") == ""


def test_weekly_hours_run_equal_consecutive_days_together():
    office = [(day, time(8), time(18)) for day in range(5)]
    assert weekly_hours_text(office) == f"Mon{DASH}Fri 08:00{DASH}18:00"
    split = [
        *[(d, t0, t1) for d in range(5) for t0, t1 in ((time(13), time(20)), (time(7), time(12)))],
        (5, time(9), time(13)),
    ]
    assert weekly_hours_text(split) == (
        f"Mon{DASH}Fri 07:00{DASH}12:00, 13:00{DASH}20:00; Sat 09:00{DASH}13:00"
    )
    assert weekly_hours_text([(0, time(9), time(0)), (2, time(22), time(6))]) == (
        f"Mon 09:00{DASH}24:00; Wed 22:00{DASH}06:00 (overnight)"
    )
    assert weekly_hours_text([]) == "No weekly hours"


def test_credit_bands_say_which_range_they_cover_and_what_they_are_worth():
    rows = credit_band_rows(
        [
            ("Availability", Decimal("99.5"), Decimal("10")),
            ("Availability", Decimal("99.9"), Decimal("5")),
        ],
        fee=Decimal("12000"),
        currency="EUR",
    )
    assert [(plain(r.applies_to), plain(r.credit), plain(r.amount)) for r in rows] == [
        ("99.5 % to under 99.9 %", "5 %", "600.00 EUR"),
        ("under 99.5 %", "10 %", "1,200.00 EUR"),
    ]
    assert plain(bands_text([(Decimal("99.5"), Decimal("10"))])) == "below 99.5 % → 10 %"


def test_a_difference_mark_says_it_in_words_and_escapes_its_values():
    html = str(Mark("Gold", "<b>15 min</b>"))
    assert "differs from Gold" in html
    assert "&lt;b&gt;15 min&lt;/b&gt;" in html
    assert "<b>" not in html


# --- The page ------------------------------------------------------------------------------


def send(agreement: Agreement) -> None:
    """Propose the working copy to the customer (a draft is the provider's until then)."""
    lifecycle.propose(agreement, User.objects.get(username="manager"))


@pytest.fixture
def demo(db, alice_manager, carol_customer, other_org_viewer) -> dict[str, Agreement]:
    """The demo agreements, next to the named actors (same organisations by slug), each
    proposed to its customer as version 1."""
    seed_demo_agreements(seed_demo_accounts())
    for agreement in Agreement.objects.all():
        send(agreement)
    return {agreement.reference: agreement for agreement in Agreement.objects.all()}


def page(client, user, agreement: Agreement) -> str:
    client.force_login(user)
    response = client.get(reverse("agreements:detail", args=[agreement.pk]))
    assert response.status_code == 200
    return plain(response.content.decode())


def target_row_html(html: str, label: str) -> str:
    """The table row of one target (up to its closing tag)."""
    match = re.search(rf"<tr[^>]*>\s*<th scope=\"row\">{re.escape(label)}.*?</tr>", html, re.S)
    assert match, f"no row for {label}"
    return match.group(0)


def test_document_shows_the_ten_sections_in_order(client, alice_manager, demo):
    html = page(client, alice_manager, demo[GOLD])
    positions = [html.index(f"</span> {section.title}</h2>") for section in SECTIONS]
    assert positions == sorted(positions)
    assert len(SECTIONS) == 10
    for section in SECTIONS:
        assert f'href="#section-{section.key}"' in html


def test_targets_show_target_and_threshold_with_units(client, alice_manager, demo):
    html = page(client, alice_manager, demo[GOLD])
    p1 = target_row_html(html, "Response time (P1)")
    assert "15 min" in p1 and "30 min" in p1
    assert "95 % of tickets; breach below 90 %" in p1
    availability = target_row_html(html, "Availability")
    assert "99.9 %" in availability and "99.5 %" in availability
    assert "24x7" in availability
    errors = target_row_html(html, "Error count (Failed transactions)")
    assert ">2<" in errors and ">5<" in errors
    assert "Errors tolerated" in html and "Breach threshold" in html


def test_document_shows_credit_bands_charges_continuity_and_signatories(
    client, alice_manager, demo
):
    html = page(client, alice_manager, demo[GOLD])
    assert "12,000.00 EUR" in html
    assert "99.5 % to under 99.9 %" in html
    assert "5 % of the period fee" in html and "600.00 EUR" in html
    assert "30 % of the period fee (3,600.00 EUR)" in html
    assert "4 h" in html and "DRP-2026-03 (rev. 4)" in html  # RTO 240 minutes
    assert "Carol Customer" in html and "Alice Manager" in html
    assert "Head of IT" in html


def test_service_hours_link_to_their_calendars(client, alice_manager, demo):
    bronze = demo["SLA-DEMO-0002"]
    html = page(client, alice_manager, bronze)
    office = bronze.service_calendars.get()
    assert reverse("agreements:calendar-detail", args=[office.pk]) in html
    assert f"Mon{DASH}Fri 08:00{DASH}18:00" in html
    assert "Europe/Berlin" in html and "DE (BE)" in html


def test_customer_of_the_agreements_organisation_reads_it(client, carol_customer, demo):
    html = page(client, carol_customer, demo[GOLD])
    assert GOLD_TITLE in html
    assert "Download PDF" in html
    # Edit links and the provider's review aids are not for customers.
    assert reverse("agreements:edit", args=[demo[GOLD].pk]) not in html
    assert "Differences from the" not in html
    assert "Before proposing" not in html


def test_customer_of_another_organisation_gets_404_on_page_and_pdf(client, other_org_viewer, demo):
    client.force_login(other_org_viewer)
    gold = demo[GOLD]
    assert client.get(reverse("agreements:detail", args=[gold.pk])).status_code == 404
    assert client.get(reverse("agreements:pdf", args=[gold.pk])).status_code == 404
    # Their own organisation's agreement is there.
    own = demo[GLOBEX]
    assert client.get(reverse("agreements:detail", args=[own.pk])).status_code == 200


def test_anonymous_visitor_is_sent_to_log_in(client, demo):
    response = client.get(reverse("agreements:detail", args=[demo[GOLD].pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_manager_gets_edit_links_only_while_draft(client, alice_manager, demo):
    gold = demo[GOLD]
    html = page(client, alice_manager, gold)
    assert f'href="{reverse("agreements:edit", args=[gold.pk])}"' in html
    for section in SECTIONS:
        assert reverse("agreements:edit-section", args=[gold.pk, section.key]) in html
    Agreement.objects.filter(pk=gold.pk).update(status=Agreement.Status.ACTIVE)
    html = page(client, alice_manager, gold)
    assert reverse("agreements:edit", args=[gold.pk]) not in html


def test_team_member_reads_but_does_not_get_edit_links(client, tom_team, demo):
    html = page(client, tom_team, demo[GOLD])
    assert reverse("agreements:edit", args=[demo[GOLD].pk]) not in html
    assert "Differences from the Gold tier" in html


def test_changed_target_is_marked_as_differing_from_the_tier(client, alice_manager, demo):
    gold = demo[GOLD]
    html = page(client, alice_manager, gold)
    assert "differs from Gold" not in html
    target = gold.targets.get(metric="response_time", priority="P1")
    target.target_value = Decimal("10")
    target.save()
    gold.fee_amount = Decimal("11000")
    gold.save()

    html = page(client, alice_manager, gold)
    row = target_row_html(html, "Response time (P1)")
    assert "10 min" in row
    assert "differs from Gold" in row and "Gold: 15 min / 30 min" in row
    assert "Gold: 12,000.00 EUR" in html  # the fee, marked where it is shown
    summary = html[html.index("Differences from the Gold tier") : html.index("</details>")]
    assert "Response time (P1): target value" in summary
    assert "15 min" in summary and "10 min" in summary
    assert "11,000.00 EUR" in summary
    # Other targets are the tier's and carry no mark.
    assert "differs from" not in target_row_html(html, "Response time (P2)")


def test_customer_does_not_see_the_tiers_values(client, carol_customer, demo):
    gold = demo[GOLD]
    gold.fee_amount = Decimal("11000")
    gold.save()
    send(gold)
    html = page(client, carol_customer, gold)
    assert "11,000.00 EUR" in html
    assert "12,000.00 EUR" not in html  # the tier's price list is the provider's
    assert "differs from" not in html


def test_gaps_are_a_checklist_for_the_provider(client, alice_manager, carol_customer, acme):
    bare = agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Bare draft",
        services=[],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    html = page(client, alice_manager, bare)
    checklist = html[html.index("Before proposing") : html.index("</aside>")]
    assert "1. Service description" in checklist
    assert "an availability target" in checklist
    assert "response or resolution targets" in checklist
    assert reverse("agreements:edit-section", args=[bare.pk, "changes"]) in checklist
    assert "No targets in this section." in html
    # Never proposed: the customer does not see the draft at all.
    client.force_login(carol_customer)
    assert client.get(reverse("agreements:detail", args=[bare.pk])).status_code == 404


def test_markdown_is_rendered_and_scripts_are_removed(client, carol_customer, demo):
    gold = demo[GOLD]
    gold.service_description = "We **run** it.\n\n<script>alert('pwned')</script>"
    gold.change_policy = '<a href="javascript:alert(1)" onclick="x()">click</a>'
    gold.save()
    send(gold)
    html = page(client, carol_customer, gold)
    assert "<strong>run</strong>" in html
    assert "alert('pwned')" not in html and "<script>alert" not in html
    assert "javascript:" not in html and "onclick" not in html


def test_detail_page_needs_few_queries_however_big_the_agreement(
    client, alice_manager, demo, django_assert_max_num_queries
):
    gold = demo[GOLD]
    client.force_login(alice_manager)
    url = reverse("agreements:detail", args=[gold.pk])
    with django_assert_max_num_queries(20):
        client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)

    template = gold.targets.get(metric="performance")
    for n in range(5):
        Target.objects.create(
            agreement=gold,
            metric="performance",
            name=f"API p95 latency {n}",
            target_value=Decimal(200 + n),
            threshold_value=Decimal(400 + n),
            unit="ms",
            direction="lower",
            data_source="measurements",
            calendar=template.calendar,
            service=gold.services.first(),
        )
        Signatory.objects.create(
            agreement=gold,
            side="customer",
            name=f"Signer {n}",
            role="CFO",
            organisation_name="Acme Logistics",
        )
        SupportChannel.objects.create(agreement=gold, kind="chat", contact=f"chat-{n}")
    with CaptureQueriesContext(connection) as after:
        response = client.get(url)
    assert "API p95 latency 4" in response.content.decode()
    assert len(after) == len(before)


# --- The PDF -------------------------------------------------------------------------------


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return re.sub(r"\s+", " ", plain(result.stdout.decode()))


def test_pdf_is_a_real_pdf_with_sections_targets_credits_and_signatures(
    client, carol_customer, demo, tmp_path
):
    gold = demo[GOLD]
    client.force_login(carol_customer)
    response = client.get(reverse("agreements:pdf", args=[gold.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{GOLD}.pdf"'
    assert response.content.startswith(b"%PDF")

    text = pdf_text(response.content, tmp_path)
    assert GOLD in text and GOLD_TITLE in text
    for section in SECTIONS:
        assert f"{section.number}. {section.title}" in text
    assert "Response time (P1) All services 15 min 30 min" in text  # target and threshold
    assert "99.5 % to under 99.9 %" in text and "600.00 EUR" in text  # a credit band
    assert "Signatures" in text and "Carol Customer" in text and "Signature" in text
    assert re.search(r"Page 1 of \d", text)


def test_pdf_of_a_bare_draft_still_renders(client, alice_manager, acme, tmp_path):
    bare = agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Bare draft",
        services=[],
        effective_from=date(2026, 1, 1),
        reference="SLA-TEST-0001",
    )
    client.force_login(alice_manager)
    response = client.get(reverse("agreements:pdf", args=[bare.pk]))
    text = pdf_text(response.content, tmp_path)
    assert "SLA-TEST-0001" in text and "Not yet written." in text
    assert "No signatories named yet." in text


def test_pdf_fetches_static_files_only_from_disk():
    fetcher = StaticFilesFetcher()
    css = fetcher.fetch("http://portal.example/static/css/document.css")
    assert b"@page agreement" in css.read()
    for url in (
        "http://portal.example/static/../sla_portal/settings.py",
        "http://portal.example/api/me/",
        "https://elsewhere.example/static/css/document.css.missing",
        "file:///etc/passwd",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


# --- In the browser ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_reads_the_document_in_the_browser(new_page, carol_customer):
    seed_demo_agreements(seed_demo_accounts())
    gold = Agreement.objects.get(reference=GOLD)
    send(gold)
    browser_page = new_page()
    login(browser_page, carol_customer.username, PASSWORD)
    browser_page.goto(reverse("agreements:detail", args=[gold.pk]))
    assert browser_page.get_by_role("heading", name=GOLD_TITLE).is_visible()
    sections = browser_page.get_by_role("navigation", name="Sections of the agreement")
    assert sections.get_by_role("link").count() == 10
    assert browser_page.get_by_role("link", name="Download PDF").is_visible()
    assert browser_page.get_by_role("button", name="Print").is_visible()
    screenshot(browser_page, "agreement-document-customer")

    sections.get_by_role("link", name="Charges").click()
    browser_page.wait_for_url("**#section-charges")
    assert browser_page.get_by_role("heading", name="Service-credit schedule").is_visible()
    # The section list stays in view (sticky) while the reader is deep in the document.
    browser_page.wait_for_function("() => window.scrollY > 1000")  # Bootstrap scrolls smoothly
    box = sections.bounding_box()
    assert box is not None and 0 <= box["y"] < 900

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, carol_customer.username, PASSWORD)
    phone.goto(reverse("agreements:detail", args=[gold.pk]))
    assert phone.get_by_role("heading", name="1. Service description").is_visible()
    screenshot(phone, "agreement-document-phone")
