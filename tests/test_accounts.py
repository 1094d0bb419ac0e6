import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sla_portal.core.models import Organisation, Role, User
from tests.support.actors import make_user

pytestmark = pytest.mark.django_db


def test_only_one_provider_organisation_can_exist(provider_org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Organisation.objects.create(name="Second", slug="second", kind="provider")


def test_customer_user_cannot_hold_a_provider_role(acme):
    with pytest.raises(ValidationError, match="need a customer role"):
        make_user("mallory", acme, Role.SERVICE_MANAGER)


def test_provider_user_cannot_hold_a_customer_role(provider_org):
    with pytest.raises(ValidationError, match="need a provider role"):
        make_user("pete", provider_org, Role.CUSTOMER_APPROVER)


def test_user_without_organisation_is_rejected_unless_superuser():
    user = User(username="loner", role=Role.CUSTOMER_VIEWER)
    with pytest.raises(ValidationError, match="organisation"):
        user.full_clean()


def test_provider_admin_gets_the_django_admin_and_nobody_else(ada_admin, alice_manager):
    assert ada_admin.is_staff and ada_admin.is_superuser
    assert not alice_manager.is_staff


def test_role_capabilities(alice_manager, carol_customer, victor_viewer, tom_team):
    assert alice_manager.can_draft_agreements and not tom_team.can_draft_agreements
    assert carol_customer.can_approve_agreements and not victor_viewer.can_approve_agreements
    assert alice_manager.is_provider and not carol_customer.is_provider


def test_django_admin_is_for_provider_admins_only(client, ada_admin, alice_manager):
    client.force_login(alice_manager)
    assert client.get("/admin/").status_code == 302  # to the admin login
    client.force_login(ada_admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/organisation/").status_code == 200
