"""Fixtures for monitoring data: sources of the Acme customer."""

import pytest

from monitoring.models import Source


@pytest.fixture
def acme_desk(acme) -> Source:
    """A service-desk feed whose naive timestamps are Berlin time."""
    return Source.objects.create(customer=acme, name="Acme desk", timezone="Europe/Berlin")


@pytest.fixture
def zoneless_desk(acme) -> Source:
    """A feed that sets no time zone: naive timestamps are refused."""
    return Source.objects.create(customer=acme, name="Acme zoneless desk")


__all__ = ["acme_desk", "zoneless_desk"]
