"""The service catalogue: services, calendars (service hours) and tier templates.

Everyone signed in reads services and calendars, scoped by the selectors (a customer sees
those of its own agreements); tier templates carry the provider's pricing and are for the
provider's people only. Service managers create and edit all three.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from agreements.calendars import PreviewDay, holidays_with_names, preview
from agreements.formatting import (
    COMPLIANCE_NOUN,
    compliance_text,
    format_money,
    format_percent,
    format_value,
    weekly_hours_text,
)
from agreements.forms.calendars import HOURS_HELP, PreviewForm, calendar_editor
from agreements.forms.common import Editor
from agreements.forms.services import ServiceForm
from agreements.forms.tiers import tier_editor
from agreements.models import Calendar, CalendarHours
from agreements.selectors import (
    agreements_visible_to,
    calendars_visible_to,
    services_visible_to,
    tiers_visible_to,
)
from agreements.services.drafting import calendar_frozen_reason
from sla_portal.core.permissions import require_drafter, require_provider

# Ranges of times and days take a typographic en dash, as in print.
DASH = "\N{EN DASH}"
INVALID = "Nothing was saved: please correct the marked fields."
# The row partial and button label of each formset's "Add a row" button (htmx).
ROWS = "agreements/catalogue/_formset_row.html"
ADD_ROW = {
    "hours": (ROWS, "Add an interval"),
    "closures": (ROWS, "Add a date"),
    "bands": (ROWS, "Add a step"),
    "targets": ("agreements/catalogue/_target_row.html", "Add a target"),
}


# --- Presentation helpers (plain values in, strings out)


def format_interval(start: time, end: time) -> str:
    """``08:00`` to ``18:00`` as a range; an end at midnight reads 24:00, an overnight one
    says so."""
    if end == time(0):
        return f"{start:%H:%M}{DASH}24:00"
    suffix = " (overnight)" if end < start else ""
    return f"{start:%H:%M}{DASH}{end:%H:%M}{suffix}"


def weekly_summary(calendar: Calendar) -> str:
    """The calendar's week in one line, worded as in the agreement document."""
    if calendar.is_24x7:
        return "24x7, every day"
    return weekly_hours_text((h.weekday, h.start, h.end) for h in calendar.hours.all())


def _preview_rows(days: list[PreviewDay]) -> list[dict]:
    rows = []
    for day in days:
        periods = [
            f"{a:%H:%M}{DASH}{'24:00' if b.date() > day.day else f'{b:%H:%M}'}"
            for a, b in day.periods
        ]
        minutes = round(day.business_hours * 60)
        hours, rest = divmod(minutes, 60)
        total = f"{hours} h" + (f" {rest} min" if rest else "")
        rows.append(
            {
                "day": day.day,
                "periods": periods,
                "total": total if minutes else "",
                "closed": day.closed_reason,
            }
        )
    return rows


def _add_row(request: HttpRequest, editor: Editor) -> HttpResponse:
    """One blank row of a formset, for htmx to append (``?row=<prefix>&index=<n>``)."""
    formset = editor.formsets.get(request.GET["row"])
    try:
        index = int(request.GET.get("index", ""))
    except ValueError:
        index = -1
    if formset is None or not 0 <= index < formset.max_num:
        return HttpResponseBadRequest("Unknown row.")
    form = formset.empty_form
    form.prefix = formset.add_prefix(index)
    row_template, add_label = ADD_ROW[formset.prefix]
    return render(
        request,
        "agreements/catalogue/_add_row.html",
        {
            "form": form,
            "formset": formset,
            "next_index": index + 1,
            "row_template": row_template,
            "add_label": add_label,
        },
    )


# --- Services


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    """Services the user may see, with how many of the user's visible agreements cover each."""
    services = services_visible_to(request.user)
    return render(request, "agreements/catalogue/service_list.html", {"services": services})


@login_required
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A service and the agreements (visible to the user) that cover it."""
    service = get_object_or_404(services_visible_to(request.user), pk=pk)
    agreements = agreements_visible_to(request.user).filter(services=service)
    return render(
        request,
        "agreements/catalogue/service_detail.html",
        {"service": service, "agreements": agreements},
    )


@login_required
@require_drafter
def service_create(request: HttpRequest) -> HttpResponse:
    """Add a service to the catalogue."""
    form = ServiceForm(request.POST or None, initial={"owner": request.user.pk})
    if request.method == "POST":
        if form.is_valid():
            service = form.save()
            messages.success(request, f"Service “{service}” added to the catalogue.")
            return redirect("agreements:service-detail", pk=service.pk)
        messages.error(request, INVALID)
    return render(
        request,
        "agreements/catalogue/service_form.html",
        {"form": form, "title": "New service"},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_drafter
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a catalogue entry."""
    service = get_object_or_404(services_visible_to(request.user), pk=pk)
    name = str(service)  # before the form copies the submitted name onto it
    form = ServiceForm(request.POST or None, instance=service)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Service “{service}” saved.")
            return redirect("agreements:service-detail", pk=service.pk)
        messages.error(request, INVALID)
    return render(
        request,
        "agreements/catalogue/service_form.html",
        {"form": form, "title": f"Edit {name}", "service": service, "name": name},
        status=400 if request.method == "POST" else 200,
    )


# --- Calendars


@login_required
def calendar_list(request: HttpRequest) -> HttpResponse:
    """Calendars the user may see, each with its week in one line."""
    calendars = list(calendars_visible_to(request.user))
    for calendar in calendars:
        calendar.weekly_summary = weekly_summary(calendar)
    return render(request, "agreements/catalogue/calendar_list.html", {"calendars": calendars})


@login_required
def calendar_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Weekly hours, closures, public holidays and a day-by-day preview of business periods
    (``?from=YYYY-MM-DD`` and ``?days=`` up to 60), so a person can check the calendar does
    what they meant."""
    calendar = get_object_or_404(
        calendars_visible_to(request.user).prefetch_related("closures"), pk=pk
    )
    zone = ZoneInfo(calendar.timezone)
    today = timezone.now().astimezone(zone).date()
    window = PreviewForm(request.GET, today=today)
    first_day, days = window.window()
    start = datetime.combine(first_day, time(0), tzinfo=zone)

    closure_dates = {closure.date for closure in calendar.closures.all()}
    holidays = [
        (day, name)
        for day, name in sorted(holidays_with_names(calendar, today).items())
        if day.year in (today.year, today.year + 1) and day not in closure_dates
    ]
    weekdays = [(label, []) for label in CalendarHours.Weekday.labels]
    for row in calendar.hours.all():
        weekdays[row.weekday][1].append(format_interval(row.start, row.end))
    agreements = (
        agreements_visible_to(request.user)
        .filter(
            Q(service_calendars=calendar)
            | Q(support_calendar=calendar)
            | Q(targets__calendar=calendar)
        )
        .distinct()
    )
    return render(
        request,
        "agreements/catalogue/calendar_detail.html",
        {
            "calendar": calendar,
            "summary": weekly_summary(calendar),
            "weekdays": weekdays,
            "holidays": holidays,
            "holiday_years": (today.year, today.year + 1),
            "window": window,
            "first_day": first_day,
            "days": days,
            "preview": _preview_rows(preview(calendar, start, days)),
            "today": today,
            "agreements": agreements,
        },
    )


@login_required
@require_drafter
def calendar_create(request: HttpRequest) -> HttpResponse:
    """A new calendar with its weekly hours and closures, saved together or not at all."""
    editor = calendar_editor(request.POST or None, None)
    if "row" in request.GET:
        return _add_row(request, editor)
    if request.method == "POST":
        if editor.is_valid():
            calendar = editor.save()
            messages.success(request, f"Calendar “{calendar}” created. Check its preview below.")
            return redirect("agreements:calendar-detail", pk=calendar.pk)
        messages.error(request, INVALID)
    return _calendar_form(request, editor, "New calendar", None)


@login_required
@require_drafter
def calendar_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a calendar, its weekly hours and closures together or not at all."""
    calendar = get_object_or_404(calendars_visible_to(request.user), pk=pk)
    frozen = calendar_frozen_reason(calendar)
    if frozen:
        messages.error(request, frozen)
        return redirect("agreements:calendar-detail", pk=calendar.pk)
    title = f"Edit {calendar}"  # before the form copies the submitted name onto it
    editor = calendar_editor(request.POST or None, calendar)
    if "row" in request.GET:
        return _add_row(request, editor)
    if request.method == "POST":
        if editor.is_valid():
            editor.save()
            messages.success(request, f"Calendar “{calendar}” saved.")
            return redirect("agreements:calendar-detail", pk=calendar.pk)
        messages.error(request, INVALID)
    return _calendar_form(request, editor, title, calendar)


def _calendar_form(
    request: HttpRequest, editor: Editor, title: str, calendar: Calendar | None
) -> HttpResponse:
    return render(
        request,
        "agreements/catalogue/calendar_form.html",
        {
            "editor": editor,
            "form": editor.form,
            "title": title,
            "calendar": calendar,
            "hours_help": HOURS_HELP,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- Tier templates


@login_required
@require_provider
def tier_list(request: HttpRequest) -> HttpResponse:
    """The tier templates (Gold, Silver, Bronze, ...) with their headline defaults."""
    tiers = tiers_visible_to(request.user).select_related("service_calendar", "support_calendar")
    return render(request, "agreements/catalogue/tier_list.html", {"tiers": tiers})


@login_required
@require_provider
def tier_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A tier's defaults: calendars, review, charges, maintenance, targets and credit bands."""
    tier = get_object_or_404(
        tiers_visible_to(request.user)
        .select_related("service_calendar", "support_calendar")
        .prefetch_related("targets__calendar"),
        slug=slug,
    )
    targets = [
        {
            "target": target,
            "aim": format_value(target.target_value, target.unit),
            "threshold": format_value(target.threshold_value, target.unit),
            "compliance": compliance_text(
                target.compliance_target,
                target.compliance_threshold,
                COMPLIANCE_NOUN.get(target.data_source, "tickets"),
            ),
        }
        for target in tier.targets.all()
    ]
    return render(
        request,
        "agreements/catalogue/tier_detail.html",
        {
            "tier": tier,
            "targets": targets,
            "fee": format_money(tier.fee_amount, tier.currency),
            "credit_cap": format_percent(tier.credit_cap_percent),
            "bands": [
                (band, format_percent(band.achieved_below), format_percent(band.credit_percent))
                for band in tier.credit_bands.all()
            ],
        },
    )


@login_required
@require_drafter
def tier_create(request: HttpRequest) -> HttpResponse:
    """A new tier template with its default targets and credit bands, saved together."""
    editor = tier_editor(request.POST or None, None, request.user)
    if "row" in request.GET:
        return _add_row(request, editor)
    if request.method == "POST":
        if editor.is_valid():
            tier = editor.save()
            messages.success(request, f"Tier “{tier}” created.")
            return redirect("agreements:tier-detail", slug=tier.slug)
        messages.error(request, INVALID)
    return _tier_form(request, editor, "New tier", reverse("agreements:tier-list"))


@login_required
@require_drafter
def tier_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a tier template, its targets and credit bands together or not at all.

    Agreements already drafted from the tier keep their own copies of the defaults."""
    tier = get_object_or_404(tiers_visible_to(request.user), slug=slug)
    # Before the form copies submitted values (a new slug, say) onto the tier.
    title, cancel_url = f"Edit {tier}", reverse("agreements:tier-detail", args=[tier.slug])
    editor = tier_editor(request.POST or None, tier, request.user)
    if "row" in request.GET:
        return _add_row(request, editor)
    if request.method == "POST":
        if editor.is_valid():
            tier = editor.save()
            messages.success(request, f"Tier “{tier}” saved.")
            return redirect("agreements:tier-detail", slug=tier.slug)
        messages.error(request, INVALID)
    return _tier_form(request, editor, title, cancel_url)


def _tier_form(request: HttpRequest, editor: Editor, title: str, cancel_url: str) -> HttpResponse:
    return render(
        request,
        "agreements/catalogue/tier_form.html",
        {"editor": editor, "form": editor.form, "title": title, "cancel_url": cancel_url},
        status=400 if request.method == "POST" else 200,
    )
