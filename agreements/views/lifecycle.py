"""The lifecycle pages: negotiate → finalize → monitor → report → review.

Every view finds the agreement through ``agreements_visible_to`` (another organisation's
agreement is a 404, never a 403: a customer must not learn that it exists), parses the
post with a form and leaves the rules to ``agreements.services.lifecycle``. A refused action
comes back as that service's sentence in an error message, never as a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import CharField, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from agreements import lifecycle as machine
from agreements.diff import TERMS, diff_snapshots
from agreements.forms.lifecycle import (
    SECTION_CHOICES,
    AcceptForm,
    CommentForm,
    CompareForm,
    EmptyForm,
    ProposeForm,
    RequestChangesForm,
    ReviewForm,
    SupportingAgreementForm,
    review_actions_formset,
)
from agreements.history import action_label, history_rows
from agreements.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    AuditEvent,
    CalendarHours,
    ClosureDate,
    Comment,
    Review,
    Signature,
)
from agreements.presentation import section_heading, status_of
from agreements.sections import MARKDOWN_FIELDS, SECTIONS_BY_KEY
from agreements.selectors import agreements_visible_to, comments_visible_to
from agreements.services import lifecycle as services
from agreements.services.lifecycle import TransitionError
from sla_portal.core.models import User
from sla_portal.core.notifications import notifications_for_agreement
from sla_portal.core.permissions import require_drafter

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
HISTORY_PAGE_SIZE = 50
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


def _agreement(request: HttpRequest, pk: int) -> Agreement:
    return get_object_or_404(agreements_visible_to(request.user), pk=pk)


def _see_other(url: str) -> HttpResponseRedirect:
    """After a POST, the browser fetches the page again with GET (303, not a re-post)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _lifecycle_url(agreement: Agreement) -> str:
    return reverse("agreements:lifecycle", args=[agreement.pk])


def _form_problems(form: forms.BaseForm) -> str:
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
    steps = services.actions_for(user, agreement, latest=latest, to_sign=to_sign)
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
    negotiator = bool(services.roles_of(user, agreement) & {machine.MANAGER, machine.APPROVER})
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
        if latest is not None and not latest.is_final and services.accepted_by_both(latest)
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
    review = services.review_start(agreement, user)
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
    agreement = _agreement(request, pk)
    handler = HANDLERS.get(action)
    if handler is None:
        messages.error(request, f"'{action}' is not an action that can be taken here.")
        return _see_other(_lifecycle_url(agreement))
    form = handler.form_class(request.POST, prefix=handler.prefix)
    if not form.is_valid():
        messages.error(request, f"Nothing was done: {_form_problems(form)}")
        return _see_other(_lifecycle_url(agreement))
    try:
        outcome = handler.run(agreement, request.user, form.cleaned_data)
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        return _see_other(_lifecycle_url(agreement))
    messages.success(request, outcome.message)
    return _see_other(outcome.url or _lifecycle_url(agreement))


@login_required
@require_POST
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A comment on one section (or the whole agreement), by anyone who can see it."""
    agreement = _agreement(request, pk)
    form = CommentForm(request.POST, prefix="comment")
    if not form.is_valid():
        messages.error(request, f"The comment was not saved: {_form_problems(form)}")
        return _see_other(_lifecycle_url(agreement))
    parent = None
    if form.cleaned_data["parent"]:
        parent = (
            comments_visible_to(request.user, agreement)
            .filter(pk=form.cleaned_data["parent"])
            .first()
        )
        if parent is None:
            messages.error(request, "The reply was not saved: no such comment on this agreement.")
            return _see_other(_lifecycle_url(agreement) + "#comments")
    try:
        comment = services.comment_add(
            agreement,
            request.user,
            form.cleaned_data["section"],
            form.cleaned_data["body"],
            parent=parent,
        )
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        anchor = f"#thread-{parent.parent_id or parent.pk}" if parent else "#comments"
        return _see_other(_lifecycle_url(agreement) + anchor)
    messages.success(request, "Reply added." if parent else "Comment added.")
    return _see_other(_lifecycle_url(agreement) + f"#thread-{comment.parent_id or comment.pk}")


THREAD_ACTIONS = {
    "resolve": (services.comment_resolve, "Thread resolved."),
    "reopen": (services.comment_reopen, "Thread reopened."),
}


@login_required
@require_POST
def comment_thread(request: HttpRequest, pk: int, comment_id: int, action: str) -> HttpResponse:
    """Resolve or reopen a comment thread (its author, a service manager or an approver)."""
    agreement = _agreement(request, pk)
    comment = get_object_or_404(comments_visible_to(request.user, agreement), pk=comment_id)
    if action not in THREAD_ACTIONS:
        messages.error(request, f"'{action}' is not something a thread can do.")
        return _see_other(_lifecycle_url(agreement) + "#comments")
    write, done = THREAD_ACTIONS[action]
    try:
        thread = write(agreement, request.user, comment)
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        return _see_other(_lifecycle_url(agreement) + "#comments")
    messages.success(request, done)
    return _see_other(_lifecycle_url(agreement) + f"#thread-{thread.pk}")


@login_required
@require_POST
@require_drafter
def supporting_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Record an OLA or underpinning contract the agreement relies on (service managers)."""
    agreement = _agreement(request, pk)
    form = SupportingAgreementForm(request.POST, prefix="supporting")
    if not form.is_valid():
        messages.error(request, f"Nothing was added: {_form_problems(form)}")
        return _see_other(_lifecycle_url(agreement))
    # One row and no rule beyond the form: the audit trail records it through its signal.
    supporting = form.save(commit=False)
    supporting.agreement = agreement
    supporting.save()
    messages.success(request, f"{supporting} added.")
    return _see_other(_lifecycle_url(agreement) + "#supporting")


# --- Comparing versions --------------------------------------------------------------------


@dataclass(frozen=True)
class SectionChanges:
    key: str
    title: str
    changes: list


def _section_title(key: str) -> str:
    if key == TERMS:
        return "Terms"
    section = SECTIONS_BY_KEY.get(key)
    return f"{section.number}. {section.title}" if section else "Other"


@login_required
@require_safe
def version_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two versions side by side (``?a=<n>&b=<n>``; by default the latest and the one before
    it): per changed section the old and new values, narrative text word by word."""
    agreement = _agreement(request, pk)
    versions = list(agreement.versions.defer("snapshot").order_by("number"))
    numbers = [version.number for version in versions]
    context: dict[str, Any] = {"agreement": agreement, "versions": versions, "sections": []}
    if not numbers:
        return render(request, "agreements/lifecycle/compare.html", context)

    form = CompareForm(request.GET, numbers=numbers)
    context["form"] = form
    if not form.is_valid():
        return render(request, "agreements/lifecycle/compare.html", context, status=400)
    a, b = form.cleaned_data["a"], form.cleaned_data["b"]
    pair = {v.number: v for v in agreement.versions.filter(number__in=[n for n in (a, b) if n])}
    old, new = pair.get(a), pair[b]
    context.update(old=old, new=new)
    if old is not None and old.pk != new.pk:
        context["sections"] = [
            SectionChanges(diff.key, _section_title(diff.key), diff.changes)
            for diff in diff_snapshots(old.snapshot, new.snapshot, MARKDOWN_FIELDS)
        ]
    return render(request, "agreements/lifecycle/compare.html", context)


# --- History -------------------------------------------------------------------------------


def _calendar_events(agreement: Agreement) -> Q:
    """Events of the calendars the agreement uses: the calendars themselves, and their hours
    and closures (found by the calendar named in the recorded values, or, for an edit that
    did not touch that field, by the row still belonging to the calendar)."""
    ids = set(agreement.service_calendars.values_list("pk", flat=True))
    ids |= set(agreement.targets.exclude(calendar=None).values_list("calendar_id", flat=True))
    if agreement.support_calendar_id:
        ids.add(agreement.support_calendar_id)
    if not ids:
        return Q(pk__in=[])
    texts = [str(pk) for pk in sorted(ids)]

    def current_rows(model) -> QuerySet:
        return (
            model.objects.filter(calendar_id__in=ids)
            .annotate(text_id=Cast("pk", CharField()))
            .values("text_id")
        )

    recorded = Q(after__calendar__in=texts) | Q(before__calendar__in=texts)
    return (
        Q(object_type="calendar", object_id__in=texts)
        | Q(object_type="calendarhours") & (recorded | Q(object_id__in=current_rows(CalendarHours)))
        | Q(object_type="closuredate") & (recorded | Q(object_id__in=current_rows(ClosureDate)))
    )


@login_required
@require_safe
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """The append-only audit trail of the agreement and of the calendars it uses."""
    agreement = _agreement(request, pk)
    events = AuditEvent.objects.filter(
        Q(agreement_id=agreement.pk) | _calendar_events(agreement)
    ).order_by("-at", "-id")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/lifecycle/history.html",
        {"agreement": agreement, "page": page, "rows": history_rows(list(page))},
    )


# --- Reviews -------------------------------------------------------------------------------


def _period_reports(review: Review) -> list:
    """The monthly reports of the review period (current revisions, oldest first), with each
    target's trend over them (``.targets``) and the credits of the period (``.credit_total``).
    The agreement was scoped to the user already, and its reports share its customer."""
    from reporting.selectors.reviews import review_reports

    return review_reports(review.agreement, review.period_start, review.period_end)


def _review_actions(form: forms.BaseFormSet) -> list[dict[str, Any]]:
    return [
        {
            "description": row.cleaned_data["description"],
            "owner": row.cleaned_data.get("owner"),
            "due_date": row.cleaned_data.get("due_date"),
        }
        for row in form
        if row.cleaned_data
    ]


@login_required
def review_detail(request: HttpRequest, pk: int, review_id: int) -> HttpResponse:
    """One review: period, findings, causes, lessons, actions and decision; a service manager
    records them while it is in progress."""
    agreement = _agreement(request, pk)
    review = get_object_or_404(agreement.reviews.select_related("decided_by"), pk=review_id)
    can_decide = (
        request.user.can_draft_agreements
        and review.status == Review.Status.IN_PROGRESS
        and agreement.status == machine.UNDER_REVIEW
    )
    form = formset = None
    status = 200
    if request.method == "POST":
        if not request.user.can_draft_agreements:
            raise PermissionDenied("Only service managers record a review.")
        if not can_decide:
            messages.error(request, "This review is not in progress; nothing was recorded.")
            return _see_other(request.path)
        form = ReviewForm(request.POST)
        formset = review_actions_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            decision = request.POST.get("decision", "")
            try:
                services.review_decide(
                    agreement,
                    request.user,
                    decision,
                    actions=_review_actions(formset),
                    **form.cleaned_data,
                )
            except TransitionError as refusal:
                messages.error(request, str(refusal))
            else:
                messages.success(
                    request, f"Review recorded: {Review.Decision(decision).label.lower()}."
                )
                return _see_other(request.path)
        else:
            messages.error(request, "Nothing was recorded: please correct the marked fields.")
        status = 400
    elif can_decide:
        form = ReviewForm(
            initial={
                "findings": review.findings,
                "root_causes": review.root_causes,
                "lessons": review.lessons,
            }
        )
        formset = review_actions_formset()
    return render(
        request,
        "agreements/lifecycle/review.html",
        {
            "agreement": agreement,
            "review": review,
            "actions": list(review.actions.select_related("owner")),
            "reports": _period_reports(review),
            "form": form if can_decide else None,
            "formset": formset if can_decide else None,
            "decisions": Review.Decision.choices,
        },
        status=status,
    )
