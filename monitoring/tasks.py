"""Periodic jobs of the monitoring app: thin entry points over ``monitoring.probe``."""

from celery import shared_task


@shared_task(
    name="monitoring.run_due_probes",
    ignore_result=True,
    # Redelivered if the worker is lost mid-run; harmless, because every probe slot is claimed
    # in the database before it runs and a second run finds those slots taken.
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_due_probes() -> int:
    """Probe the services whose next probe is due (see ``monitoring.probe``)."""
    from .probe import run_due_probes as run

    return run()


@shared_task(
    name="monitoring.run_import_job",
    ignore_result=True,
    # Must not be lost once the upload is accepted; a redelivery is harmless because the job
    # is claimed with a conditional UPDATE (queued → running) and a second run finds it taken.
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_import_job(job_id: int) -> bool:
    """Import the uploaded file of job ``job_id`` (see ``monitoring.jobs``)."""
    from .jobs import import_job_run

    return import_job_run(job_id)
