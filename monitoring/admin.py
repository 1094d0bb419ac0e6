"""Admin views of monitoring data: mainly for looking at what came in."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import (
    MaintenanceWindow,
    Outage,
    ProbeState,
    Source,
    Ticket,
    TicketPause,
    TicketStatusChange,
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "kind", "timezone", "created_at"]
    list_filter = ["kind", "customer"]
    search_fields = ["name"]


class TicketStatusChangeInline(admin.TabularInline):
    model = TicketStatusChange
    extra = 0


class TicketPauseInline(admin.TabularInline):
    model = TicketPause
    extra = 0


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["external_id", "customer", "agreement", "priority", "state", "opened_at"]
    list_filter = ["state", "priority", "customer"]
    search_fields = ["external_id"]
    list_select_related = ["customer", "agreement"]
    # Ingest owns these rows; hand edits would be overwritten by the next batch.
    readonly_fields = ["ingest_digest", "changed_at"]
    raw_id_fields = ["source", "agreement", "service"]
    inlines = [TicketStatusChangeInline, TicketPauseInline]


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    list_display = ["service", "started_at", "ended_at", "source"]
    list_filter = ["service"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "title", "starts_at", "ends_at", "announced_at"]
    list_filter = ["service"]


@admin.register(ProbeState)
class ProbeStateAdmin(admin.ModelAdmin):
    """Probe settings per service (timeout, expected statuses, retries) and its last result."""

    list_display = [
        "service",
        "enabled",
        "expected_status",
        "retries_before_down",
        "last_checked_at",
        "last_status_code",
        "consecutive_failures",
    ]
    list_filter = ["enabled"]
    list_select_related = ["service"]
    readonly_fields = [
        "next_probe_at",
        "consecutive_failures",
        "failing_since",
        "last_status_code",
        "last_response_ms",
        "last_error",
        "last_checked_at",
    ]
