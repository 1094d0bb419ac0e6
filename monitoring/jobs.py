"""Running an import job: claim it, parse its file, ingest, and record the outcome on the row.

The parsers (``monitoring.importers``) and the all-or-nothing ingest (``monitoring.imports``)
are the same ones the management commands use; this module adds only the job's bookkeeping.
Progress goes through every phase and only ever grows (``JobProgress``): reading the records
(1-25 %), folding and checking them (25-35 %), the ingest batch by batch (35-95 %), then
evaluation being queued (97 %) and the outcome (100 %). During the ingest, which is one
atomic write, progress is written on a second database connection so the page polling the
row sees it move.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from agreements.models import Service
from monitoring.enqueue import RUN_IMPORT_JOB, enqueue
from monitoring.importers import (
    ChecksResult,
    ImportOptionError,
    ParseResult,
    csv_records,
    event_log,
    generic_csv,
    healthcheck,
    servicenow,
    statuspage,
    upptime,
    uptime_kuma,
)
from monitoring.importers.common import READ_PROGRESS
from monitoring.imports import (
    ImportRefused,
    ImportReport,
    import_checks,
    import_maintenance,
    import_tickets,
)
from monitoring.models import ImportJob, Source
from sla_portal.core.models import User

logger = logging.getLogger(__name__)
# Skipped rows are listed on the job page; beyond this many the list says "and n more".
MAX_PROBLEMS = 500


def import_job_submit(
    *,
    source: Source,
    format: str,
    file: File | str,
    monitors_file: File | None,
    options: dict[str, Any],
    created_by: User,
    retry_of: ImportJob | None = None,
) -> ImportJob:
    """Store the upload as a queued job and run it in the background once the row is committed.

    ``file`` is an upload, or the storage name of a file already stored (the generic CSV flow
    stores the file at its first step and must not copy it again).

    ``retry_of`` is the refused or failed job this one corrects; that job stays as it was.

    On commit, because a worker picking the task up before the commit would find no job.
    """
    job = ImportJob.objects.create(
        source=source,
        format=format,
        file=file,
        monitors_file=monitors_file or "",
        options=options,
        created_by=created_by,
        retry_of=retry_of,
    )
    transaction.on_commit(lambda: enqueue(RUN_IMPORT_JOB, job.pk))
    return job


# The columns each fixed format must have; checked on upload so a wrong file is refused at once.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    ImportJob.Format.SERVICENOW: servicenow.REQUIRED_COLUMNS,
    ImportJob.Format.UPTIME_KUMA: uptime_kuma.HEARTBEAT_COLUMNS,
    ImportJob.Format.HEALTHCHECK: healthcheck.COLUMNS,
    ImportJob.Format.UPPTIME: upptime.COLUMNS,
    ImportJob.Format.STATUSPAGE: statuspage.REQUIRED_COLUMNS,
}


def import_file_check(format: str, file: Any, columns: tuple[str, ...] | None = None) -> None:
    """Raise ``ImportOptionError`` (one clear sentence) unless ``file`` is readable text with
    the columns of ``format``: a PNG, a truncated archive, a non-UTF-8 file or the wrong
    export is refused at upload, before any job or file is stored."""
    required = columns if columns is not None else REQUIRED_COLUMNS.get(format)
    if required is None:
        return
    try:
        next(csv_records(file, required), None)
    finally:
        file.seek(0)


def import_job_claim(job_id: int) -> bool:
    """Move a queued job to running; False when it was already claimed (or is gone).

    A conditional UPDATE rather than read-then-write, so a redelivered task (acks_late) or a
    second worker finds nothing to do instead of importing the file twice.
    """
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING,
        started_at=timezone.now(),
        stage="Reading the file",
        progress=1,
    )
    return claimed == 1


# Where each phase starts and ends on the progress bar, in percent: reading the records,
# folding them (event logs) and checking them, the ingest, evaluation queued.
READ_SHARE, PARSED, VALIDATED, INGESTED, DONE = 25, 30, 35, 95, 100


class JobProgress:
    """Writes a job's progress so that it never decreases and is visible while it runs.

    Inside the import's transaction the row is written on a second connection (PostgreSQL),
    because a write on the importing connection would only show once everything is committed.
    SQLite (the quick test settings) has one writer, so there the write simply joins the
    transaction.
    """

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.value = job.progress
        self._side = None

    def __call__(self, percent: float, stage: str | None = None) -> None:
        value = max(self.value, min(DONE, int(percent)))
        if value == self.value and stage in (None, self.job.stage):
            return
        self.value = value
        self.write(value, stage or self.job.stage)

    def ingest(self, done: int, total: int) -> None:
        """The ``monitoring.imports`` progress callback: batches map onto 35-95 %."""
        share = done / total if total else 1
        self(VALIDATED + (INGESTED - VALIDATED) * share, f"Importing: {done} of {total} rows")

    def write(self, value: int, stage: str) -> None:
        self.job.progress, self.job.stage = value, stage
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block and connection.vendor == "postgresql":
            if self._side is None:
                self._side = connections.create_connection(DEFAULT_DB_ALIAS)
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET progress = %s, stage = %s "
                    "WHERE id = %s AND progress <= %s",
                    [value, stage[:200], self.job.pk, value],
                )
        else:
            self.job.save(update_fields=["progress", "stage"])

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


def _progress(job: ImportJob, stage: str, **fields) -> None:
    job.stage = stage
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=["stage", *fields])


def _parse(job: ImportJob) -> ParseResult | ChecksResult:
    options = job.options
    with ExitStack() as stack:
        stream = stack.enter_context(job.file.open("rb"))
        if job.format == ImportJob.Format.SERVICENOW:
            kwargs = {}
            if options.get("pausing_states") is not None:
                kwargs["pausing_states"] = options["pausing_states"]
            if options.get("resolving_states") is not None:
                kwargs["resolving_states"] = options["resolving_states"]
            return servicenow.parse_incident_log(
                stream,
                timezone=options.get("timezone") or None,
                dayfirst=options.get("dayfirst", True),
                **kwargs,
            )
        if job.format == ImportJob.Format.UPTIME_KUMA:
            if not job.monitors_file:
                raise ImportOptionError("Uptime Kuma needs its monitor.csv beside heartbeat.csv.")
            monitors = stack.enter_context(job.monitors_file.open("rb"))
            return uptime_kuma.parse_heartbeats(
                stream, monitors, timezone=options.get("timezone") or "UTC"
            )
        if job.format == ImportJob.Format.GENERIC_CSV and options.get("layout") == "event_log":
            return event_log.parse_event_log(
                stream,
                options.get("mapping") or {},
                options.get("states") or {},
                date_format=options.get("date_format", generic_csv.AUTO),
                timezone=options.get("timezone") or None,
            )
        if job.format == ImportJob.Format.GENERIC_CSV:
            # The mapping page resolved "auto" before submitting; re-detecting here would only
            # repeat that answer, or refuse a file the user already decided about.
            return generic_csv.parse_tickets(
                stream,
                options.get("mapping") or {},
                date_format=options.get("date_format", generic_csv.AUTO),
                timezone=options.get("timezone") or None,
            )
        if job.format == ImportJob.Format.HEALTHCHECK:
            return healthcheck.parse_checks(stream)
        if job.format == ImportJob.Format.UPPTIME:
            return upptime.parse_status_changes(stream)
        return statuspage.parse_maintenances(stream)


def _row_count(parsed: ParseResult | ChecksResult) -> int:
    return parsed.count if isinstance(parsed, ChecksResult) else len(parsed.rows)


def _ingest(
    job: ImportJob, parsed: ParseResult | ChecksResult, progress: JobProgress
) -> ImportReport:
    skip = bool(job.options.get("skip_invalid"))
    mapping: dict[str, str] = job.options.get("map") or {}
    if job.format in (ImportJob.Format.SERVICENOW, ImportJob.Format.GENERIC_CSV):
        return import_tickets(
            job.source,
            parsed,
            agreement=job.options.get("agreement", ""),
            skip_invalid=skip,
            progress=progress.ingest,
        )
    if job.format == ImportJob.Format.STATUSPAGE:
        return import_maintenance(
            job.source, parsed, mapping, skip_invalid=skip, progress=progress.ingest
        )
    services = {
        service.name: service for service in Service.objects.filter(name__in=mapping.values())
    }
    unknown = sorted({name for name in mapping.values() if name not in services})
    if unknown:
        raise ImportRefused([f"no service named {name!r}" for name in unknown])
    by_key = {key: services[name] for key, name in mapping.items()}
    return import_checks(job.source, parsed, by_key, skip_invalid=skip, progress=progress.ingest)


def _finish(job: ImportJob, status: str, stage: str, **fields) -> None:
    job.status = status
    job.finished_at = timezone.now()
    _progress(job, stage, status=status, finished_at=job.finished_at, progress=DONE, **fields)


def import_job_run(job_id: int) -> bool:
    """Run the queued job ``job_id`` to an outcome; False when there was nothing to run.

    The outcome is always written to the row: refused (with every row-level problem; nothing
    was imported), failed (with the error's message) or succeeded (with the counts).
    """
    if not import_job_claim(job_id):
        return False
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    progress = JobProgress(job)
    try:
        return _run(job, progress)
    finally:
        progress.close()


def _run(job: ImportJob, progress: JobProgress) -> bool:
    summary: dict[str, Any] = {}
    try:
        token = READ_PROGRESS.set(
            lambda share: progress(1 + (READ_SHARE - 1) * share, "Reading the file")
        )
        try:
            parsed = _parse(job)
        finally:
            READ_PROGRESS.reset(token)
        progress(READ_SHARE, "Read the file")
        summary = parsed.summary()
        rows = _row_count(parsed)
        if isinstance(parsed, event_log.EventLogResult):
            stage = (
                f"Folded {parsed.records} events into {rows} tickets "
                f"({parsed.problem_tickets} with problem rows); checking"
            )
        else:
            stage = f"Parsed {rows} rows ({len(parsed.errors)} unreadable); checking"
        job.total, job.processed = rows, 0
        job.save(update_fields=["total", "processed"])
        progress(PARSED, stage)
        report = _ingest(job, parsed, progress)
        progress(INGESTED + 2, "Imported; evaluation of the new data is queued")
    except ImportRefused as refused:
        _finish(
            job,
            ImportJob.Status.REFUSED,
            f"Refused: {len(refused.problems)} problem(s); nothing was imported",
            processed=0,
            problems=refused.problems[:MAX_PROBLEMS],
            summary=summary,
        )
        return True
    except ImportOptionError as exc:
        _finish(
            job,
            ImportJob.Status.REFUSED,
            "Refused: nothing was imported",
            problems=[str(exc)],
            summary=summary,
        )
        return True
    except Exception as exc:  # the job row must never lose why it failed
        logger.exception("Import job %s failed", job.pk)
        _finish(
            job,
            ImportJob.Status.FAILED,
            "Failed: nothing was imported",
            error=f"{type(exc).__name__}: {exc}",
        )
        return True
    _finish(
        job,
        ImportJob.Status.SUCCEEDED,
        "Done",
        processed=job.total or 0,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=len(report.skipped),
        problems=[f"skipped {error}" for error in report.skipped[:MAX_PROBLEMS]],
        summary=report.summary,
    )
    return True


RETRYABLE = (ImportJob.Status.REFUSED, ImportJob.Status.FAILED)


def import_job_file_kept(job: ImportJob) -> bool:
    """Whether the job's uploaded file(s) are still stored, so it can be corrected and retried
    without uploading again (``monitoring.retention`` deletes them after the retention)."""
    if job.files_removed_at is not None or not job.file.name:
        return False
    names = [job.file.name] + ([job.monitors_file.name] if job.monitors_file.name else [])
    return all(job.file.storage.exists(name) for name in names)


def import_job_copy_file(field: Any) -> str:
    """Store a copy of a job's file and return its storage name.

    A retry reads its own copy: each job then owns its file, and the retention deleting the
    first attempt's file never takes the file of a later attempt with it."""
    with field.open("rb") as stream:
        return field.storage.save(f"imports/{Path(field.name).name}", File(stream))
