"""The lifecycle pages: negotiate → finalize → monitor → report → review.

Every view finds the agreement through ``agreements_visible_to`` (another organisation's
agreement is a 404, never a 403: a customer must not learn that it exists), parses the
post with a form and leaves the rules to ``agreements.services``. A refused action
comes back as that service's sentence in an error message, never as a server error.
The comment threads, the version comparison, the history and the review page are
``views/comments.py``, ``views/versions.py``, ``views/history.py`` and ``views/reviews.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from agreements import lifecycle as machine
from agreements.forms.lifecycle import (
    SECTION_CHOICES,
    AcceptForm,
    CommentForm,
    EmptyForm,
    ProposeForm,
    RequestChangesForm,
    SupportingAgreementForm,
)
from agreements.history import action_label
from agreements.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    AuditEvent,
    Comment,
    Review,
    Signature,
)
from agreements.presentation import section_heading
from agreements.selectors import agreements_visible_to, comments_visible_to
from agreements.services import lifecycle as services
from agreements.services import parties as party_services
from agreements.services import reviews as review_services
from agreements.services.lifecycle import TransitionError
from agreements.status import status_of
from sla_portal.core.models import User
from sla_portal.core.permissions import require_drafter
from sla_portal.core.selectors import notifications_for_agreement

# Audit actions that tell the agreement's story (field edits are on the history page).
TIMELINE_ACTIONS = frozenset(
    {
        "proposed",
        "changes_requested",
        "accepted",
        "signed",
        "finalized",
        "activated",
        "expired",
        "transition",
        "commented",
        "replied",
        "comment_resolved",
        "comment_reopened",
    }
)
TIMELINE_LIMIT = 100
ACTION_ICONS = {
    "propose": "bi-send",
    "request_changes": "bi-chat-left-dots",
    "accept": "bi-hand-thumbs-up",
    "sign": "bi-pen",
    "start_review": "bi-search",
}
EVENT_ICONS = {
    "proposed": "bi-send",
    "changes_requested": "bi-chat-left-dots",
    "accepted": "bi-hand-thumbs-up",
    "signed": "bi-pen",
    "finalized": "bi-patch-check",
    "activated": "bi-play-circle",
    "expired": "bi-hourglass-bottom",
    "transition": "bi-arrow-right-circle",
    "commented": "bi-chat-left-text",
    "replied": "bi-reply",
    "comment_resolved": "bi-check2-square",
    "comment_reopened": "bi-arrow-counterclockwise",
    "review_started": "bi-search",
    "review_continue": "bi-check2-circle",
    "review_renegotiate": "bi-arrow-repeat",
    "review_terminate": "bi-x-circle",
}


# --- Shared --------------------------------------------------------------------------------


def visible_agreement(request: HttpRequest, pk: int) -> Agreement:
    return get_object_or_404(agreements_visible_to(request.user), pk=pk)


def see_other(url: str) -> HttpResponseRedirect:
    """After a POST, the browser fetches the page again with GET (303, not a re-post)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def lifecycle_url(agreement: Agreement) -> str:
    return reverse("agreements:lifecycle", args=[agreement.pk])


def form_problems(form: forms.BaseForm) -> str:
    """The form's errors as one sentence for a message."""
    parts = []
    for name, errors in form.errors.items():
        if name in form.fields:
            label = form.fields[name].label or name.replace("_", " ").capitalize()
            parts.append(f"{label}: {' '.join(errors)}")
        else:
            parts.append(" ".join(errors))
    return " ".join(parts)


# --- The lifecycle page --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    icon: str
    title: str
    who: str
    detail: str = ""
    is_email: bool = False


@dataclass
class Thread:
    """A remark and its replies; ``can_resolve`` says whether the reader may resolve or
    reopen it."""

    root: Comment
    replies: list[Comment] = field(default_factory=list)
    can_resolve: bool = False

    @property
    def comments(self) -> list[Comment]:
        return [self.root, *self.replies]


@dataclass
class CommentGroup:
    key: str
    title: str
    threads: list[Thread] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return sum(1 for thread in self.threads if not thread.root.is_resolved)


def _versions(agreement: Agreement) -> list[AgreementVersion]:
    # Snapshots are large and the list shows none of them: leave them in the database.
    return list(
        agreement.versions.defer("snapshot")
        .select_related("proposed_by")
        .prefetch_related(
            Prefetch("acceptances", queryset=Acceptance.objects.select_related("user")),
            Prefetch("signatures", queryset=Signature.objects.select_related("user")),
        )
        .order_by("number")
    )


def _available_actions(
    user: User,
    agreement: Agreement,
    latest: AgreementVersion | None,
    to_sign: AgreementVersion | None,
) -> list[machine.Action]:
    """The buttons to show; review decisions are made on the review page, with findings."""
    steps = party_services.actions_for(user, agreement, latest=latest, to_sign=to_sign)
    return [step for step in steps if step.name not in Review.Decision.values]


def _awaiting_signatures(version: AgreementVersion | None, snapshot: dict | None) -> list[dict]:
    """The signatories of the version being signed who have not signed yet."""
    if version is None or snapshot is None:
        return []
    signed = {s.user.username for s in version.signatures.all()}
    rows = snapshot["sections"]["description"]["related"].get("signatories", [])
    return [row for row in rows if row.get("username") not in signed]


def _comment_groups(agreement: Agreement, user: User) -> list[CommentGroup]:
    """The threads of each section (in the document's order), oldest first."""
    groups = {key: CommentGroup(key, title) for key, title in SECTION_CHOICES}
    # The version is shown by its number only; its snapshot stays in the database.
    comments = (
        comments_visible_to(user, agreement)
        .select_related("author", "version", "resolved_by")
        .defer("version__snapshot")
        .order_by("created_at", "id")
    )
    negotiator = bool(
        party_services.roles_of(user, agreement) & {machine.MANAGER, machine.APPROVER}
    )
    threads: dict[int, Thread] = {}
    for comment in comments:
        if comment.parent_id in threads:
            threads[comment.parent_id].replies.append(comment)
            continue
        thread = Thread(comment, can_resolve=negotiator or comment.author_id == user.pk)
        threads[comment.pk] = thread
        title = section_heading(comment.section)
        groups.setdefault(comment.section, CommentGroup(comment.section, title))
        groups[comment.section].threads.append(thread)
    return [group for group in groups.values() if group.threads]


def _event_title(event: AuditEvent) -> str:
    # A bare "transition" says nothing; the state it led to does.
    status = (event.after or {}).get("status")
    if event.action == "transition" and status in machine.STATE_LABELS:
        return f"Now {machine.STATE_LABELS[status].lower()}"
    return action_label(event.action)


def _timeline(agreement: Agreement, user: User) -> list[TimelineEntry]:
    """Lifecycle events from the audit trail, and the emails they sent, newest first."""
    events = agreement.audit_events.filter(
        Q(action__in=TIMELINE_ACTIONS) | Q(action__startswith="review_")
    ).order_by("-at", "-id")[:TIMELINE_LIMIT]
    entries = [
        TimelineEntry(
            at=event.at,
            icon=EVENT_ICONS.get(event.action, "bi-dot"),
            title=_event_title(event),
            who=event.actor_name or "System",
            detail=event.message,
        )
        for event in events
    ]
    emails = notifications_for_agreement(agreement.pk).defer("body_text", "body_html")
    if user.is_customer:
        # A customer sees the emails sent to its own people; who at the provider was told
        # what, and whether delivery failed there, is the provider's business.
        emails = emails.filter(user__organisation_id=user.organisation_id)
    entries += [
        TimelineEntry(
            at=email.sent_at or email.created_at,
            icon="bi-envelope",
            title=f"Email: {email.subject}",
            who=f"to {email.recipient}",
            detail=email.get_status_display(),
            is_email=True,
        )
        for email in emails[:TIMELINE_LIMIT]
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


@login_required
@require_safe
def lifecycle_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the agreement is in its life, what this person can do about it now, and the
    record so far: versions, signatures, comments, supporting agreements, reviews, events."""
    agreement = get_object_or_404(
        agreements_visible_to(request.user)
        .select_related("in_force_version")
        .defer("in_force_version__snapshot"),
        pk=pk,
    )
    user = request.user
    versions = _versions(agreement)
    latest = versions[-1] if versions else None
    # The version awaiting signatures is the latest, once agreed and not yet final (the
    # service's rule, ``version_to_sign``, read from the versions already loaded).
    to_sign = (
        latest
        if latest is not None and not latest.is_final and party_services.accepted_by_both(latest)
        else None
    )
    actions = _available_actions(user, agreement, latest, to_sign)
    status = status_of(agreement)
    can_manage = user.can_draft_agreements
    reviews = list(agreement.reviews.order_by("-due_date"))
    context = {
        "agreement": agreement,
        "status": status,
        "versions": list(reversed(versions)),
        "latest": latest,
        "to_sign": to_sign,
        "awaiting": _awaiting_signatures(to_sign, to_sign.snapshot if to_sign else None),
        "actions": [
            {"name": a.name, "label": a.label, "icon": ACTION_ICONS.get(a.name, "bi-play")}
            for a in actions
        ],
        # What is missing is worked out only for someone who may propose.
        "propose_form": ProposeForm(
            prefix="propose",
            agreement=agreement if any(a.name == "propose" for a in actions) else None,
        ),
        "changes_form": RequestChangesForm(prefix="changes"),
        "accept_form": AcceptForm(initial={"version": latest.number} if latest else None),
        "signatures": [s for v in versions for s in v.signatures.all()],
        "comment_groups": _comment_groups(agreement, user),
        "comment_form": CommentForm(prefix="comment"),
        "can_comment": agreement.status not in {machine.TERMINATED, machine.EXPIRED},
        "supporting": list(agreement.supporting_agreements.all()),
        "supporting_form": SupportingAgreementForm(prefix="supporting") if can_manage else None,
        "reviews": reviews,
        "open_review": next((r for r in reviews if r.status == Review.Status.IN_PROGRESS), None),
        "timeline": _timeline(agreement, user),
    }
    return render(request, "agreements/lifecycle/page.html", context)


# --- Actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    message: str
    url: str | None = None


@dataclass(frozen=True)
class Handler:
    form_class: type[forms.Form]
    prefix: str | None
    run: Callable[[Agreement, User, dict[str, Any]], Outcome]


def _propose(agreement: Agreement, user: User, data: dict[str, Any]) -> Outcome:
    version = services.propose(
        agreement,
        user,
        note=data["note"].strip(),
        confirm_incomplete=data.get("confirm_incomplete", False),
    )
    return Outcome(f"Version {version.number} sent to {agreement.customer.name}.")


def _request_changes(agreement: Agreement, user: User, data: dict[str, Any]) -> Outcome:
    comment = services.request_changes(agreement, user, data["body"], section=data["section"])
    return Outcome(f"Change request on version {comment.version.number} sent to the provider.")


def _accept(agreement: Agreement, user: User, data: dict[str, Any]) -> Outcome:
    acceptance = services.accept(agreement, user, data["version"])
    agreement.refresh_from_db(fields=["status"])
    if agreement.status == machine.AGREED:
        return Outcome(
            f"Version {acceptance.version.number} accepted by both sides: it now awaits "
            "the signatures."
        )
    return Outcome(f"Version {acceptance.version.number} accepted for the {acceptance.side}.")


def _sign(agreement: Agreement, user: User, data: dict[str, Any]) -> Outcome:
    signature = services.sign(agreement, user)
    agreement.refresh_from_db(fields=["status", "in_force_version"])
    message = f"You signed version {signature.version.number} (SHA-256 {signature.content_hash})."
    if agreement.in_force_version_id == signature.version_id:
        message += " It is final and in force."
    elif signature.version.is_final:
        message += f" It is final and takes effect on {agreement.effective_from:%d %b %Y}."
    return Outcome(message)


def _start_review(agreement: Agreement, user: User, data: dict[str, Any]) -> Outcome:
    review = review_services.review_start(agreement, user)
    return Outcome(
        "Review started: record the findings and the decision here.",
        reverse("agreements:review", args=[agreement.pk, review.pk]),
    )


HANDLERS: dict[str, Handler] = {
    "propose": Handler(ProposeForm, "propose", _propose),
    "request_changes": Handler(RequestChangesForm, "changes", _request_changes),
    "accept": Handler(AcceptForm, None, _accept),
    "sign": Handler(EmptyForm, None, _sign),
    "start_review": Handler(EmptyForm, None, _start_review),
}


@login_required
@require_POST
def lifecycle_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one lifecycle action for the signed-in user (never for a user named in the post)."""
    agreement = visible_agreement(request, pk)
    handler = HANDLERS.get(action)
    if handler is None:
        messages.error(request, f"'{action}' is not an action that can be taken here.")
        return see_other(lifecycle_url(agreement))
    form = handler.form_class(request.POST, prefix=handler.prefix)
    if not form.is_valid():
        messages.error(request, f"Nothing was done: {form_problems(form)}")
        return see_other(lifecycle_url(agreement))
    try:
        outcome = handler.run(agreement, request.user, form.cleaned_data)
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        return see_other(lifecycle_url(agreement))
    messages.success(request, outcome.message)
    return see_other(outcome.url or lifecycle_url(agreement))


@login_required
@require_POST
@require_drafter
def supporting_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Record an OLA or underpinning contract the agreement relies on (service managers)."""
    agreement = visible_agreement(request, pk)
    form = SupportingAgreementForm(request.POST, prefix="supporting")
    if not form.is_valid():
        messages.error(request, f"Nothing was added: {form_problems(form)}")
        return see_other(lifecycle_url(agreement))
    # One row and no rule beyond the form: the audit trail records it through its signal.
    supporting = form.save(commit=False)
    supporting.agreement = agreement
    supporting.save()
    messages.success(request, f"{supporting} added.")
    return see_other(lifecycle_url(agreement) + "#supporting")
