"""Webhook request signing with a source's secret (pure: no Django import).

A sender signs ``f"{timestamp}.{raw body}"`` with HMAC-SHA256 under the source's
``signing_secret`` and sends::

    X-SLA-Timestamp: 1772442000
    X-SLA-Signature: sha256=<hex digest>

The timestamp is part of the signed material so a captured request cannot be replayed later
with a fresh timestamp; requests outside :data:`TOLERANCE_SECONDS` of the receiver's clock are
refused, which bounds how long a captured request stays usable. Within that window the
receiver accepts each signature once (``monitoring.webhooks`` remembers them), so a captured
request cannot be replayed at all.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "bearer_matches",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-SLA-Signature"
TIMESTAMP_HEADER = "X-SLA-Timestamp"
PREFIX = "sha256="
# Five minutes either way: enough for clock drift and retries, short for a replay.
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-SLA-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    material = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> str | None:
    """Why the signed request is refused, or None when it is genuine and fresh.

    ``timestamp`` and ``signature`` are the raw header values (None when absent); ``now`` is
    the receiver's clock in unix seconds, passed in so the check is a plain function."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    # Digits only: int() would also accept "+12", " 12" or "1_2", which the sender's string
    # (the signed one) would then not match anyway; refusing them says why.
    if not timestamp.isascii() or not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    if abs(now - int(timestamp)) > tolerance:
        return (
            f"{TIMESTAMP_HEADER} is more than {tolerance // 60} minutes away from the server's "
            "clock; sign each request when sending it"
        )
    if not signature.startswith(PREFIX):
        return f"{SIGNATURE_HEADER} must be {PREFIX}<hex HMAC-SHA256>"
    # Constant-time comparison, so response timing does not leak how much of a guess matched.
    if not hmac.compare_digest(signature.encode(), sign(secret, timestamp, body).encode()):
        return "signature does not match"
    return None


def bearer_matches(secret: str, authorization: str | None) -> bool:
    """Whether an ``Authorization: Bearer <secret>`` header carries ``secret``.

    For senders that cannot compute an HMAC (Uptime Kuma, Alertmanager); compared in constant
    time like the signature."""
    if not authorization or not secret:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), secret.encode())
