"""Encryption at rest for secrets the portal must read back (webhook signing secrets).

An HMAC needs the raw secret, so it cannot be stored hashed like a password or an API token;
it is encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from the ``cryptography`` package)
instead. The keys live in the environment, not in the database, so a database dump alone does
not reveal a secret.

Keys: ``settings.SLA_SECRET_KEYS`` (the ``SLA_SECRET_KEYS`` variable, comma-separated Fernet
keys, newest first). New values are encrypted with the first; every key decrypts, so a key is
rotated by putting a new one first and re-encrypting (``manage.py reencrypt_source_secrets``)
before dropping the old. Without that setting the key is derived from ``SECRET_KEY`` (and each of
``SECRET_KEY_FALLBACKS`` decrypts), so an existing installation keeps working without new
configuration; a separate key is better, because it can then be rotated on its own schedule.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet_keys"]

# Domain separation: the derived key is not the SECRET_KEY's hash used anywhere else.
_DERIVATION_LABEL = b"sla-portal secret encryption v1:"


def _derived(secret_key: str) -> bytes:
    digest = hashlib.sha256(_DERIVATION_LABEL + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def fernet_keys() -> list[bytes]:
    """The keys in use, the one that encrypts first."""
    configured = [key.encode() for key in getattr(settings, "SLA_SECRET_KEYS", []) if key]
    if configured:
        return configured
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
    return [_derived(key) for key in (settings.SECRET_KEY, *fallbacks)]


def _box() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in fernet_keys()])


def encrypt(plain: str) -> str:
    """``plain`` encrypted under the current key, as ASCII text for a text column."""
    return _box().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The text ``token`` was made from; raises :class:`InvalidToken` under unknown keys."""
    return _box().decrypt(token.encode("ascii")).decode()


def reencrypt(token: str) -> str:
    """``token`` encrypted again under the current (first) key."""
    return _box().rotate(token.encode("ascii")).decode("ascii")
