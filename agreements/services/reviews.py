"""Periodic reviews of an agreement in force: scheduling, starting (by a person or when due),
the decision, reminders, and expiring agreements whose term ended. Each write locks the
agreement, checks the state machine, records it in the audit trail and queues the emails."""

from __future__ import annotations

import calendar as calendar_lib
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agreements import lifecycle as machine
from agreements.lifecycle import TransitionError
from agreements.models import Agreement, Review, ReviewAction
from agreements.services import audit
from agreements.services.parties import (
    approvers_of,
    email_about,
    locked_agreement,
    managers_of,
    roles_of,
)
from sla_portal.core.models import User


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
    agreement = locked_agreement(agreement)
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
    agreement = locked_agreement(agreement)
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
            email_about(
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
