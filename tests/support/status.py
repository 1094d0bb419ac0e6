"""Status page fixtures: Acme's page and its link, an in-force agreement for Globex."""

from __future__ import annotations

import pytest
from django.utils import timezone

from monitoring.models import Source
from reporting.models import Subscriber
from reporting.services.status import status_page_create
from sla_portal.core.models import Role
from tests.support.actors import make_user
from tests.support.agreements import propose_to_customer


@pytest.fixture
def acme_status_page(active_acme_agreement, alice_manager):
    """Acme's status page (every service in force: Customer Portal) and its link's token."""
    return status_page_create(active_acme_agreement.customer, "Acme Logistics", [], alice_manager)


@pytest.fixture
def active_globex_agreement(globex_agreement, alice_manager):
    """Globex's Silver agreement (Patient Records), signed by both sides."""
    from agreements.services import lifecycle

    gina = make_user("gina_globex", globex_agreement.customer, Role.CUSTOMER_APPROVER)
    globex_agreement.change_policy = "Normal changes go through the CAB."
    version = propose_to_customer(globex_agreement, alice_manager)
    lifecycle.accept(globex_agreement, gina, version.number)
    lifecycle.sign(globex_agreement, alice_manager)
    lifecycle.sign(globex_agreement, gina)
    globex_agreement.refresh_from_db()
    assert globex_agreement.status == "active"
    return globex_agreement


@pytest.fixture
def acme_monitor(acme) -> Source:
    return Source.objects.create(customer=acme, name="Acme uptime monitor", timezone="UTC")


def confirmed_subscriber(page, email: str) -> Subscriber:
    now = timezone.now()
    return Subscriber.objects.create(page=page, email=email, created_at=now, confirmed_at=now)


__all__ = [
    "acme_monitor",
    "acme_status_page",
    "active_globex_agreement",
    "confirmed_subscriber",
]
