"""People management: customer organisations, invitations, roles, deactivation.

Only provider admins manage people (``can_manage_people``). Customer approvers do not, by
least privilege: an approver accepts and signs binding agreements for their organisation, so
who holds that role is decided by the provider, who answers for the portal's accounts. A
customer asks the provider admin to invite a colleague.

Every change is an ``AccountEvent`` row (core sits below the agreements app and its audit
trail) and a line in the ``sla_portal.accounts`` log.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from sla_portal.core.models import (
    CUSTOMER_ROLES,
    PROVIDER_ROLES,
    AccountEvent,
    Organisation,
    Role,
    User,
)
from sla_portal.core.notifications import notify

logger = logging.getLogger("sla_portal.accounts")

# Paths under /organisations/ that a slug must not take.
RESERVED_SLUGS = frozenset({"new"})


def can_manage_people(actor: User | None) -> bool:
    """Provider admins invite people, change roles and deactivate accounts."""
    return bool(
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and actor.role == Role.PROVIDER_ADMIN
        and actor.is_provider
    )


def roles_for(organisation: Organisation) -> list[tuple[str, str]]:
    """The roles a member of ``organisation`` may hold, as form choices."""
    allowed = PROVIDER_ROLES if organisation.is_provider else CUSTOMER_ROLES
    return [(value, label) for value, label in Role.choices if value in allowed]


def _require_manager(actor: User) -> None:
    if not can_manage_people(actor):
        raise PermissionDenied("Only the provider's admins manage organisations and people.")


def _record(
    actor: User,
    organisation: Organisation,
    action: str,
    message: str,
    subject: User | None = None,
    before: str = "",
    after: str = "",
) -> AccountEvent:
    logger.info(
        "%s by %s (user %s) in %s: %s", action, actor.username, actor.pk, organisation.slug, message
    )
    return AccountEvent.objects.create(
        organisation=organisation,
        actor=actor,
        actor_name=actor.display_name[:150],
        subject=subject,
        subject_name=(subject.display_name if subject else "")[:150],
        action=action,
        before=before,
        after=after,
        message=message[:300],
    )


# --- Organisations ------------------------------------------------------------------------------


@transaction.atomic
def organisation_create(*, actor: User, name: str, contact_email: str = "") -> Organisation:
    """Create a customer organisation (the portal has exactly one provider)."""
    _require_manager(actor)
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the organisation a name."})
    if Organisation.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"An organisation called {name} already exists."})
    base = slugify(name)[:70] or "organisation"
    slug, n = base, 1
    while slug in RESERVED_SLUGS or Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organisation = Organisation.objects.create(
        name=name, slug=slug, kind=Organisation.Kind.CUSTOMER, contact_email=contact_email
    )
    _record(
        actor,
        organisation,
        AccountEvent.Action.ORGANISATION_CREATED,
        f"{actor.display_name} created the customer organisation {name}.",
    )
    return organisation


# --- Invitations --------------------------------------------------------------------------------


def invitation_url(user: User) -> str:
    """The absolute set-password link of an invitation (Django's password-reset token: it
    stops working once the password is set, and after ``PASSWORD_RESET_TIMEOUT``)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("core:invitation", args=[uid, token])


def _send_invitation(user: User, actor: User, key: str) -> None:
    notify(
        kind="account.invitation",
        key=key,
        recipients=[user],
        template_prefix="emails/invitation",
        context={
            "invitee": user,
            "organisation": user.organisation,
            "inviter": actor,
            "role": user.get_role_display(),
            "url": invitation_url(user),
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


@transaction.atomic
def user_invite(
    *,
    actor: User,
    organisation: Organisation,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    job_title: str = "",
) -> User:
    """Create an account without a usable password and email its set-password link.

    The username is the email address, which the invitation names, so the person knows how
    to log in once the password is set."""
    _require_manager(actor)
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": "Give the person's email address."})
    if role not in dict(roles_for(organisation)):
        kind = "the provider" if organisation.is_provider else "a customer"
        raise ValidationError({"role": f"That role is not one of {kind}'s roles."})
    if (
        User.objects.filter(email__iexact=email).exists()
        or User.objects.filter(username__iexact=email).exists()
    ):
        raise ValidationError({"email": f"{email} already has an account."})
    user = User(
        username=email,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        job_title=job_title.strip(),
        organisation=organisation,
        role=role,
        is_active=True,
    )
    user.set_unusable_password()
    user.full_clean()
    user.save()
    _record(
        actor,
        organisation,
        AccountEvent.Action.INVITED,
        f"{actor.display_name} invited {user.display_name} <{email}> as "
        f"{user.get_role_display().lower()}.",
        subject=user,
        after=role,
    )
    _send_invitation(user, actor, key=f"user:{user.pk}")
    return user


@transaction.atomic
def invitation_resend(*, actor: User, user: User) -> None:
    """Send a fresh set-password link to someone who has not set a password yet."""
    _require_manager(actor)
    if user.has_usable_password() or user.last_login is not None:
        raise ValidationError(f"{user.display_name} has already set a password.")
    if not user.is_active:
        raise ValidationError(f"{user.display_name} is deactivated; reactivate them first.")
    _record(
        actor,
        user.organisation,
        AccountEvent.Action.INVITATION_RESENT,
        f"{actor.display_name} sent {user.display_name} a new invitation link.",
        subject=user,
    )
    _send_invitation(user, actor, key=f"user:{user.pk}:{timezone.now():%Y%m%d%H%M%S%f}")


def invitation_accepted(user: User) -> None:
    """Record that an invited person chose their password (called by the set-password page)."""
    AccountEvent.objects.create(
        organisation=user.organisation,
        actor=user,
        actor_name=user.display_name[:150],
        subject=user,
        subject_name=user.display_name[:150],
        action=AccountEvent.Action.PASSWORD_SET,
        message=f"{user.display_name} set their password from the invitation.",
    )
    logger.info("password set from invitation by %s (user %s)", user.username, user.pk)


# --- Roles and deactivation -----------------------------------------------------------------------


def _other_active_admins(user: User) -> bool:
    return (
        User.objects.filter(role=Role.PROVIDER_ADMIN, is_active=True, organisation__kind="provider")
        .exclude(pk=user.pk)
        .exists()
    )


@transaction.atomic
def user_role_change(*, actor: User, user: User, role: str) -> User:
    """Give ``user`` another role of their organisation's kind."""
    _require_manager(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if role not in dict(roles_for(user.organisation)):
        raise ValidationError({"role": "That role is not available in this organisation."})
    before = user.role
    if role == before:
        return user
    if before == Role.PROVIDER_ADMIN and not _other_active_admins(user):
        raise ValidationError(
            {
                "role": "The portal needs at least one active provider admin: make someone "
                "else admin first."
            }
        )
    user.role = role
    if before == Role.PROVIDER_ADMIN:
        # User.save() grants the admin site to admins; taking the role away takes it back.
        user.is_superuser = False
        user.is_staff = False
    user.save()
    _record(
        actor,
        user.organisation,
        AccountEvent.Action.ROLE_CHANGED,
        f"{actor.display_name} changed {user.display_name}'s role from "
        f"{Role(before).label.lower()} to {user.get_role_display().lower()}.",
        subject=user,
        before=before,
        after=role,
    )
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """Stop ``user`` from logging in (their sessions end too: inactive users are not
    authenticated). Their history stays, attributed to them."""
    _require_manager(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    if not user.is_active:
        return user
    if user.role == Role.PROVIDER_ADMIN and not _other_active_admins(user):
        raise ValidationError("The last active provider admin cannot be deactivated.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    _record(
        actor,
        user.organisation,
        AccountEvent.Action.DEACTIVATED,
        f"{actor.display_name} deactivated {user.display_name}.",
        subject=user,
        before="active",
        after="inactive",
    )
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    """Let a deactivated user log in again with their old password."""
    _require_manager(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    _record(
        actor,
        user.organisation,
        AccountEvent.Action.REACTIVATED,
        f"{actor.display_name} reactivated {user.display_name}.",
        subject=user,
        before="inactive",
        after="active",
    )
    return user
