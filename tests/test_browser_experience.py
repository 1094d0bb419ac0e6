"""The watermelon, end to end: a ticket of an agreement with a CSAT target is resolved and
meets its SLA targets; the customer receives the survey email through a real SMTP server,
opens its "1" link in Chromium, answers with a comment; once the worker's evaluation ran,
the dashboards flag the watermelon (SLA targets met, CSAT below its threshold) with the
comment that explains it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.ingest.tickets import tickets_ingest
from monitoring.models import PeriodResult, Survey, Ticket
from monitoring.tasks import evaluate_changed
from sla_portal.core.notifications import deliver_due
from tests.support.actors import PASSWORD
from tests.support.browser import login, screenshot
from tests.support.experience import sign_with_experience_targets

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "Fixed in an hour, but nobody told us for two days."


def _text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_customer_answers_the_csat_email_and_the_dashboards_flag_the_watermelon(
    new_page,
    live_server,
    settings,
    smtp_server,
    acme_agreement,
    alice_manager,
    carol_customer,
    victor_viewer,
    acme_desk,
):
    settings.SITE_URL = live_server.url
    # One response decides, so one answer turns the month.
    agreement = sign_with_experience_targets(
        acme_agreement,
        alice_manager,
        carol_customer,
        csat=("4.2", "3.8", 1),
        effective_from=timezone.localdate().replace(day=1),
    )
    now = timezone.now()
    tickets_ingest(
        acme_desk,
        [
            {
                "agreement": agreement.reference,
                "external_id": "INC-4711",
                "title": "Invoices cannot be downloaded",
                "priority": "P3",
                "opened_at": (now - timedelta(minutes=50)).isoformat(),
                "first_response_at": (now - timedelta(minutes=45)).isoformat(),
                "resolved_at": (now - timedelta(minutes=20)).isoformat(),
            }
        ],
    )
    evaluate_pending_tickets(timezone.now())  # the worker's step: timers, and the survey
    evaluate_periods(None, [agreement.pk])
    sla = PeriodResult.objects.filter(agreement=agreement).exclude(metric__in=["csat", "nps"])
    met = sla.filter(status="met", period_end__gt=now)
    assert met.exists()
    assert not sla.filter(
        status__in=["at_risk", "missed_target", "breached"], period_end__gt=now
    ).exists()
    csat = PeriodResult.objects.get(agreement=agreement, metric="csat", period_end__gt=now)
    assert csat.status == "no_data" and csat.details["responses"] == 0

    deliver_due()  # the mailer's step: every due email over SMTP
    surveys = [m for m in smtp_server.to(carol_customer.email) if "INC-4711" in m["Subject"]]
    assert len(surveys) == 1
    assert [m for m in smtp_server.to(victor_viewer.email) if "INC-4711" in m["Subject"]]
    assert not smtp_server.to(alice_manager.email) or not [
        m for m in smtp_server.to(alice_manager.email) if "INC-4711" in m["Subject"]
    ]
    links = re.findall(r"^(\d) - [^:]+: (http\S+)", _text_part(surveys[0]), re.MULTILINE)
    assert [score for score, _ in links] == ["1", "2", "3", "4", "5"]
    assert surveys[0].get_body(preferencelist=("html",)).get_content().count("/surveys/") == 5

    # The customer clicks "1" in the email: no login, the page asks for an optional comment.
    page = new_page()
    page.goto(links[0][1])
    expect(page.get_by_role("heading", name=re.compile("How satisfied"))).to_be_visible()
    expect(page.get_by_text("INC-4711")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("Very dissatisfied"))).to_be_checked()
    page.get_by_label(re.compile("Anything you would like to tell us")).fill(COMMENT)
    screenshot(page, "csat-survey-answer")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your rating 1 of 5")
    screenshot(page, "csat-survey-thanks")
    assert Ticket.objects.get(external_id="INC-4711").csat == 1
    # The "5" of the same email, clicked later: refused politely.
    page.goto(links[4][1])
    expect(page.get_by_role("heading", name=re.compile("already been answered"))).to_be_visible()
    assert Survey.objects.get().score == 1

    # The answer queued the evaluation; here it runs as the worker would run it.
    evaluate_changed(kind="tickets", ids=[Ticket.objects.get(external_id="INC-4711").pk])
    csat.refresh_from_db()
    assert (csat.status, csat.value, csat.details["responses"]) == ("breached", 1.0, 1)

    customer = new_page()
    login(customer, "carol_customer", PASSWORD)
    customer.goto("/dashboard/")
    flag = customer.locator(f"[data-watermelon='{agreement.pk}']")
    expect(flag).to_be_visible()
    expect(flag).to_contain_text("every SLA target met")
    expect(flag).to_contain_text("1.00")
    expect(flag).to_contain_text(COMMENT)
    screenshot(customer, "csat-watermelon-customer")

    provider = new_page()
    login(provider, "alice_manager", PASSWORD)
    provider.goto("/dashboard/")
    badge = provider.locator(f"[data-watermelon='{agreement.pk}']").first
    expect(badge).to_be_visible()
    expect(provider.locator("#agreements-rag")).to_contain_text(COMMENT)
    screenshot(provider, "csat-watermelon-provider")

    # The agreement's Experience page tells the same story, with the answer in its table.
    provider.goto(f"/agreements/{agreement.pk}/experience/")
    expect(provider.locator(f"[data-watermelon='{agreement.pk}']")).to_be_visible()
    expect(provider.get_by_role("table")).to_contain_text(COMMENT)
    screenshot(provider, "csat-experience-page")
