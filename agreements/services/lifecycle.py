"""The lifecycle: negotiate → finalize → monitor → report → review.

Every function here locks the agreement row, asks the pure state machine
(``agreements.lifecycle``) whether the action is allowed for this person, writes facts
(versions, acceptances, signatures), records the transition in the audit trail and queues the
emails, all in one transaction. Comments are ``services.comments``, reviews
``services.reviews``; who acts and what they may do is ``services.parties``.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from agreements import lifecycle as machine
from agreements.facts import agreement_completeness
from agreements.lifecycle import TransitionError
from agreements.models import Acceptance, Agreement, AgreementVersion, Comment, Signature
from agreements.presentation import section_heading
from agreements.sections import SECTIONS_BY_KEY
from agreements.services import audit
from agreements.services.parties import (
    accepted_by_both,
    approvers_of,
    email_about,
    latest_version,
    locked_agreement,
    managers_of,
    roles_of,
    signatory_row,
    signatory_rows,
    signatory_users,
    version_to_sign,
)
from agreements.services.reviews import schedule_next_review
from agreements.snapshot import build_snapshot, content_hash
from sla_portal.core.models import User

__all__ = ["IncompleteProposal", "TransitionError"]


class IncompleteProposal(TransitionError):
    """The proposal is refused for what the agreement lacks (not for its state or the
    person): ``field`` names what the caller must supply, ``confirm_incomplete`` when the
    gaps may be confirmed, ``targets`` when the SLA could not be measured at all."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _gap_text(gaps) -> str:
    by_section: dict[str, list[str]] = {}
    for gap in gaps:
        by_section.setdefault(gap.section, []).append(gap.what)
    return "; ".join(f"{SECTIONS_BY_KEY[k].title}: {', '.join(v)}" for k, v in by_section.items())


# --- Negotiate -----------------------------------------------------------------------------


def _link_signatories(agreement: Agreement) -> None:
    """Each signatory must be a portal user of the right side, found by email; the link is
    checked again at every proposal, so an edited name, email or side never signs as someone
    else."""
    problems = []
    for signatory in agreement.signatories.select_related("user"):
        kind = "provider" if signatory.side == "provider" else "customer"
        linked = signatory.user
        if (
            linked is not None
            and linked.is_active
            and (linked.email or "").lower() == (signatory.email or "").lower()
            and (
                linked.organisation_id == agreement.customer_id
                if kind == "customer"
                else linked.is_provider
            )
        ):
            continue
        users = User.objects.filter(email__iexact=signatory.email, is_active=True)
        if kind == "customer":
            users = users.filter(organisation_id=agreement.customer_id)
        else:
            users = users.filter(organisation__kind="provider")
        user = users.first() if signatory.email else None
        if user is None:
            problems.append(
                f"signatory {signatory.name} needs the email of a portal user of the {kind}"
            )
            continue
        signatory.user = user
        signatory.save(update_fields=["user"])
    if problems:
        raise TransitionError("Before proposing: " + "; ".join(problems) + ".")


@transaction.atomic
def propose(
    agreement: Agreement, user: User, note: str = "", *, confirm_incomplete: bool = False
) -> AgreementVersion:
    """Send the working copy as the next version (a counter-proposal after the first).

    Refused while the SLA could not be measured or signed (no target, a target without its
    values, no signatory of a side). Sections that are not complete (``agreements.
    completeness``) are listed and refused unless ``confirm_incomplete`` says the manager
    sends it incomplete on purpose."""
    agreement = locked_agreement(agreement)
    target = machine.check("propose", agreement.status, roles_of(user, agreement))
    report = agreement_completeness(agreement)
    if report.blocking:
        raise IncompleteProposal(
            "This agreement cannot be proposed yet: it could not be measured or signed. "
            f"Add {_gap_text(report.blocking)}.",
            field="targets"
            if any(g.section != "description" for g in report.blocking)
            else "signatories",
        )
    if report.expected and not confirm_incomplete:
        raise IncompleteProposal(
            f"Before proposing, complete {_gap_text(report.expected)}. Or confirm that you "
            "propose it with these sections incomplete.",
            field="confirm_incomplete",
        )
    _link_signatories(agreement)
    snapshot = build_snapshot(agreement)
    digest = content_hash(snapshot)
    previous = latest_version(agreement)
    if previous is not None and previous.content_hash == digest and not previous.is_final:
        raise TransitionError(
            f"Nothing changed since version {previous.number}; edit the agreement first."
        )
    version = AgreementVersion.objects.create(
        agreement=agreement,
        number=(previous.number + 1) if previous else 1,
        snapshot=snapshot,
        content_hash=digest,
        proposed_by=user,
        proposed_at=timezone.now(),
        note=note,
    )
    before = agreement.status
    if target != before:
        agreement.status = target
        agreement.save(update_fields=["status", "updated_at"])
    audit.record(
        action="proposed",
        agreement=agreement,
        obj=version,
        before={"status": before},
        after={"status": agreement.status, "version": version.number},
        message=f"Version {version.number} proposed" + (f": {note}" if note else ""),
        actor=user,
    )
    email_about(
        "proposal_sent",
        f"version:{version.pk}",
        approvers_of(agreement),
        agreement,
        version=version,
        actor=user,
        note=note,
    )
    return version


@transaction.atomic
def request_changes(
    agreement: Agreement, user: User, body: str, section: str = "general"
) -> Comment:
    """The customer asks for changes to the latest version."""
    agreement = locked_agreement(agreement)
    machine.check("request_changes", agreement.status, roles_of(user, agreement))
    if not body.strip():
        raise TransitionError("Say which changes you need.")
    version = latest_version(agreement)
    if version is None or version.is_final:
        raise TransitionError("There is no proposal to answer yet.")
    if version.acceptances.filter(side="customer").exists():
        raise TransitionError(
            f"The customer has accepted version {version.number}; comment instead, or ask the "
            "provider for a new proposal."
        )
    comment = Comment.objects.create(
        agreement=agreement,
        version=version,
        section=section,
        author=user,
        body=body.strip(),
        requests_change=True,
    )
    audit.record(
        action="changes_requested",
        agreement=agreement,
        obj=version,
        message=(
            f"Changes requested on version {version.number}"
            + (f" ({section_heading(section)})" if section != "general" else "")
            + f": {body[:200]}"
        ),
        actor=user,
    )
    email_about(
        "changes_requested",
        f"comment:{comment.pk}",
        managers_of(agreement),
        agreement,
        version=version,
        comment=comment,
        # Sections by number and title, as the document names them, never by internal key.
        section_title=section_heading(section),
        actor=user,
    )
    return comment


@transaction.atomic
def accept(agreement: Agreement, user: User, version_number: int) -> Acceptance:
    """The customer accepts the provider's latest proposal (the provider accepted it by
    sending it), and the agreement is agreed: the version goes to the signatories."""
    agreement = locked_agreement(agreement)
    roles = roles_of(user, agreement)
    if machine.MANAGER in roles and machine.APPROVER not in roles:
        raise machine.NotYourStep(
            f"Version {version_number} is the provider's own proposal: sending it was the "
            "provider's acceptance. The customer accepts it or asks for changes."
        )
    machine.check("accept", agreement.status, roles)
    version = latest_version(agreement)
    if version is None or version.number != version_number:
        latest = f"version {version.number}" if version else "no proposal yet"
        raise TransitionError(
            f"Version {version_number} is not the one under negotiation ({latest})."
        )
    if version.is_final:
        raise TransitionError(
            f"Version {version.number} is already signed and in force; "
            "a new proposal is needed first."
        )
    if content_hash(build_snapshot(agreement)) != version.content_hash:
        # What is signed must be what is shown and monitored: no unsent edits on top.
        raise TransitionError(
            f"The agreement has changes not in version {version.number}: send them as a new "
            "proposal (or undo them) before accepting."
        )
    side = "customer"
    if version.acceptances.filter(side=side).exists():
        raise TransitionError(f"The {side} has already accepted version {version.number}.")
    acceptance = Acceptance.objects.create(
        version=version, side=side, user=user, accepted_at=timezone.now()
    )
    audit.record(
        action="accepted",
        agreement=agreement,
        obj=version,
        message=f"Version {version.number} accepted by the {side} ({user.display_name})",
        actor=user,
    )
    both = accepted_by_both(version)
    if both and agreement.status == machine.IN_NEGOTIATION:
        agreement.status = machine.AGREED
        agreement.save(update_fields=["status", "updated_at"])
        audit.record(
            action="transition",
            agreement=agreement,
            before={"status": machine.IN_NEGOTIATION},
            after={"status": machine.AGREED},
            message=f"Agreed on version {version.number}; awaiting signatures",
            actor=user,
        )
    recipients = (
        signatory_users(version)
        if both
        else (approvers_of(agreement) if side == "provider" else managers_of(agreement))
    )
    email_about(
        "accepted",
        f"acceptance:{acceptance.pk}",
        recipients,
        agreement,
        version=version,
        side=side,
        both=both,
        actor=user,
    )
    return acceptance


# --- Finalize ------------------------------------------------------------------------------


@transaction.atomic
def sign(agreement: Agreement, user: User, today: date | None = None) -> Signature:
    """A named signatory signs the accepted version; the last signature makes it final."""
    agreement = locked_agreement(agreement)
    version = version_to_sign(agreement)
    if version is None:
        raise TransitionError("There is no version accepted by both sides waiting to be signed.")
    machine.check("sign", agreement.status, roles_of(user, agreement, version))
    if version.signatures.filter(user=user).exists():
        raise TransitionError(f"You have already signed version {version.number}.")
    row = signatory_row(version, user)
    signature = Signature.objects.create(
        version=version,
        user=user,
        side=row["side"],
        name=row["name"],
        role=row["role"],
        organisation_name=row["organisation_name"],
        signed_at=timezone.now(),
        content_hash=version.content_hash,
    )
    audit.record(
        action="signed",
        agreement=agreement,
        obj=version,
        message=f"{row['name']} ({row['role']}, {row['organisation_name']}) signed version "
        f"{version.number}",
        actor=user,
    )
    everyone = signatory_users(version)
    email_about(
        "signed",
        f"signature:{signature.pk}",
        everyone,
        agreement,
        version=version,
        signature=signature,
        actor=user,
    )
    # Final only when every named signatory of the version has signed.
    named = {row["user_id"] for row in signatory_rows(version)}
    signed = {str(pk) for pk in version.signatures.values_list("user_id", flat=True)}
    if named and named <= signed:
        _finalize(agreement, version, user, today or timezone.localdate())
    return signature


def _finalize(agreement: Agreement, version: AgreementVersion, user: User, today: date) -> None:
    version.finalized_at = timezone.now()
    version.save(update_fields=["finalized_at"])
    audit.record(
        action="finalized",
        agreement=agreement,
        obj=version,
        message=f"Version {version.number} is final (SHA-256 {version.content_hash})",
        actor=user,
    )
    if agreement.status == machine.RENEGOTIATING:
        # The renegotiated version replaces the one in force at once.
        _put_in_force(agreement, version, user, machine.RENEGOTIATING, today)
    elif agreement.effective_from <= today:
        activate(agreement, today=today, actor=user)


def _put_in_force(agreement, version, actor, before: str, today: date) -> None:
    agreement.status = machine.ACTIVE
    agreement.in_force_version = version
    agreement.activated_at = timezone.now()
    agreement.save(update_fields=["status", "in_force_version", "activated_at", "updated_at"])
    audit.record(
        action="activated",
        agreement=agreement,
        obj=version,
        before={"status": before},
        after={"status": machine.ACTIVE, "version": version.number},
        message=f"Version {version.number} in force; monitoring from {today:%d %b %Y}",
        actor=actor,
    )
    schedule_next_review(agreement, after=today)
    recipients = [*signatory_users(version), *approvers_of(agreement), *managers_of(agreement)]
    email_about("activated", f"activation:{version.pk}", recipients, agreement, version=version)


@transaction.atomic
def activate(agreement: Agreement, today: date | None = None, actor: User | None = None) -> None:
    """The scheduler puts a signed agreement in force on its effective date (or the last
    signatory does, when that date has already come)."""
    today = today or timezone.localdate()
    agreement = locked_agreement(agreement)
    machine.check("activate", agreement.status, {machine.SYSTEM})
    version = agreement.versions.filter(finalized_at__isnull=False).order_by("-number").first()
    if version is None:
        raise TransitionError("No signed version to put in force.")
    if agreement.effective_from > today:
        raise TransitionError(f"The agreement takes effect on {agreement.effective_from}.")
    _put_in_force(agreement, version, actor, machine.AGREED, today)


def activate_due(today: date | None = None) -> int:
    """Activate every signed agreement whose effective date has come (idempotent)."""
    today = today or timezone.localdate()
    due = Agreement.objects.filter(
        status=machine.AGREED, effective_from__lte=today, versions__finalized_at__isnull=False
    ).distinct()
    count = 0
    for agreement in due:
        try:
            activate(agreement, today=today)
            count += 1
        except TransitionError:
            continue  # changed under us by another worker: nothing to do
    return count
