"""Who is acting on an agreement: the lifecycle roles a person holds, the signatories of a
version, the people to tell, whose turn it is and the steps a person may take now; and the
small helpers every lifecycle write shares (lock the row, email the people)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from agreements import lifecycle as machine
from agreements.models import Agreement, AgreementVersion, AuditEvent
from agreements.models.agreement import LIFECYCLE_FIELDS
from sla_portal.core.models import Role, User
from sla_portal.core.notifications import notify


def roles_of(
    user: User | None, agreement: Agreement, version: AgreementVersion | None = None
) -> set[str]:
    """The lifecycle roles a user holds for this agreement (see agreements.lifecycle)."""
    if user is None:
        return {machine.SYSTEM}
    roles = set()
    if user.can_draft_agreements:
        roles.add(machine.MANAGER)
    if user.role == Role.CUSTOMER_APPROVER and user.organisation_id == agreement.customer_id:
        roles.add(machine.APPROVER)
    if version is not None and signatory_row(version, user) is not None:
        roles.add(machine.SIGNATORY)
    return roles


def signatory_rows(version: AgreementVersion) -> list[dict]:
    return version.snapshot["sections"]["description"]["related"].get("signatories", [])


def signatory_row(version: AgreementVersion, user: User) -> dict | None:
    """The signatory entry of the version naming this user, by account and email, if any."""
    email = (user.email or "").lower()
    for row in signatory_rows(version):
        if row.get("user_id") == str(user.pk) and (row.get("email") or "").lower() == email:
            return row
    return None


def locked_agreement(agreement: Agreement) -> Agreement:
    return Agreement.objects.select_for_update().get(pk=agreement.pk)


def _url(agreement: Agreement, name: str = "agreements:lifecycle") -> str:
    return settings.SITE_URL + reverse(name, args=[agreement.pk])


def managers_of(agreement: Agreement) -> list[User]:
    """The provider people who answer for the agreement: its drafter and the service managers."""
    users = User.objects.filter(
        Q(role=Role.SERVICE_MANAGER) | Q(pk=agreement.created_by_id), is_active=True
    ).filter(organisation__kind="provider")
    return list(users.distinct())


def approvers_of(agreement: Agreement) -> list[User]:
    return list(
        User.objects.filter(
            organisation_id=agreement.customer_id, role=Role.CUSTOMER_APPROVER, is_active=True
        )
    )


def signatory_users(version: AgreementVersion) -> list[User]:
    ids = [int(row["user_id"]) for row in signatory_rows(version) if row.get("user_id")]
    return list(User.objects.filter(pk__in=ids))


def email_about(
    kind: str, key: str, recipients: list[User], agreement: Agreement, **context: Any
) -> None:
    notify(
        kind=f"agreement.{kind}",
        key=key,
        recipients=recipients,
        template_prefix=f"emails/agreement/{kind}",
        context={"agreement": agreement, "url": _url(agreement), **context},
        agreement_id=agreement.pk,
    )


def latest_version(agreement: Agreement) -> AgreementVersion | None:
    return agreement.versions.order_by("-number").first()


def accepted_by_both(version: AgreementVersion) -> bool:
    """Both sides agree on the version: the provider by proposing it (every version is the
    provider's offer), the customer by accepting it."""
    return any(a.side == "customer" for a in version.acceptances.all())


def provider_turn(agreement: Agreement, latest: AgreementVersion | None) -> bool:
    """Whether the next move of the negotiation is the provider's: nothing proposed yet (or
    the last version is the signed one being renegotiated), the customer asked for changes to
    the latest version, or the working copy holds edits not yet sent."""
    if latest is None or latest.is_final:
        return True
    if agreement.comments.filter(version=latest, requests_change=True).exists():
        return True
    return has_unsent_edits(agreement, latest)


def has_unsent_edits(agreement: Agreement, latest: AgreementVersion) -> bool:
    """Whether the working copy was edited since ``latest`` was proposed, read from the audit
    trail in one query (building the snapshot to compare hashes costs dozens). The lifecycle's
    own writes (status, version in force) are not edits. An edit undone by hand still counts;
    proposing then says that nothing changed."""
    events = AuditEvent.objects.filter(
        agreement_id=agreement.pk,
        at__gt=latest.proposed_at,
        action__in=("created", "changed", "deleted"),
    ).values_list("object_type", "before", "after")
    for object_type, before, after in events:
        keys = set(before or {}) | set(after or {})
        if object_type != "agreement" or not keys <= LIFECYCLE_FIELDS:
            return True
    return False


def actions_for(
    user: User,
    agreement: Agreement,
    latest: AgreementVersion | None = None,
    to_sign: AgreementVersion | None = None,
) -> list[machine.Action]:
    """The steps this user may take now: what the state machine allows for the user's roles,
    less what the facts already rule out (a side that has accepted, a signatory who has
    signed, nothing new on the table), so a button or API hint never leads to a refusal it
    could foresee. Pass ``latest``/``to_sign`` when already loaded (with their acceptances and
    signatures prefetched)."""
    latest = latest if latest is not None else latest_version(agreement)
    to_sign = to_sign if to_sign is not None else version_to_sign(agreement)
    roles = roles_of(user, agreement, to_sign)
    side = "provider" if machine.MANAGER in roles else "customer"
    steps = []
    for step in machine.available(agreement.status, roles):
        if step.name == "propose" and not provider_turn(agreement, latest):
            continue  # the customer's turn: the proposal is with them
        if step.name == "sign" and (
            to_sign is None or any(s.user_id == user.pk for s in to_sign.signatures.all())
        ):
            continue
        if step.name in {"accept", "request_changes"} and (latest is None or latest.is_final):
            continue
        if step.name == "accept" and any(a.side == side for a in latest.acceptances.all()):
            continue
        steps.append(step)
    return steps


def version_to_sign(agreement: Agreement) -> AgreementVersion | None:
    """The latest version, once both sides accepted it and it is not yet final."""
    version = latest_version(agreement)
    if version is None or version.is_final or not accepted_by_both(version):
        return None
    return version
