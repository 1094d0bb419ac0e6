"""The "Replay on history" panel in a real browser: the provider replays its working copy in
the editor, the customer's approver replays the counter-proposal on the comparison page;
both read the evidence in place (htmx), with axe-core on each state."""

from __future__ import annotations

import shutil

import pytest
from django.urls import reverse

from tests.support.actors import PASSWORD
from tests.support.axe import assert_no_axe_violations
from tests.support.browser import ARTIFACTS, DOCS_SCREENSHOTS, login
from tests.support.replay import *  # noqa: F403  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
DESKTOP = {"width": 1440, "height": 900}


def keep(page, name: str) -> None:
    """The replay section alone, in test-artifacts/ and as the documented state."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator("#replay").screenshot(path=str(path))
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")


def replay(page) -> None:
    page.get_by_label("Past months").fill("3")
    page.get_by_label("Up to").fill("2026-03-31")
    page.get_by_role("button", name="Replay on history").click()
    page.locator("#replay-summary").wait_for()


def test_editor_and_comparison_replay_the_proposal(new_page, counter_proposal):
    manager = new_page(DESKTOP)
    login(manager, "alice_manager", PASSWORD)
    manager.goto(reverse("agreements:edit-section", args=[counter_proposal.pk, "availability"]))
    replay(manager)
    summary = manager.locator("#replay-summary").inner_text()
    assert "Availability: 99.95 % would have been missed in 2 of the last 3 months" in summary
    assert "960.00 EUR" in manager.locator("#replay-credits").inner_text()
    assert "/replay/" not in manager.url  # in place, the editor's form is still there
    assert manager.locator("#editor-form").is_visible()
    assert_no_axe_violations(manager, "editor, replay on history")
    keep(manager, "replay-editor")

    customer = new_page(DESKTOP)
    login(customer, "carol_customer", PASSWORD)
    customer.goto(reverse("agreements:compare", args=[counter_proposal.pk]) + "?a=1&b=2")
    replay(customer)
    text = customer.locator("#replay-panel").inner_text()
    assert "Version 2 beside Version 1 (in force)" in text
    assert "99.9 % in 1, cost 600.00 EUR" in text
    assert_no_axe_violations(customer, "comparison of versions, replay")
    keep(customer, "replay-compare")
    customer.set_viewport_size({"width": 390, "height": 844})  # a phone: the table scrolls
    overflow = customer.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


@pytest.mark.worker
def test_a_large_replay_runs_on_the_worker_behind_a_progress_bar(
    new_page, celery_worker, counter_proposal, monkeypatch
):
    """Over the in-request budget, the replay goes to the real worker; the page shows the
    polling progress bar, then the evidence, without a reload."""
    from reporting.models import ReplayRun
    from reporting.replay import runs

    monkeypatch.setattr(runs, "INLINE_MS", 0)
    customer = new_page(DESKTOP)
    login(customer, "carol_customer", PASSWORD)
    customer.goto(reverse("agreements:compare", args=[counter_proposal.pk]) + "?a=1&b=2")
    customer.get_by_label("Past months").fill("12")
    customer.get_by_label("Up to").fill("2026-03-31")
    customer.get_by_role("button", name="Replay on history").click()
    customer.locator("#replay-percent").wait_for()  # the bar, while the worker replays
    customer.locator("#replay-summary").wait_for(timeout=60_000)
    assert (
        "would have been missed in 2 of the last 12 months"
        in customer.locator("#replay-summary").inner_text()
    )
    assert ReplayRun.objects.get().state == "done"
