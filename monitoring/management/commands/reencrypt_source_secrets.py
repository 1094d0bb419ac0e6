"""Encrypt every source's signing secrets again under the first of ``SLA_SECRET_KEYS``.

Run after putting a new key first, before removing the old one: afterwards nothing is
encrypted under the old key any more. Senders keep their secrets (only the stored form
changes)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from monitoring.models import Source
from sla_portal.core import crypto


class Command(BaseCommand):
    help = "Re-encrypt source signing secrets under the current (first) key."

    def handle(self, *args, **options) -> None:
        count = 0
        with transaction.atomic():
            for source in Source.objects.select_for_update().only(
                "pk", "signing_secret_encrypted", "previous_secret_encrypted"
            ):
                source.signing_secret_encrypted = crypto.reencrypt(source.signing_secret_encrypted)
                if source.previous_secret_encrypted:
                    source.previous_secret_encrypted = crypto.reencrypt(
                        source.previous_secret_encrypted
                    )
                source.save(update_fields=["signing_secret_encrypted", "previous_secret_encrypted"])
                count += 1
        self.stdout.write(f"Re-encrypted the secrets of {count} source(s).")
