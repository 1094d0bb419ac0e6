"""How many password-reset emails one address, and one client, may cause in an hour.

Without a limit the reset page sends an email per request: anyone can flood an inbox, and a
mail server's reputation with it. Counts live in the cache (Redis in production: shared by
every worker), in fixed one-hour windows keyed by a hash of the address, so no address is
stored in clear.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def _count(key: str) -> int:
    """Add one to ``key``'s count in the current window and return the new count."""
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        return 1


def count_in_window(key: str) -> int:
    """Count one request under ``key`` in the current hour; the count so far (other hourly
    limits, such as the status page's subscriptions, share this counter)."""
    return _count(key)


def reset_email_allowed(email: str, client_ip: str) -> bool:
    """Count one reset request for ``email`` from ``client_ip``; whether its email may go."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    per_address = _count(f"password-reset:address:{digest}")
    per_ip = _count(f"password-reset:ip:{client_ip}")
    return (
        per_address <= settings.PASSWORD_RESET_MAX_PER_ADDRESS
        and per_ip <= settings.PASSWORD_RESET_MAX_PER_IP
    )
