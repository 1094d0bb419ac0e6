"""Celery entry points of the monitoring app, thin over the engine, the import jobs and the probe.

This module imports them and never the reverse: they queue a task by name
(``monitoring.enqueue``)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from monitoring import jobs, probe, retention, staleness
from monitoring.evaluation import alert_emails, passes, periods, tickets, trigger


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
    return probe.run_due_probes()


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
    return jobs.import_job_run(job_id)


@shared_task(
    name="monitoring.evaluate_changed",
    ignore_result=True,
    # Idempotent (evaluation recomputes from the data and raises each alert once), so a
    # redelivery after a lost worker only repeats work.
    acks_late=True,
    reject_on_worker_lost=True,
)
def evaluate_changed(kind: str = "", ids: list[int] | None = None) -> int:
    """Evaluate what ingest changed: marked tickets, then the periods of the agreements the
    nudges recorded (``monitoring.evaluation.trigger``), plus those ``kind``/``ids`` name
    when called with them (a direct call, or a message queued before coalescing).

    Bounded: at most ``EVALUATION_MAX_BATCHES_PER_RUN`` batches of tickets per run. When
    tickets remain, the periods wait (they read the timers being written) and the run queues
    the next one through the same coalescing request, so one task stays outstanding and a
    55,000-ticket backlog is many short runs, not one that holds a worker for a minute."""
    taken = trigger.take_request()
    agreement_ids = {int(key) for key in taken}
    if ids:
        agreement_ids.update(trigger.agreements_affected(kind, ids))
    limit = settings.EVALUATION_MAX_BATCHES_PER_RUN
    evaluated = tickets.evaluate_pending_tickets(timezone.now(), max_batches=limit)
    if evaluated >= limit * tickets.BATCH_SIZE:
        # Every batch was full, so tickets may remain. The agreements stay recorded (not
        # finished) for the run that completes the tickets.
        trigger.continue_evaluation(agreement_ids)
        return evaluated
    count = periods.evaluate_periods(None, agreement_ids)  # each at the clock once locked
    trigger.finish_request(taken)
    return count


@shared_task(name="monitoring.evaluate_periods", ignore_result=True)
def evaluate_periods(after: int = 0, number: int | None = None) -> int:
    """Recompute open periods and close the ended ones (time passing changes them: an
    outage still going on, a period end), ``PERIODS_MAX_AGREEMENTS_PER_RUN`` agreements per
    run in id order from ``after``; when more remain, the next slice of pass ``number`` is
    queued at once. Beat's run (no ``number``) starts a pass unless one is in progress
    (``monitoring.evaluation.passes``), so passes never pile up."""
    if number is None:
        number = passes.start_pass(timezone.now())
        if number is None:
            return 0  # the pass in progress covers this minute
    elif not passes.continue_pass(number, timezone.now()):
        return 0  # a slice of a pass taken as lost: a newer pass is under way
    try:
        # Each agreement at the clock once its lock is held, not at a moment taken before
        # the slice began (``evaluate_agreement_periods``).
        count, last = periods.evaluate_periods_from(
            None, after=after, limit=settings.PERIODS_MAX_AGREEMENTS_PER_RUN
        )
        if last is not None:
            evaluate_periods.apply_async(
                kwargs={"after": last, "number": number}, expires=passes.SLICE_EXPIRES
            )
    except Exception:
        passes.finish_pass(number)  # beat's next start begins again rather than wait LOST_AFTER
        raise
    if last is None:
        passes.finish_pass(number)
    return count


@shared_task(name="monitoring.send_alert_digests", ignore_result=True)
def send_alert_digests() -> int:
    """The daily digest of warnings for people who chose it."""
    return alert_emails.send_digests(timezone.now())


@shared_task(name="monitoring.purge_import_files", ignore_result=True)
def purge_import_files() -> int:
    """Delete uploaded export files past their retention (see ``monitoring.retention``)."""
    report = retention.purge_import_files(timezone.now())
    return report.files + report.abandoned


@shared_task(name="monitoring.check_stale_sources", ignore_result=True)
def check_stale_sources() -> int:
    """Tell the provider about sources whose data stopped or resumed (``monitoring.staleness``).

    Not ``acks_late``: a lost run is repeated by the next tick a minute later, and each
    episode is claimed with a conditional UPDATE, so a repeated run announces nothing twice."""
    stale, resumed = staleness.check_stale_sources()
    return stale + resumed


@shared_task(name="monitoring.send_nps_surveys", ignore_result=True)
def send_nps_surveys() -> int:
    """Ask each agreement's contacts the NPS question of the round due (once per round and
    contact, ``monitoring.experience.nps``)."""
    from monitoring.experience.nps import nps_send_due

    return nps_send_due()
