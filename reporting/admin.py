from django.contrib import admin

from reporting.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Read-only: an issued report never changes (a database trigger refuses it), and a draft
    is issued from its page, where the action is recorded."""

    list_display = (
        "agreement",
        "month",
        "revision",
        "status",
        "credit_percent",
        "credit_amount",
        "issued_at",
    )
    list_filter = ("status", "month")
    search_fields = ("agreement__reference", "agreement__title")
    list_select_related = ("agreement",)
    readonly_fields = [field.name for field in Report._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
