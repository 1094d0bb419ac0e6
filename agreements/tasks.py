"""Scheduled lifecycle jobs: thin, idempotent, safe to run twice or late."""

from celery import shared_task
from django.utils import timezone


@shared_task(name="agreements.activate_due", acks_late=True, ignore_result=True)
def activate_due() -> int:
    """Put signed agreements in force on their effective date."""
    from agreements.services.lifecycle import activate_due as run

    return run(timezone.localdate())


@shared_task(name="agreements.start_due_reviews", acks_late=True, ignore_result=True)
def start_due_reviews() -> int:
    """Open the reviews whose due date has come."""
    from agreements.services.reviews import start_due_reviews as run

    return run(timezone.localdate())


@shared_task(name="agreements.send_review_reminders", acks_late=True, ignore_result=True)
def send_review_reminders() -> int:
    """Remind managers and approvers ahead of reviews (each reminder once)."""
    from agreements.services.reviews import send_review_reminders as run

    return run(timezone.localdate())


@shared_task(name="agreements.expire_ended", acks_late=True, ignore_result=True)
def expire_ended() -> int:
    """Expire agreements past their end date."""
    from agreements.services.reviews import expire_ended as run

    return run(timezone.localdate())
