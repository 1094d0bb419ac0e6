"""Demo organisations and users, for a newcomer to click through every role."""

from __future__ import annotations

from django.db import transaction

from sla_portal.core.models import Organisation, Role, User

DEMO_PASSWORD = "demo-pass-2026"

DEMO_ORGANISATIONS = [
    (
        "Northwind IT Services",
        "northwind",
        Organisation.Kind.PROVIDER,
        "service-desk@northwind.example",
    ),
    ("Acme Logistics", "acme", Organisation.Kind.CUSTOMER, "it@acme.example"),
    ("Globex Health", "globex", Organisation.Kind.CUSTOMER, "it@globex.example"),
]

# username, organisation slug, role, first name, last name, job title
DEMO_USERS = [
    ("admin", "northwind", Role.PROVIDER_ADMIN, "Ada", "Admin", "Portal administrator"),
    ("manager", "northwind", Role.SERVICE_MANAGER, "Alice", "Manager", "Service level manager"),
    ("team", "northwind", Role.PROVIDER_TEAM, "Tom", "Team", "Service desk engineer"),
    ("acme-approver", "acme", Role.CUSTOMER_APPROVER, "Carol", "Customer", "Head of IT"),
    ("acme-viewer", "acme", Role.CUSTOMER_VIEWER, "Victor", "Viewer", "IT coordinator"),
    ("globex-approver", "globex", Role.CUSTOMER_APPROVER, "Gina", "Globex", "CIO"),
    ("globex-viewer", "globex", Role.CUSTOMER_VIEWER, "Oscar", "Other", "Operations analyst"),
]


@transaction.atomic
def seed_demo_accounts() -> dict[str, Organisation]:
    """Create (or bring back to their demo state) the demo organisations and users."""
    organisations = {}
    for name, slug, kind, email in DEMO_ORGANISATIONS:
        org, _ = Organisation.objects.update_or_create(
            slug=slug, defaults={"name": name, "kind": kind, "contact_email": email}
        )
        organisations[slug] = org
    for username, org_slug, role, first, last, title in DEMO_USERS:
        domain = {"northwind": "northwind.example"}.get(org_slug, f"{org_slug}.example")
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "organisation": organisations[org_slug],
                "role": role,
                "first_name": first,
                "last_name": last,
                "job_title": title,
                "email": f"{username}@{domain}",
                "is_active": True,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
    return organisations
