"""Browser imports of export files: upload a file, then watch its background job.

Service managers upload; anyone may follow the jobs of the customers they can see (scoped like
the sources), so another organisation's job answers 404 like one that does not exist.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sla_portal.core.permissions import require_drafter

from .forms import ImportUploadForm, time_zone_names
from .jobs import import_job_submit
from .models import ImportJob
from .selectors import import_jobs_visible_to

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
    if request.method == "POST" and form.is_valid():
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
        request, "monitoring/import_new.html", {"form": form, "time_zones": time_zone_names()}
    )


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One job: its status, a progress bar kept fresh by htmx, and its outcome."""
    job = get_object_or_404(import_jobs_visible_to(request.user), pk=pk)
    return render(request, "monitoring/import_detail.html", _job_context(job))


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The status partial that the job page polls while the job is queued or running."""
    job = get_object_or_404(import_jobs_visible_to(request.user), pk=pk)
    return render(request, "monitoring/import_progress.html", _job_context(job))
