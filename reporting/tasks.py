"""Periodic jobs of the reporting app: thin entry points over ``reporting.services.reports``
and ``reporting.recompute``."""

from celery import shared_task
from django.utils import timezone

from reporting.enqueue import RECOMPUTE_RUN, REPLAY_RUN, REPLAY_UPLOAD
from reporting.recompute.runs import recompute_resume_stalled as resume
from reporting.recompute.steps import recompute_step
from reporting.replay.runs import replay_in_task
from reporting.replay.uploads import replay_upload_in_task
from reporting.services.reports import issue_due_reports as issue


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
    return issue(timezone.now())


@shared_task(
    name=RECOMPUTE_RUN,
    ignore_result=True,
    # Each step is one transaction that moves a stored cursor with the run row locked: a
    # redelivery after a worker died starts the step again, a duplicate waits and finds
    # the cursor moved on.
    acks_late=True,
    reject_on_worker_lost=True,
)
def recompute_run(run_id: int) -> None:
    """One bounded step of a recompute; queues the next step until the run is done."""
    if recompute_step(run_id):
        recompute_run.delay(run_id)


@shared_task(name="reporting.recompute_resume_stalled", ignore_result=True)
def recompute_resume_stalled() -> int:
    """The sweep for recompute runs whose next step was lost (``recompute_resume_stalled``)."""
    return len(resume(timezone.now()))


@shared_task(name="reporting.status_maintenance_notices", ignore_result=True)
def status_maintenance_notices() -> int:
    """Email status page subscribers of maintenance coming soon (each window once per page)."""
    from reporting.services.status import maintenance_notices_send

    return maintenance_notices_send()


# A replay past these limits is stopped and fails with the reason (the page and the API say
# so); the watchdog (``runs.RUN_TIMEOUT``, 15 minutes) is longer than the hard limit.
REPLAY_SOFT_LIMIT = 10 * 60
REPLAY_HARD_LIMIT = 11 * 60


@shared_task(
    name=REPLAY_RUN,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=REPLAY_SOFT_LIMIT,
    time_limit=REPLAY_HARD_LIMIT,
)
def replay_run(
    agreement_id: int, snapshot: dict, label: str, source: str, periods: int, until: str, key: str
) -> None:
    """A replay of proposed targets on history too large for the request; it reads only,
    and a redelivery finds the result cached (``reporting.replay.runs``)."""
    replay_in_task(agreement_id, snapshot, label, source, periods, until, key)


@shared_task(
    name=REPLAY_UPLOAD,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=REPLAY_SOFT_LIMIT,
    time_limit=REPLAY_HARD_LIMIT,
)
def replay_upload(
    agreement_id: int, snapshot: dict, label: str, asked: list, export: list, key: str
) -> None:
    """A replay on an uploaded export: ingested inside a transaction that is rolled back
    once the replay is done (``reporting.replay.uploads``)."""
    replay_upload_in_task(agreement_id, snapshot, label, asked, export, key)
