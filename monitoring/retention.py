"""How long uploaded export files are kept.

An import job keeps its file while it may still be needed (queued, running, or looked at
soon after it finished); the rows it produced are in the database and stay. Finished jobs'
files are deleted after ``SLA_IMPORT_FILE_RETENTION_DAYS`` and the job records when, so the
job page says where the file went instead of pointing at nothing. Files of the column-mapping
steps that never became a job (an upload abandoned half-way) are deleted after a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage

from monitoring.models import ImportJob

UPLOAD_DIR = "imports"
ABANDONED_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class PurgeReport:
    jobs: int
    files: int
    abandoned: int


def retention() -> timedelta:
    return timedelta(days=settings.SLA_IMPORT_FILE_RETENTION_DAYS)


def purge_import_files(now: datetime) -> PurgeReport:
    """Delete the files of jobs finished more than the retention ago, and abandoned uploads."""
    jobs = files = 0
    expired = ImportJob.objects.filter(
        status__in=ImportJob.FINISHED,
        finished_at__lt=now - retention(),
        files_removed_at__isnull=True,
    )
    for job in expired.only("pk", "file", "monitors_file").iterator():
        for field in (job.file, job.monitors_file):
            if field.name and field.storage.exists(field.name):
                field.storage.delete(field.name)
                files += 1
        ImportJob.objects.filter(pk=job.pk).update(files_removed_at=now)
        jobs += 1
    return PurgeReport(jobs=jobs, files=files, abandoned=_purge_abandoned(now))


def _purge_abandoned(now: datetime) -> int:
    if not default_storage.exists(UPLOAD_DIR):
        return 0
    referenced = set(ImportJob.objects.values_list("file", flat=True))
    referenced |= set(ImportJob.objects.values_list("monitors_file", flat=True))
    removed = 0
    for name in default_storage.listdir(UPLOAD_DIR)[1]:
        path = f"{UPLOAD_DIR}/{name}"
        if path in referenced:
            continue
        if default_storage.get_modified_time(path) < now - ABANDONED_AFTER:
            default_storage.delete(path)
            removed += 1
    return removed
