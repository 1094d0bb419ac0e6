"""In a real browser: the lockout page after too many wrong passwords, and the portal's pages
working under the Content-Security-Policy with no violation reported."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from agreements.models import Agreement, Service
from sla_portal.core.demo import DEMO_PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation the browser reports, kept on the page for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline")
    + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


def _wrong_password(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_the_lockout_page_after_too_many_wrong_passwords(new_page, settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _wrong_password(page, "manager")
    # The right password now meets the lockout page, not the portal.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    alert = page.locator("#lockout-message")
    alert.wait_for()
    assert "Too many failed logins" in alert.inner_text()
    assert "15 minutes" in alert.inner_text()
    assert page.get_by_role("link", name="Reset your password").is_visible()
    assert_no_axe_violations(page, "login lockout")
    screenshot(page, "login-lockout")
    phone = new_page(viewport={"width": 390, "height": 844})
    phone.goto(page.url)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _wrong_password(phone, "acme-viewer")
    screenshot(phone, "login-lockout-phone")
    assert "Too many failed logins" in phone.locator("#lockout-message").inner_text()


def test_pages_work_under_the_content_security_policy(new_page, settings):
    settings.DEMO_MODE = True
    call_command("seed_demo")
    page = new_page()
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.goto("/accounts/login/")
    assert "script-src 'self'" in page.evaluate(
        "async () => (await fetch('/accounts/login/')).headers.get('content-security-policy')"
    )
    login(page, "manager", DEMO_PASSWORD)
    agreement = Agreement.objects.order_by("pk").first()
    probed = Service.objects.exclude(probe_url="").first() or Service.objects.first()
    urls = [
        "/",
        "/dashboard/",
        "/agreements/",
        f"/agreements/{agreement.pk}/",
        f"/agreements/{agreement.pk}/edit/",
        f"/agreements/{agreement.pk}/lifecycle/",
        "/services/",
        f"/services/{probed.pk}/checks/",
        "/sources/",
        "/alerts/",
        "/reports/",
        "/imports/new/",
        "/api/docs/",
    ]
    problems = {}
    for url in urls:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        if violations:
            problems[url] = violations
    assert problems == {}
    # Swagger UI started from its script file: the operations are listed.
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    # The uptime bar's segments were placed by static/js/geometry.js.
    page.goto(f"/services/{probed.pk}/checks/")
    segments = page.locator(".uptime-bar .segment")
    if segments.count():
        assert segments.first.evaluate("e => e.style.width").endswith("%")
    assert settings.CONTENT_SECURITY_POLICY
