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
