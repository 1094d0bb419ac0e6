"""The work inbox: what waits for each person, on Home, at /inbox/ and as a count in the
navigation; only ever their own organisation's items, and only what is theirs to do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from agreements.models import Review
from agreements.services import lifecycle
from monitoring.evaluation.actions import alert_acknowledge
from monitoring.models import Alert, ImportJob
from reporting.selectors.inbox import inbox_for
from tests.support.actors import make_user
from tests.support.agreements import complete_for_proposal
from tests.test_evaluation_alerts import open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposable(acme_agreement):
    acme_agreement.service_description = "Operation of the customer portal."
    acme_agreement.change_policy = "Normal changes go through the CAB."
    return complete_for_proposal(acme_agreement)


@pytest.fixture
def globex_approver(globex):
    return make_user("gina_globex", globex, "customer_approver")


def kinds(user) -> list[str]:
    return [item.kind.key for item in inbox_for(user).items]


# --- Negotiation --------------------------------------------------------------------------------


def test_a_proposal_waits_for_the_customer_approver_not_for_the_manager(
    proposable, alice_manager, carol_customer, victor_viewer
):
    lifecycle.propose(proposable, alice_manager)
    inbox = inbox_for(carol_customer)
    assert [item.kind.key for item in inbox.items] == ["proposal"]
    item = inbox.items[0]
    assert item.url == f"/agreements/{proposable.pk}/lifecycle/"
    assert "Version 1" in item.title and proposable.reference in item.title
    assert "accept it or request changes" in item.reason
    assert item.since <= timezone.now()
    # The manager's proposal is on the customer's side of the table; a viewer cannot answer.
    assert kinds(alice_manager) == []
    assert kinds(victor_viewer) == []


def test_a_change_request_moves_the_item_to_the_managers(proposable, alice_manager, carol_customer):
    lifecycle.propose(proposable, alice_manager)
    lifecycle.request_changes(proposable, carol_customer, "Please raise availability to 99.95 %.")
    assert kinds(carol_customer) == []
    [item] = inbox_for(alice_manager).items
    assert item.kind.key == "answer"
    assert "Changes requested to version 1" in item.title
    assert "Carol Customer" in item.reason and "99.95" in item.reason
    # A counter-proposal answers it, and the new version waits for the customer again.
    proposable.availability_notes = "Raised as asked."
    proposable.save()
    lifecycle.propose(proposable, alice_manager, note="Raised availability")
    assert kinds(alice_manager) == []
    assert kinds(carol_customer) == ["proposal"]


def test_the_customers_acceptance_agrees_and_goes_to_the_signatories(
    proposable, alice_manager, carol_customer, ada_admin
):
    # The provider accepted its proposal by sending it: the customer's acceptance agrees it,
    # and there is nothing left for the provider to answer, only signatures.
    version = lifecycle.propose(proposable, alice_manager)
    lifecycle.accept(proposable, carol_customer, version.number)
    assert kinds(alice_manager) == ["signature"]
    assert kinds(carol_customer) == ["signature"]
    assert "answer" not in kinds(ada_admin)


def test_signatures_wait_for_each_named_signatory_until_they_sign(
    proposable, alice_manager, carol_customer, victor_viewer
):
    version = lifecycle.propose(proposable, alice_manager)
    lifecycle.accept(proposable, carol_customer, version.number)
    assert kinds(alice_manager) == ["signature"]
    assert kinds(carol_customer) == ["signature"]
    assert kinds(victor_viewer) == []  # not a named signatory
    lifecycle.sign(proposable, alice_manager)
    assert kinds(alice_manager) == []
    [item] = inbox_for(carol_customer).items
    assert item.title.startswith("Sign version 1") and item.action == "Sign"


# --- Reviews ------------------------------------------------------------------------------------


def test_reviews_due_soon_or_overdue_wait_for_managers_and_approvers(
    active_acme_agreement, alice_manager, carol_customer, victor_viewer, tom_team
):
    review = active_acme_agreement.reviews.get()
    soon = timezone.localdate() + timedelta(days=settings.REVIEW_REMINDER_DAYS - 1)
    Review.objects.filter(pk=review.pk).update(
        due_date=soon, period_start=soon - timedelta(days=180), period_end=soon
    )
    for user in (alice_manager, carol_customer):
        [item] = inbox_for(user).items
        assert item.kind.key == "review" and not item.overdue
        assert f"in {settings.REVIEW_REMINDER_DAYS - 1} days" in item.reason
    assert kinds(victor_viewer) == [] and kinds(tom_team) == []
    # Far away: not yet.
    later = timezone.localdate() + timedelta(days=settings.REVIEW_REMINDER_DAYS + 5)
    Review.objects.filter(pk=review.pk).update(
        due_date=later, period_start=later - timedelta(days=180), period_end=later
    )
    assert kinds(alice_manager) == []
    # Past its date: overdue, and shown first.
    past = timezone.localdate() - timedelta(days=3)
    Review.objects.filter(pk=review.pk).update(
        due_date=past, period_start=past - timedelta(days=180), period_end=past
    )
    [item] = inbox_for(alice_manager).items
    assert item.overdue and "overdue since" in item.reason and "(3 days)" in item.reason


# --- Alerts and imports --------------------------------------------------------------------------


@pytest.fixture
def alerting_agreement(active_acme_agreement, services, tom_team):
    services["portal"].owner = tom_team
    services["portal"].save()
    return active_acme_agreement


def test_unacknowledged_alerts_wait_for_the_staff_they_were_sent_to(
    alerting_agreement, acme_desk, tom_team, alice_manager, carol_customer, ada_admin
):
    open_ticket(acme_desk, alerting_agreement, "warn", 12)  # a warning: Tom's team only
    alert = Alert.objects.get()
    [item] = inbox_for(tom_team).items
    assert item.kind.key == "alert" and item.title.startswith("Warning")
    assert item.url == f"/alerts/?acknowledged=no&agreement={alerting_agreement.pk}"
    assert kinds(alice_manager) == []  # the warning was not sent to her
    assert kinds(ada_admin) == []
    alert_acknowledge(alert, tom_team)
    assert kinds(tom_team) == []


def test_customers_never_get_alerts_to_acknowledge(
    alerting_agreement, acme_desk, tom_team, carol_customer
):
    open_ticket(acme_desk, alerting_agreement, "breach", 40)  # breach: emailed to Carol too
    assert "alert" in kinds(tom_team)
    assert "alert" not in kinds(carol_customer)


def _job(source, status, user, **fields) -> ImportJob:
    job = ImportJob(
        source=source, format=ImportJob.Format.SERVICENOW, status=status, created_by=user, **fields
    )
    job.file.save("export.csv", ContentFile(b"number\n"), save=False)
    job.finished_at = timezone.now()
    job.save()
    return job


def test_failed_imports_wait_for_managers_until_an_import_of_the_source_succeeds(
    acme_desk, alice_manager, ada_admin, tom_team, carol_customer
):
    refused = _job(
        acme_desk, ImportJob.Status.REFUSED, alice_manager, problems=[{"row": 2, "error": "x"}]
    )
    [item] = inbox_for(alice_manager).items
    assert item.kind.key == "import" and item.url == f"/imports/{refused.pk}/"
    assert "refused: 1 row problem" in item.reason
    assert kinds(ada_admin) == ["import"]
    assert kinds(tom_team) == [] and kinds(carol_customer) == []
    _job(acme_desk, ImportJob.Status.SUCCEEDED, alice_manager)
    assert kinds(alice_manager) == []


# --- Scoping ------------------------------------------------------------------------------------


def test_another_organisation_never_sees_acmes_items(
    proposable, alice_manager, carol_customer, globex_approver, other_org_viewer, acme_desk
):
    lifecycle.propose(proposable, alice_manager)
    _job(acme_desk, ImportJob.Status.FAILED, alice_manager, error="Boom")
    assert kinds(carol_customer) == ["proposal"]
    assert kinds(globex_approver) == []
    assert kinds(other_org_viewer) == []


# --- Pages ----------------------------------------------------------------------------------------


def test_home_shows_what_waits_and_the_inbox_lists_it(
    client, proposable, alice_manager, carol_customer
):
    lifecycle.propose(proposable, alice_manager)
    client.force_login(carol_customer)
    home = client.get("/").content.decode()
    assert "Waiting for you" in home and "Proposals to review" in home
    assert f'href="/agreements/{proposable.pk}/lifecycle/"' in home
    assert "1 item waiting for you" in home  # the count in the navigation, spoken
    page = client.get("/inbox/").content.decode()
    assert "1 item waiting for you" in page and "Version 1 of" in page


def test_home_says_when_nothing_is_waiting(client, victor_viewer):
    client.force_login(victor_viewer)
    body = client.get("/").content.decode()
    assert "Nothing is waiting for you." in body
    assert "Nothing is waiting for you." in client.get("/inbox/").content.decode()


def test_the_navigation_count_is_fetched_once_the_page_loaded(
    client, proposable, alice_manager, carol_customer, django_assert_max_num_queries
):
    lifecycle.propose(proposable, alice_manager)
    client.force_login(carol_customer)
    page = client.get("/calendars/").content.decode()
    assert 'hx-get="/inbox/badge/"' in page
    badge = client.get("/inbox/badge/")
    assert badge["Cache-Control"].startswith("max-age=0")
    assert '<span class="visually-hidden">1 item waiting for you</span>' in badge.content.decode()


def test_the_inbox_costs_a_fixed_number_of_queries(
    client, proposable, alice_manager, carol_customer, acme_desk, django_assert_max_num_queries
):
    for n in range(5):
        _job(acme_desk, ImportJob.Status.FAILED, alice_manager, error=f"Boom {n}")
    lifecycle.propose(proposable, alice_manager)
    lifecycle.request_changes(proposable, carol_customer, "More, please.")
    alice_manager.refresh_from_db()
    # Her organisation, 4 for negotiations (versions, acceptances, change requests,
    # signatures), 1 for reviews, up to 2 each for alerts and imports (count, rows).
    with django_assert_max_num_queries(10):
        assert len(inbox_for(alice_manager).items) == 6
    client.force_login(alice_manager)
    client.get("/inbox/badge/")  # warm the session
    with django_assert_max_num_queries(12):  # the session and the user too
        assert client.get("/inbox/badge/").status_code == 200


def test_no_link_of_home_or_the_navigation_opens_the_raw_api(
    client, alice_manager, carol_customer, acme, globex
):
    for user in (alice_manager, carol_customer):
        client.force_login(user)
        body = client.get("/").content.decode()
        hrefs = [part.split('"', 1)[0] for part in body.split('href="')[1:]]
        raw = [href for href in hrefs if href.startswith("/api/") and href != "/api/docs/"]
        assert hrefs and not raw
        assert client.get("/organisations/").status_code == 200


def test_the_inbox_needs_a_login(client):
    assert client.get("/inbox/").status_code == 302
    # htmx would swap a followed redirect (the login page) into the navigation.
    assert client.get("/inbox/badge/").status_code == 204


def test_items_say_how_long_they_waited_in_words():
    from sla_portal.core.templatetags.portal import waiting

    now = timezone.now()
    assert waiting(now) == "just now"
    assert waiting(now - timedelta(days=3, hours=2)) == "for 3\xa0days, 2\xa0hours"


def test_piles_of_failed_imports_are_counted_but_not_all_loaded(acme_desk, alice_manager):
    from reporting.selectors import inbox as inbox_module

    for n in range(inbox_module.SHOWN_PER_KIND + 3):
        _job(acme_desk, ImportJob.Status.FAILED, alice_manager, error=f"Boom {n}")
    inbox = inbox_for(alice_manager)
    assert inbox.count == inbox_module.SHOWN_PER_KIND + 3
    [group] = inbox.groups(limit=3)
    assert (len(group.items), group.total, group.more) == (3, inbox.count, inbox.count - 3)
    assert inbox.label == f"{inbox.count} items waiting for you"


def test_more_items_than_shown_link_to_their_own_list(client, acme_desk, alice_manager):
    from reporting.selectors import inbox as inbox_module

    for n in range(inbox_module.SHOWN_PER_KIND + 2):
        _job(acme_desk, ImportJob.Status.FAILED, alice_manager, error=f"Boom {n}")
    client.force_login(alice_manager)
    home = client.get("/").content.decode()
    more = inbox_module.SHOWN_PER_KIND + 2 - 3
    assert f'href="/inbox/#inbox-import">{more} more imports that failed</a>' in home
    page = client.get("/inbox/").content.decode()
    assert 'href="/imports/">2 more imports that failed</a>' in page
