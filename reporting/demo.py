"""Demo data: Acme's public status page with one incident, for ``manage.py seed_demo``."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from reporting.models import Incident, StatusPage
from reporting.selectors.status import customer_services
from reporting.services.status import incident_create, status_page_create, status_page_rotate
from sla_portal.core.models import Organisation, Role, User

PAGE_NAME = "Acme Logistics"


def seed_demo_status_page() -> str | None:
    """Acme's page and an incident on it; returns the page's link (a new one on every run:
    only its hash is stored, so an earlier link cannot be shown again)."""
    acme = Organisation.objects.filter(slug="acme").first()
    manager = User.objects.filter(role=Role.SERVICE_MANAGER, is_active=True).order_by("pk").first()
    if acme is None or manager is None:
        return None
    services = list(customer_services(acme.pk))
    if not services:
        return None
    page = StatusPage.objects.filter(customer=acme, name=PAGE_NAME).first()
    if page is None:
        page, token = status_page_create(acme, PAGE_NAME, [], manager)
    else:
        token = status_page_rotate(page)
    if not Incident.objects.filter(customer=acme).exists():
        incident_create(
            acme,
            "Slow tracking pages",
            "degraded",
            services[:1],
            "Tracking pages take up to 10 seconds to load. We are investigating.",
            manager,
        )
    return f"{settings.SITE_URL}{reverse('status-page', args=[token])}"
