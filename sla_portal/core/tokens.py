"""Personal API tokens: created and revoked by their user (or an admin), stored hashed.

The header form is the one DRF made familiar: ``Authorization: Token <key>``. A key is
``sla_`` and 43 random URL-safe characters; only its SHA-256 is stored, so a database dump
gives no usable key. SHA-256 rather than a slow password hash: the key is 256 random bits, so
there is nothing to brute-force, and every API request looks its token up by that digest.

Scopes narrow a token to part of what its user may do:

* ``read``: safe methods (GET, HEAD, OPTIONS);
* ``ingest``: the bulk ingest endpoints (``…/bulk/``) that push monitoring data;
* ``write``: every other change (proposals, approvals, comments, sources, ...).

Every request is then checked against the user's role as for a session, so a token never
does more than its user. Keys made by DRF's former ``authtoken`` app were migrated by hashing
them; they keep working with every scope.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS

from sla_portal.core.models import AccountEvent, ApiToken, User

__all__ = [
    "ApiTokenAuthentication",
    "allowed_scopes",
    "create_token_for_tests",
    "hash_key",
    "required_scope",
    "token_create",
    "token_revoke",
    "tokens_visible_to",
]

KEY_PREFIX = "sla_"
# The visible start of a key kept with the token: "sla_" and four random characters.
PREFIX_CHARS = 8
# last_used_at is written at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_BULK_PATH = re.compile(r"/bulk/?$")


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def allowed_scopes(user: User) -> list[str]:
    """The scopes ``user`` may give a token: ingest only to those who manage sources."""
    scopes = [ApiToken.Scope.READ, ApiToken.Scope.WRITE]
    if user.can_draft_agreements:
        scopes.append(ApiToken.Scope.INGEST)
    return [str(scope) for scope in scopes]


def required_scope(method: str, path: str) -> str:
    """The scope a request with ``method`` on ``path`` needs."""
    if method in SAFE_METHODS:
        return ApiToken.Scope.READ.value
    if _BULK_PATH.search(path):
        return ApiToken.Scope.INGEST.value
    return ApiToken.Scope.WRITE.value


def token_create(user: User, *, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its key, to be shown once.

    Raises ValueError naming a scope the user may not give (or none given)."""
    wanted = list(dict.fromkeys(scopes))
    if not wanted:
        raise ValueError("Choose at least one scope.")
    refused = [scope for scope in wanted if scope not in allowed_scopes(user)]
    if refused:
        raise ValueError(f"Your role cannot give a token the scope {refused[0]!r}.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip() or "API token",
        prefix=key[:PREFIX_CHARS],
        key_hash=hash_key(key),
        scopes=" ".join(wanted),
    )
    _record(user, user, AccountEvent.Action.TOKEN_CREATED, token)
    return token, key


def token_revoke(token: ApiToken, *, by: User) -> ApiToken:
    """Revoke ``token`` from now on (kept, so its history still lists it)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
        _record(by, token.user, AccountEvent.Action.TOKEN_REVOKED, token)
    return token


def _record(actor: User, subject: User, action: str, token: ApiToken) -> None:
    if subject.organisation_id is None:
        return  # a superuser without an organisation: the admin log is its trail
    verb = "Created" if action == AccountEvent.Action.TOKEN_CREATED else "Revoked"
    AccountEvent.objects.create(
        organisation_id=subject.organisation_id,
        actor=actor,
        actor_name=actor.display_name,
        subject=subject,
        subject_name=subject.display_name,
        action=action,
        message=f"{verb} the API token “{token.name}” ({token.prefix}…).",
    )


def tokens_visible_to(actor: User, owner: User):
    """``owner``'s tokens if ``actor`` may see them (their own, or a provider admin's view);
    None otherwise."""
    if actor.pk == owner.pk or actor.is_superuser:
        return ApiToken.objects.filter(user=owner)
    return None


def create_token_for_tests(user: User, scopes: str = "read write ingest") -> str:
    """A key with every scope (by default) for ``user``, without the audit entry: for tests
    and benchmarks that need an API client."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, name="test", prefix=key[:PREFIX_CHARS], key_hash=hash_key(key), scopes=scopes
    )
    return key


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>`` against hashed, revocable, scoped tokens."""

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: expected 'Token <key>' without spaces in the key."
            )
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header.") from None
        token = (
            ApiToken.objects.select_related("user", "user__organisation")
            .filter(key_hash=hash_key(key))
            .first()
        )
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        needed = required_scope(request.method, request.path)
        if needed not in token.scope_list:
            raise exceptions.PermissionDenied(f"This token lacks the {needed!r} scope.")
        _touch(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so concurrent requests of one token write once per minute between them.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes ``Authorization: Token <key>`` in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.keyword
        )
