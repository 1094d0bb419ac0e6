"""The append-only audit trail of an agreement and of the calendars it uses."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agreements.history import history_rows
from agreements.models import Agreement, AuditEvent, CalendarHours, ClosureDate
from agreements.views.lifecycle import visible_agreement

HISTORY_PAGE_SIZE = 50


def _calendar_events(agreement: Agreement) -> Q:
    """Events of the calendars the agreement uses: the calendars themselves, and their hours
    and closures (found by the calendar named in the recorded values, or, for an edit that
    did not touch that field, by the row still belonging to the calendar)."""
    ids = set(agreement.service_calendars.values_list("pk", flat=True))
    ids |= set(agreement.targets.exclude(calendar=None).values_list("calendar_id", flat=True))
    if agreement.support_calendar_id:
        ids.add(agreement.support_calendar_id)
    if not ids:
        return Q(pk__in=[])
    texts = [str(pk) for pk in sorted(ids)]

    def current_rows(model) -> QuerySet:
        return (
            model.objects.filter(calendar_id__in=ids)
            .annotate(text_id=Cast("pk", CharField()))
            .values("text_id")
        )

    recorded = Q(after__calendar__in=texts) | Q(before__calendar__in=texts)
    return (
        Q(object_type="calendar", object_id__in=texts)
        | Q(object_type="calendarhours") & (recorded | Q(object_id__in=current_rows(CalendarHours)))
        | Q(object_type="closuredate") & (recorded | Q(object_id__in=current_rows(ClosureDate)))
    )


@login_required
@require_safe
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """The append-only audit trail of the agreement and of the calendars it uses."""
    agreement = visible_agreement(request, pk)
    events = AuditEvent.objects.filter(
        Q(agreement_id=agreement.pk) | _calendar_events(agreement)
    ).order_by("-at", "-id")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/lifecycle/history.html",
        {"agreement": agreement, "page": page, "rows": history_rows(list(page))},
    )
