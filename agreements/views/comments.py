"""Comment threads on the lifecycle page: a remark on a section, a reply, resolving and
reopening a thread."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from agreements.forms.lifecycle import CommentForm
from agreements.selectors import comments_visible_to
from agreements.services import comments as comment_services
from agreements.services.lifecycle import TransitionError
from agreements.views.lifecycle import form_problems, lifecycle_url, see_other, visible_agreement


@login_required
@require_POST
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A comment on one section (or the whole agreement), by anyone who can see it."""
    agreement = visible_agreement(request, pk)
    form = CommentForm(request.POST, prefix="comment")
    if not form.is_valid():
        messages.error(request, f"The comment was not saved: {form_problems(form)}")
        return see_other(lifecycle_url(agreement))
    parent = None
    if form.cleaned_data["parent"]:
        parent = (
            comments_visible_to(request.user, agreement)
            .filter(pk=form.cleaned_data["parent"])
            .first()
        )
        if parent is None:
            messages.error(request, "The reply was not saved: no such comment on this agreement.")
            return see_other(lifecycle_url(agreement) + "#comments")
    try:
        comment = comment_services.comment_add(
            agreement,
            request.user,
            form.cleaned_data["section"],
            form.cleaned_data["body"],
            parent=parent,
        )
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        anchor = f"#thread-{parent.parent_id or parent.pk}" if parent else "#comments"
        return see_other(lifecycle_url(agreement) + anchor)
    messages.success(request, "Reply added." if parent else "Comment added.")
    return see_other(lifecycle_url(agreement) + f"#thread-{comment.parent_id or comment.pk}")


THREAD_ACTIONS = {
    "resolve": (comment_services.comment_resolve, "Thread resolved."),
    "reopen": (comment_services.comment_reopen, "Thread reopened."),
}


@login_required
@require_POST
def comment_thread(request: HttpRequest, pk: int, comment_id: int, action: str) -> HttpResponse:
    """Resolve or reopen a comment thread (its author, a service manager or an approver)."""
    agreement = visible_agreement(request, pk)
    comment = get_object_or_404(comments_visible_to(request.user, agreement), pk=comment_id)
    if action not in THREAD_ACTIONS:
        messages.error(request, f"'{action}' is not something a thread can do.")
        return see_other(lifecycle_url(agreement) + "#comments")
    write, done = THREAD_ACTIONS[action]
    try:
        thread = write(agreement, request.user, comment)
    except TransitionError as refusal:
        messages.error(request, str(refusal))
        return see_other(lifecycle_url(agreement) + "#comments")
    messages.success(request, done)
    return see_other(lifecycle_url(agreement) + f"#thread-{thread.pk}")
