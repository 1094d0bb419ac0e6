"""The Django admin for agreements, tiers and the catalogue (provider admins only).

Rows that only make sense inside their parent (a calendar's hours, a tier's targets, an
agreement's signatories) are edited inline there; agreement targets also get their own list,
because finding "every P1 response target" across agreements is a common admin question.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from agreements.models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Calendar,
    CalendarHours,
    ClosureDate,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    SupportChannel,
    Target,
    Tier,
    TierCreditBand,
    TierTarget,
)
from agreements.models.targets import TARGET_SPEC_FIELDS
from sla_portal.core.admin import ReadOnlyAdmin

TARGET_FIELDS = [*TARGET_SPEC_FIELDS, "position"]


# --- Catalogue


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "criticality", "owner", "probe_url", "agreement_count"]
    list_filter = ["criticality"]
    search_fields = ["name", "description"]
    list_select_related = ["owner"]
    readonly_fields = ["created_at"]
    # A probe URL typed without a scheme is an https one (Django 6's default too).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        return super().get_queryset(request).annotate(agreement_total=Count("agreements"))

    @admin.display(description="Agreements", ordering="agreement_total")
    def agreement_count(self, service: Service) -> int:
        return service.agreement_total


class CalendarHoursInline(admin.TabularInline):
    model = CalendarHours
    extra = 0
    fields = ["weekday", "start", "end"]


class ClosureDateInline(admin.TabularInline):
    model = ClosureDate
    extra = 0
    fields = ["date", "reason"]


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "timezone",
        "is_24x7",
        "holiday_country",
        "holiday_subdivision",
        "updated_at",
    ]
    list_filter = ["is_24x7", "timezone", "holiday_country"]
    search_fields = ["name", "description"]
    readonly_fields = ["updated_at"]
    inlines = [CalendarHoursInline, ClosureDateInline]


# --- Tier templates


class TierTargetInline(admin.StackedInline):
    model = TierTarget
    extra = 0
    fields = TARGET_FIELDS
    autocomplete_fields = ["calendar"]
    classes = ["collapse"]


class TierCreditBandInline(admin.TabularInline):
    model = TierCreditBand
    extra = 0
    fields = ["metric", "achieved_below", "credit_percent"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "is_active",
        "fee_amount",
        "currency",
        "fee_period",
        "service_calendar",
        "support_calendar",
    ]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["service_calendar", "support_calendar"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["service_calendar", "support_calendar"]
    inlines = [TierTargetInline, TierCreditBandInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "position", "is_active"]}),
        (
            "Hours and review",
            {"fields": ["service_calendar", "support_calendar", "review_interval_months"]},
        ),
        ("Charges", {"fields": ["fee_amount", "fee_period", "currency", "credit_cap_percent"]}),
        (
            "Planned maintenance",
            {
                "fields": [
                    "maintenance_max_minutes",
                    "maintenance_notice_days",
                    "maintenance_excluded",
                ]
            },
        ),
    ]


# --- Agreements


class TargetInline(admin.StackedInline):
    model = Target
    extra = 0
    fields = ["service", *TARGET_FIELDS]
    autocomplete_fields = ["calendar", "service"]
    classes = ["collapse"]


class SignatoryInline(admin.TabularInline):
    model = Signatory
    extra = 0
    fields = ["side", "name", "role", "organisation_name", "email", "user"]
    raw_id_fields = ["user"]


class SupportChannelInline(admin.TabularInline):
    model = SupportChannel
    extra = 0
    fields = ["kind", "contact", "hours"]


class PriorityDefinitionInline(admin.TabularInline):
    model = PriorityDefinition
    extra = 0
    fields = ["priority", "name", "meaning"]


class CreditBandInline(admin.TabularInline):
    model = CreditBand
    extra = 0
    fields = ["metric", "achieved_below", "credit_percent"]


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "title",
        "customer",
        "tier",
        "status",
        "effective_from",
        "effective_to",
        "updated_at",
    ]
    list_filter = ["status", "tier", "customer"]
    list_select_related = ["customer", "tier"]
    search_fields = ["reference", "title", "customer__name"]
    date_hierarchy = "effective_from"
    readonly_fields = ["status", "created_by", "created_at", "updated_at"]
    filter_horizontal = ["services", "service_calendars"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # The status moves only through the lifecycle; a signed agreement does not change.
        if obj is not None and not obj.is_editable:
            return [f.name for f in obj._meta.concrete_fields] + ["services", "service_calendars"]
        return self.readonly_fields

    def get_inlines(self, request, obj):
        if obj is not None and not obj.is_editable:
            return []
        return self.inlines

    autocomplete_fields = ["tier", "support_calendar"]
    inlines = [
        TargetInline,
        CreditBandInline,
        PriorityDefinitionInline,
        SupportChannelInline,
        SignatoryInline,
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    "title",
                    "customer",
                    "tier",
                    "services",
                    "status",
                    "effective_from",
                    "effective_to",
                    "review_interval_months",
                    "created_by",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "1. Service description",
            {"fields": ["service_description", "scale", "business_impact", "business_priority"]},
        ),
        ("2. Service hours", {"fields": ["service_calendars", "service_hours_notes"]}),
        (
            "3. Availability",
            {
                "fields": [
                    "maintenance_max_minutes",
                    "maintenance_notice_days",
                    "maintenance_excluded",
                    "availability_notes",
                ]
            },
        ),
        ("4. Support levels", {"fields": ["support_calendar", "after_hours_procedure"]}),
        ("5. Performance", {"fields": ["performance_notes"]}),
        ("6. Functionality", {"fields": ["functionality_notes"]}),
        (
            "7. Charges",
            {
                "fields": [
                    "fee_amount",
                    "fee_period",
                    "currency",
                    "charging_formula",
                    "credit_cap_percent",
                    "credit_exclusions",
                ]
            },
        ),
        (
            "8. Continuity",
            {"fields": ["rto_minutes", "rpo_minutes", "dr_plan_reference", "continuity_notes"]},
        ),
        (
            "9. Security",
            {"fields": ["security_procedures", "security_protocols", "security_measures"]},
        ),
        ("10. Changes", {"fields": ["change_policy", "change_notice_days", "change_approval"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Agreement, form, change: bool) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "agreement",
        "service",
        "target_value",
        "threshold_value",
        "unit",
        "period",
        "calendar",
    ]
    list_filter = ["metric", "priority", "period", "data_source"]
    list_select_related = ["agreement", "service", "calendar"]
    search_fields = ["name", "error_category", "agreement__reference", "agreement__title"]
    autocomplete_fields = ["agreement", "calendar", "service"]
    fields = ["agreement", "service", *TARGET_FIELDS]


@admin.register(AgreementVersion)
class AgreementVersionAdmin(ReadOnlyAdmin):
    """Versions are facts: shown, never changed here."""

    list_display = ["agreement", "number", "proposed_by", "proposed_at", "finalized_at"]
    list_select_related = ["agreement", "proposed_by"]
    search_fields = ["agreement__reference", "content_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The append-only audit trail, read-only."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "agreement"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "message", "actor_name"]
