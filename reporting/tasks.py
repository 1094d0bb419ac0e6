"""Periodic jobs of the reporting app: thin entry points over ``reporting.services``."""

from celery import shared_task


@shared_task(
    name="reporting.issue_due_reports",
    ignore_result=True,
    # Idempotent: each report is inserted under a unique (agreement, month, revision)
    # constraint after locking its agreement, so a redelivery or a second worker issues
    # nothing twice.
    acks_late=True,
    reject_on_worker_lost=True,
)
def issue_due_reports() -> int:
    """Issue the reports of every month whose period results are all closed."""
    from django.utils import timezone

    from .services import issue_due_reports as issue

    return issue(timezone.now())
