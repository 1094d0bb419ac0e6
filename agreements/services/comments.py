"""Comments on an agreement under negotiation: remarks per section, replies, resolving and
reopening a thread. Each write locks the agreement, checks the state machine for the person,
records it in the audit trail and queues the emails, in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from agreements import lifecycle as machine
from agreements.lifecycle import TransitionError
from agreements.models import Agreement, Comment
from agreements.presentation import section_heading
from agreements.sections import SECTIONS_BY_KEY
from agreements.services import audit
from agreements.services.parties import latest_version, roles_of
from sla_portal.core.models import User


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
