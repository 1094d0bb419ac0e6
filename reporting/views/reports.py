"""Periodic reports: the list, the page, its PDF and CSV, and corrections.

Views stay thin: login, a scoped queryset (``Report.objects.visible_to``: a customer sees only
its own organisation's reports, and another organisation's report answers 404 exactly like
one that does not exist), a service, a template. Everything shown comes from the report's
frozen ``content`` through ``reporting.services.rendering``, so the page, the PDF and the CSV
of one revision always agree.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST, require_safe

from reporting.models import Report
from reporting.selectors import reports as report_selectors
from reporting.services import reports as report_services
from reporting.services.rendering import render_report_pdf, report_context, report_csv_bytes
from sla_portal.core.permissions import require_drafter

PAGE_SIZE = 50


def reports_visible_to(user: Any) -> QuerySet[Report]:
    """Reports the user may see, with what their lists and pages show (see
    ``reporting.selectors.reports.reports_visible_to``: drafts are for provider staff only)."""
    return report_selectors.reports_visible_to(user).select_related(
        "agreement", "customer", "issued_by", "supersedes", "superseded_by", "version"
    )


def _report(request: HttpRequest, pk: int) -> Report:
    report = get_object_or_404(reports_visible_to(request.user), pk=pk)
    # A draft shows the facts as they are now (a root cause recorded a minute ago), so the
    # page, its PDF and its CSV agree with what issuing it would freeze.
    return report_services.report_draft_refresh(report)


# --- Pages ------------------------------------------------------------------------------------


@login_required
@require_safe
def report_list(request: HttpRequest) -> HttpResponse:
    """The reports the user may see, newest month first; only the current revision of each
    month is listed (a correction links to the revisions before it)."""
    reports = reports_visible_to(request.user).filter(superseded_by__isnull=True)
    agreement = request.GET.get("agreement", "")
    if agreement.isdigit():
        reports = reports.filter(agreement_id=int(agreement))
    page = Paginator(reports.order_by("-month", "agreement__reference"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reporting/report_list.html",
        {
            "page": page,
            "query": f"agreement={agreement}" if agreement.isdigit() else "",
            "filtered": agreement.isdigit(),
        },
    )


@login_required
@require_safe
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One report revision: targets against target and threshold, breaches with root causes,
    service credits and the comparison with earlier periods."""
    report = _report(request, pk)
    context = report_context(report)
    manager = request.user.can_draft_agreements
    context["can_correct"] = manager and not report.is_superseded and not report.is_draft
    context["can_issue"] = manager and report.is_draft
    # The review starts from the watermelon (``context["experience"]``): targets met while
    # customers are unhappy; the PDF and the CSV read it the same way.
    return render(request, "reporting/report_detail.html", context)


@login_required
@require_safe
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The report as a PDF attachment named after agreement, month and revision."""
    report = _report(request, pk)
    pdf = render_report_pdf(report, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{report.filename}.pdf"
    )
    return response


@login_required
@require_safe
def report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The report as CSV (UTF-8 with a byte-order mark, so spreadsheets read the € sign)."""
    report = _report(request, pk)
    response = HttpResponse(report_csv_bytes(report), content_type="text/csv")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{report.filename}.csv"
    )
    return response


@login_required
@require_POST
@require_drafter
def report_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a reviewed draft: frozen from the current facts and emailed to the customer."""
    report = _report(request, pk)
    try:
        issued = report_services.report_issue(report, timezone.now(), request.user)
    except report_services.ReportError as refusal:
        messages.error(request, str(refusal))
        return redirect(report)
    if issued.emailed:
        messages.success(request, "Report issued and sent to the customer.")
    else:
        messages.success(request, f"Report issued. {issued.quiet_reason}")
    return redirect(issued)


@login_required
@require_POST
@require_drafter
def report_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue the next revision, recomputed from current facts, with the reason given."""
    report = _report(request, pk)
    try:
        correction = report_services.report_correct(
            report, request.user, request.POST.get("note", ""), timezone.now()
        )
    except report_services.ReportError as refusal:
        messages.error(request, str(refusal))
        return redirect(report)
    messages.success(request, f"Revision {correction.revision} issued and sent.")
    return redirect(correction)
