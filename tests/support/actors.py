"""Named actors: one provider, two customers, a user of every role."""

from __future__ import annotations

import pytest

from sla_portal.core.models import Organisation, Role, User

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, organisation: Organisation, role: str, **extra) -> User:
    first, _, last = extra.pop("name", username.replace("_", " ").title()).partition(" ")
    user = User(
        username=username,
        organisation=organisation,
        role=role,
        email=f"{username}@{organisation.slug}.example",
        first_name=first,
        last_name=last,
        **extra,
    )
    user.set_password(PASSWORD)
    user.full_clean()
    user.save()
    return user


@pytest.fixture
def provider_org(db) -> Organisation:
    return Organisation.objects.create(
        name="Northwind IT Services", slug="northwind", kind=Organisation.Kind.PROVIDER
    )


@pytest.fixture
def acme(db) -> Organisation:
    return Organisation.objects.create(name="Acme Logistics", slug="acme")


@pytest.fixture
def globex(db) -> Organisation:
    return Organisation.objects.create(name="Globex Health", slug="globex")


@pytest.fixture
def ada_admin(provider_org) -> User:
    return make_user("ada_admin", provider_org, Role.PROVIDER_ADMIN)


@pytest.fixture
def alice_manager(provider_org) -> User:
    return make_user("alice_manager", provider_org, Role.SERVICE_MANAGER)


@pytest.fixture
def tom_team(provider_org) -> User:
    return make_user("tom_team", provider_org, Role.PROVIDER_TEAM)


@pytest.fixture
def carol_customer(acme) -> User:
    """Customer approver at Acme."""
    return make_user("carol_customer", acme, Role.CUSTOMER_APPROVER)


@pytest.fixture
def victor_viewer(acme) -> User:
    return make_user("victor_viewer", acme, Role.CUSTOMER_VIEWER)


@pytest.fixture
def other_org_viewer(globex) -> User:
    """A customer of another organisation, who must never see Acme's data."""
    return make_user("other_org_viewer", globex, Role.CUSTOMER_VIEWER)


__all__ = [
    "PASSWORD",
    "acme",
    "ada_admin",
    "alice_manager",
    "carol_customer",
    "globex",
    "make_user",
    "other_org_viewer",
    "provider_org",
    "tom_team",
    "victor_viewer",
]
