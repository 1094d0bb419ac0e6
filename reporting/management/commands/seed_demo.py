from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agreements.demo import seed_demo_agreements, seed_demo_proposal
from monitoring.demo import seed_demo_monitoring
from reporting.demo import seed_demo_status_page
from sla_portal.core.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo_accounts


class Command(BaseCommand):
    help = "Load demo organisations, users of every role and sample agreements (demo mode only)."

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_MODE:
            raise CommandError(
                "Demo data publishes its passwords: run with DEBUG=1 or SLA_DEMO=1 only."
            )
        organisations = seed_demo_accounts()
        seed_demo_agreements(organisations)
        seed_demo_monitoring()
        seed_demo_proposal()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded. Logins (password {DEMO_PASSWORD}):")
        )
        for username, org, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<16} {role.label} ({org})")
        link = seed_demo_status_page()
        if link:
            self.stdout.write(f"Acme's public status page (no login): {link}")
