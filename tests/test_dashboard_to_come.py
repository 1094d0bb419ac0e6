"""A signed agreement whose effective date is still to come is on its customer's dashboard,
with the day its live figures start; nobody else's dashboard shows it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.services import lifecycle
from tests.support.agreements import complete_for_proposal


@pytest.fixture
def signed_to_come(acme_agreement, alice_manager, carol_customer):
    agreement = acme_agreement
    agreement.effective_from = timezone.localdate() + timedelta(days=30)
    agreement.effective_to = None
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, carol_customer, version.number)
    lifecycle.sign(agreement, carol_customer)
    lifecycle.sign(agreement, alice_manager)
    agreement.refresh_from_db()
    assert agreement.status == "agreed"
    return agreement


@pytest.mark.django_db
def test_customer_dashboard_lists_a_signed_agreement_that_takes_effect_later(
    client, signed_to_come, victor_viewer, other_org_viewer
):
    start = signed_to_come.effective_from
    client.force_login(victor_viewer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert 'id="to-come"' in page and signed_to_come.title in page
    assert f"Signed, takes effect on {start.day} {start:%b %Y}" in page
    assert f"Its live figures appear here from {start.day} {start:%b %Y}." in page
    assert "None of your agreements is in force" not in page

    client.force_login(other_org_viewer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert signed_to_come.title not in page and 'id="to-come"' not in page
    assert "None of your agreements is in force" in page


@pytest.mark.django_db
def test_an_agreed_but_unsigned_agreement_is_not_listed_as_to_come(
    client, acme_agreement, alice_manager, carol_customer, victor_viewer
):
    complete_for_proposal(acme_agreement)
    version = lifecycle.propose(acme_agreement, alice_manager)
    lifecycle.accept(acme_agreement, carol_customer, version.number)
    client.force_login(victor_viewer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert 'id="to-come"' not in page
