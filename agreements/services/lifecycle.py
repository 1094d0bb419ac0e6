"""The lifecycle: negotiate → finalize → monitor → report → review.

Every function here locks the agreement row, asks the pure state machine
(``agreements.lifecycle``) whether the action is allowed for this person, writes facts
(versions, acceptances, signatures, comments, reviews), records the transition in the audit
trail and queues the emails, all in one transaction.
"""

from __future__ import annotations

import calendar as calendar_lib
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from agreements import lifecycle as machine
from agreements.facts import agreement_completeness
from agreements.lifecycle import TransitionError
from agreements.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    AuditEvent,
    Comment,
    Review,
    ReviewAction,
    Signature,
)
from agreements.models.agreement import LIFECYCLE_FIELDS
from agreements.presentation import section_heading
from agreements.sections import SECTIONS_BY_KEY
from agreements.services import audit
from agreements.snapshot import build_snapshot, content_hash
from sla_portal.core.models import Role, User
from sla_portal.core.notifications import notify

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


# --- Who is acting -------------------------------------------------------------------------


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


def _signatory_rows(version: AgreementVersion) -> list[dict]:
    return version.snapshot["sections"]["description"]["related"].get("signatories", [])


def signatory_row(version: AgreementVersion, user: User) -> dict | None:
    """The signatory entry of the version naming this user, by account and email, if any."""
    email = (user.email or "").lower()
    for row in _signatory_rows(version):
        if row.get("user_id") == str(user.pk) and (row.get("email") or "").lower() == email:
            return row
    return None


def _locked(agreement: Agreement) -> Agreement:
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
    ids = [int(row["user_id"]) for row in _signatory_rows(version) if row.get("user_id")]
    return list(User.objects.filter(pk__in=ids))


def _email(
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
    agreement = _locked(agreement)
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
    _email(
        "proposal_sent",
        f"version:{version.pk}",
        approvers_of(agreement),
        agreement,
        version=version,
        actor=user,
        note=note,
    )
    return version


def _open_for_comments(agreement: Agreement) -> None:
    if agreement.status in {machine.TERMINATED, machine.EXPIRED}:
        raise TransitionError("The agreement has ended; it takes no more comments.")


@transaction.atomic
def comment_add(
    agreement: Agreement,
    user: User,
    section: str = "general",
    body: str = "",
    parent: Comment | None = None,
) -> Comment:
    """A remark on one section of the version under discussion, by either side; with
    ``parent``, a reply in that remark's thread (same section; a reply to a reply joins the
    thread of the first remark). A resolved thread takes no replies until it is reopened."""
    if not body.strip():
        raise TransitionError("A comment needs some text.")
    _open_for_comments(agreement)
    if parent is not None:
        if parent.agreement_id != agreement.pk:
            raise TransitionError("That comment is not on this agreement.")
        # The thread's first remark, as it is now (resolved by someone else meanwhile?).
        parent = (
            Comment.objects.select_for_update()
            .select_related("author")
            .get(pk=parent.parent_id or parent.pk)
        )
        if parent.is_resolved:
            raise TransitionError("This thread is resolved: reopen it to reply.")
        section = parent.section
    elif section != "general" and section not in SECTIONS_BY_KEY:
        raise TransitionError(f"'{section}' is not a section of the agreement.")
    comment = Comment.objects.create(
        agreement=agreement,
        version=latest_version(agreement),
        section=section,
        author=user,
        body=body.strip(),
        parent=parent,
    )
    where = section_heading(section)
    audit.record(
        action="replied" if parent else "commented",
        agreement=agreement,
        obj=comment,
        message=(
            f"Reply to {parent.author.display_name} on {where}: {body.strip()}"
            if parent
            else f"On {where}: {body.strip()}"
        )[:300],
        actor=user,
    )
    return comment


def may_resolve(user: User, agreement: Agreement, thread: Comment) -> bool:
    """Who closes a thread: its author, or someone who negotiates for either side (a service
    manager of the provider, an approver of the customer)."""
    roles = roles_of(user, agreement)
    return thread.author_id == user.pk or bool(roles & {machine.MANAGER, machine.APPROVER})


@transaction.atomic
def comment_resolve(agreement: Agreement, user: User, thread: Comment) -> Comment:
    """Mark a thread resolved (on its first remark): it folds away on the page."""
    return _set_resolution(agreement, user, thread, resolve=True)


@transaction.atomic
def comment_reopen(agreement: Agreement, user: User, thread: Comment) -> Comment:
    """Open a resolved thread again, for more replies."""
    return _set_resolution(agreement, user, thread, resolve=False)


def _set_resolution(agreement: Agreement, user: User, thread: Comment, resolve: bool) -> Comment:
    if thread.agreement_id != agreement.pk:
        raise TransitionError("That comment is not on this agreement.")
    _open_for_comments(agreement)
    thread = Comment.objects.select_for_update().get(pk=(thread.parent_id or thread.pk))
    if not may_resolve(user, agreement, thread):
        raise machine.NotYourStep(
            "Only the thread's author, a service manager or a customer approver may "
            + ("resolve" if resolve else "reopen")
            + " it."
        )
    if thread.is_resolved == resolve:
        raise TransitionError(f"This thread is already {'resolved' if resolve else 'open'}.")
    thread.resolved_at = timezone.now() if resolve else None
    thread.resolved_by = user if resolve else None
    thread.save(update_fields=["resolved_at", "resolved_by"])
    where = section_heading(thread.section)
    audit.record(
        action="comment_resolved" if resolve else "comment_reopened",
        agreement=agreement,
        obj=thread,
        message=(
            f"Thread on {where} by {thread.author.display_name} "
            + ("resolved" if resolve else "reopened")
        ),
        actor=user,
    )
    return thread


@transaction.atomic
def request_changes(
    agreement: Agreement, user: User, body: str, section: str = "general"
) -> Comment:
    """The customer asks for changes to the latest version."""
    agreement = _locked(agreement)
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
    _email(
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
    agreement = _locked(agreement)
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
    _email(
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


def version_to_sign(agreement: Agreement) -> AgreementVersion | None:
    """The latest version, once both sides accepted it and it is not yet final."""
    version = latest_version(agreement)
    if version is None or version.is_final or not accepted_by_both(version):
        return None
    return version


@transaction.atomic
def sign(agreement: Agreement, user: User, today: date | None = None) -> Signature:
    """A named signatory signs the accepted version; the last signature makes it final."""
    agreement = _locked(agreement)
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
    _email(
        "signed",
        f"signature:{signature.pk}",
        everyone,
        agreement,
        version=version,
        signature=signature,
        actor=user,
    )
    # Final only when every named signatory of the version has signed.
    named = {row["user_id"] for row in _signatory_rows(version)}
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
    _email("activated", f"activation:{version.pk}", recipients, agreement, version=version)


@transaction.atomic
def activate(agreement: Agreement, today: date | None = None, actor: User | None = None) -> None:
    """The scheduler puts a signed agreement in force on its effective date (or the last
    signatory does, when that date has already come)."""
    today = today or timezone.localdate()
    agreement = _locked(agreement)
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


# --- Review --------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar_lib.monthrange(year, month)[1]))


def schedule_next_review(agreement: Agreement, after: date) -> Review:
    """The next review, one review interval after ``after``."""
    due = add_months(after, agreement.review_interval_months)
    review, _ = Review.objects.get_or_create(
        agreement=agreement,
        due_date=due,
        defaults={"period_start": after, "period_end": due},
    )
    return review


@transaction.atomic
def review_start(agreement: Agreement, user: User | None, today: date | None = None) -> Review:
    """Open the due (or next) review; the agreement stays in force while under review."""
    today = today or timezone.localdate()
    agreement = _locked(agreement)
    machine.check("start_review", agreement.status, roles_of(user, agreement))
    review = agreement.reviews.filter(status=Review.Status.SCHEDULED).order_by("due_date").first()
    if review is None:
        review = schedule_next_review(agreement, after=today)
    review.status = Review.Status.IN_PROGRESS
    review.period_end = max(review.period_start, min(review.period_end, today))
    review.save(update_fields=["status", "period_end"])
    agreement.status = machine.UNDER_REVIEW
    agreement.save(update_fields=["status", "updated_at"])
    audit.record(
        action="review_started",
        agreement=agreement,
        obj=review,
        before={"status": machine.ACTIVE},
        after={"status": machine.UNDER_REVIEW},
        message=f"Review of {review.period_start:%d %b %Y} – {review.period_end:%d %b %Y} started",
        actor=user,
    )
    return review


@transaction.atomic
def review_decide(
    agreement: Agreement,
    user: User,
    decision: str,
    *,
    findings: str = "",
    root_causes: str = "",
    lessons: str = "",
    actions: list[dict] | None = None,
    today: date | None = None,
) -> Review:
    """Record the review and its decision: continue, renegotiate (a new negotiation while the
    current version stays in force) or terminate."""
    today = today or timezone.localdate()
    agreement = _locked(agreement)
    if decision not in Review.Decision.values:
        raise TransitionError(f"'{decision}' is not a review decision.")
    target = machine.check(decision, agreement.status, roles_of(user, agreement))
    review = (
        agreement.reviews.filter(status=Review.Status.IN_PROGRESS).order_by("-due_date").first()
    )
    if review is None:
        raise TransitionError("No review is in progress.")
    review.findings, review.root_causes, review.lessons = findings, root_causes, lessons
    review.decision = decision
    review.status = Review.Status.DECIDED
    review.decided_by = user
    review.decided_at = timezone.now()
    review.save()
    for action in actions or []:
        ReviewAction.objects.create(review=review, **action)
    agreement.status = target
    agreement.save(update_fields=["status", "updated_at"])
    audit.record(
        action=f"review_{decision}",
        agreement=agreement,
        obj=review,
        before={"status": machine.UNDER_REVIEW},
        after={"status": target},
        message=f"Review decided: {Review.Decision(decision).label.lower()}",
        actor=user,
    )
    if decision == Review.Decision.CONTINUE:
        # Never before the due date of this review: that date is taken by the decided one.
        schedule_next_review(agreement, after=max(today, review.due_date))
    return review


def send_review_reminders(today: date | None = None) -> int:
    """Email the service managers and customer approvers ahead of each scheduled review.

    Exactly once per review and recipient: the notification rows are unique."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.REVIEW_REMINDER_DAYS)
    reviews = Review.objects.filter(
        status=Review.Status.SCHEDULED,
        due_date__lte=horizon,
        agreement__status__in=sorted(machine.IN_FORCE_STATES),
    ).select_related("agreement")
    count = 0
    for review in reviews:
        agreement = review.agreement
        with transaction.atomic():
            _email(
                "review_due",
                f"review:{review.pk}",
                [*managers_of(agreement), *approvers_of(agreement)],
                agreement,
                review=review,
            )
        count += 1
    return count


@transaction.atomic
def expire_ended(today: date | None = None) -> int:
    """Agreements past their end date expire."""
    today = today or timezone.localdate()
    ended = Agreement.objects.select_for_update().filter(
        status__in=sorted(machine.IN_FORCE_STATES), effective_to__lt=today
    )
    count = 0
    for agreement in ended:
        before = agreement.status
        machine.check("expire", before, {machine.SYSTEM})
        agreement.status = machine.EXPIRED
        agreement.save(update_fields=["status", "updated_at"])
        audit.record(
            action="expired",
            agreement=agreement,
            before={"status": before},
            after={"status": machine.EXPIRED},
            message=f"Ended on {agreement.effective_to}",
        )
        count += 1
    return count


def start_due_reviews(today: date | None = None) -> int:
    """The scheduler opens every review whose due date has come (idempotent)."""
    today = today or timezone.localdate()
    due = Agreement.objects.filter(
        status=machine.ACTIVE,
        reviews__status=Review.Status.SCHEDULED,
        reviews__due_date__lte=today,
    ).distinct()
    count = 0
    for agreement in due:
        try:
            review_start(agreement, None, today=today)
            count += 1
        except TransitionError:
            continue
    return count
