"""Browser imports of export files: upload a file, then watch its background job.

Service managers upload; anyone may follow the jobs of the customers they can see (scoped like
the sources), so another organisation's job answers 404 like one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from monitoring.forms.imports import ImportRetryForm, ImportUploadForm
from monitoring.forms.sources import time_zone_names
from monitoring.importers import ImportOptionError
from monitoring.importers.uptime_kuma import MONITOR_COLUMNS
from monitoring.jobs import (
    RETRYABLE,
    import_file_check,
    import_job_copy_file,
    import_job_file_kept,
    import_job_submit,
)
from monitoring.models import ImportJob
from monitoring.selectors.ingest import import_jobs_visible_to
from monitoring.views.mapping import start_retry
from sla_portal.core.permissions import require_drafter

PAGE_SIZE = 50
# States are never colour alone: an icon and the word go with each (see portal.css .state).
JOB_STATUS_STYLE = {
    ImportJob.Status.QUEUED: ("text-body-secondary", "bi-clock", "bg-secondary"),
    ImportJob.Status.RUNNING: ("state-warn", "bi-arrow-repeat", "bg-info"),
    ImportJob.Status.SUCCEEDED: ("state-ok", "bi-check-circle-fill", "bg-success"),
    ImportJob.Status.REFUSED: ("state-bad", "bi-x-octagon-fill", "bg-danger"),
    ImportJob.Status.FAILED: ("state-bad", "bi-exclamation-triangle-fill", "bg-danger"),
}


def _job_context(job: ImportJob) -> dict:
    text_class, icon, bar_class = JOB_STATUS_STYLE[job.status]
    return {
        "job": job,
        "status_class": text_class,
        "status_icon": icon,
        "bar_class": bar_class,
    }


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    """The import jobs the user may see, newest first."""
    page = Paginator(import_jobs_visible_to(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [_job_context(job) for job in page]
    return render(request, "monitoring/import_list.html", {"page": page, "rows": rows})


@require_drafter
def import_new(request: HttpRequest) -> HttpResponse:
    """Upload an export file; the import runs as a background job."""
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid() and _files_readable(form):
        job = import_job_submit(
            source=form.cleaned_data["source"],
            format=form.cleaned_data["format"],
            file=form.cleaned_data["file"],
            monitors_file=form.cleaned_data.get("monitors_file"),
            options=form.job_options(),
            created_by=request.user,
        )
        return redirect("monitoring:import-detail", pk=job.pk)
    return render(
        request,
        "monitoring/import_new.html",
        {"form": form, "time_zones": time_zone_names()},
        status=400 if request.method == "POST" else 200,
    )


def _files_readable(form: ImportUploadForm) -> bool:
    """Check the uploaded file(s) before a job exists; a form error says what is wrong."""
    checks = [("file", form.cleaned_data["file"], None)]
    if form.cleaned_data.get("monitors_file"):
        checks.append(("monitors_file", form.cleaned_data["monitors_file"], MONITOR_COLUMNS))
    for name, upload, columns in checks:
        try:
            import_file_check(form.cleaned_data["format"], upload, columns)
        except ImportOptionError as exc:
            form.add_error(name, str(exc))
    return not form.errors


def _attempts_context(request: HttpRequest, job: ImportJob) -> dict:
    """What the job page says about retries: whether this one can be corrected and run again
    (and if not, why), which attempt it corrects and which attempts corrected it."""
    jobs = import_jobs_visible_to(request.user)
    retryable = job.status in RETRYABLE and request.user.can_draft_agreements
    return {
        "can_retry": retryable,
        "file_kept": import_job_file_kept(job) if retryable else False,
        "upload_url": _upload_url(job),
        "retry_of": jobs.filter(pk=job.retry_of_id).first() if job.retry_of_id else None,
        "retries": list(jobs.filter(retry_of=job).order_by("created_at", "id")),
    }


def _upload_url(job: ImportJob) -> str:
    if job.format != ImportJob.Format.GENERIC_CSV:
        return reverse("monitoring:import-new")
    if job.options.get("layout") == "event_log":
        return reverse("monitoring:event-log-upload")
    return reverse("monitoring:csv-upload")


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One job: its status, a progress bar kept fresh by htmx, and its outcome."""
    job = get_object_or_404(import_jobs_visible_to(request.user), pk=pk)
    context = _job_context(job) | _attempts_context(request, job)
    return render(request, "monitoring/import_detail.html", context)


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The status partial that the job page polls while the job is queued or running."""
    job = get_object_or_404(import_jobs_visible_to(request.user), pk=pk)
    context = _job_context(job) | _attempts_context(request, job)
    return render(request, "monitoring/import_progress.html", context)


@require_drafter
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a refused (or failed) import and run it again on the file already stored.

    Column-mapping jobs go back to their mapping step; the others to their options. Either way
    the result is a new job linked to this one, which keeps what it said. When the retention
    has deleted the file, the job page says so and offers a new upload instead."""
    job = get_object_or_404(import_jobs_visible_to(request.user), pk=pk)
    if job.status not in RETRYABLE:
        messages.info(request, f"Import #{job.pk} was not refused: there is nothing to correct.")
        return redirect("monitoring:import-detail", pk=job.pk)
    if not import_job_file_kept(job):
        messages.error(
            request,
            f"The file of import #{job.pk} was deleted at the end of its retention period: "
            "upload it again.",
        )
        return redirect("monitoring:import-detail", pk=job.pk)
    if not job.source.enabled:
        messages.error(request, f"The source “{job.source.name}” is disabled: enable it first.")
        return redirect("monitoring:import-detail", pk=job.pk)
    if job.format == ImportJob.Format.GENERIC_CSV:
        return start_retry(request, job)
    initial = ImportRetryForm.initial_for(job, request.user)
    form = ImportRetryForm(request.POST or None, user=request.user, job=job, initial=initial)
    if request.method == "POST" and form.is_valid():
        retry = import_job_submit(
            source=form.cleaned_data["source"],
            format=form.cleaned_data["format"],
            file=import_job_copy_file(job.file),
            monitors_file=import_job_copy_file(job.monitors_file) if job.monitors_file else None,
            options=form.job_options(),
            created_by=request.user,
            retry_of=job,
        )
        return redirect("monitoring:import-detail", pk=retry.pk)
    return render(
        request,
        "monitoring/import_retry.html",
        {"form": form, "job": job, "time_zones": time_zone_names()},
    )
