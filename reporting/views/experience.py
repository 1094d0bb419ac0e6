"""The agreement's experience page: CSAT and NPS beside SLA compliance, the surveys and
their answers, and the NPS schedule (set by service managers)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from agreements.models import Agreement
from monitoring.experience.nps import current_round, nps_schedule_set
from monitoring.forms.experience import NpsScheduleForm
from monitoring.models import NpsSchedule
from monitoring.selectors.evaluation import agreement_visible
from monitoring.selectors.experience import surveys_visible_to
from reporting.selectors.experience import experience_of

SURVEYS_SHOWN = 50


@login_required
def agreement_experience(request: HttpRequest, pk: int) -> HttpResponse:
    """Experience beside compliance for one agreement (see the module docstring)."""
    try:
        agreement = agreement_visible(request.user, pk)
    except Agreement.DoesNotExist:
        raise Http404("No such agreement.") from None
    can_edit = request.user.can_draft_agreements
    schedule = NpsSchedule.objects.visible_to(request.user).filter(agreement=agreement).first()
    initial = {"every_months": schedule.every_months if schedule else 0}
    if schedule:
        initial["starts_on"] = schedule.starts_on
    form = NpsScheduleForm(initial=initial)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only service managers set the NPS schedule.")
        form = NpsScheduleForm(request.POST)
        if form.is_valid():
            nps_schedule_set(
                agreement, form.cleaned_data["every_months"], form.cleaned_data["starts_on"]
            )
            messages.success(request, "NPS schedule saved.")
            return redirect("reporting:agreement-experience", pk=agreement.pk)
    surveys = list(surveys_visible_to(request.user).filter(agreement=agreement)[:SURVEYS_SHOWN])
    today = timezone.localdate()
    return render(
        request,
        "reporting/experience.html",
        {
            "agreement": agreement,
            "xp": experience_of(request.user, agreement.pk),
            "surveys": surveys,
            "schedule": schedule,
            "round": current_round(schedule.starts_on, schedule.every_months, today)
            if schedule
            else None,
            "form": form,
            "can_edit": can_edit,
        },
    )
