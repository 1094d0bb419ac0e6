from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from sla_portal.core.models import (
    AccountEvent,
    ApiToken,
    Notification,
    Organisation,
    User,
    WorkerHeartbeat,
)
from sla_portal.core.tokens import token_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are facts (sent emails, versions, the audit trail): shown, never edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "contact_email", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organisation", "role", "is_active"]
    list_filter = ["role", "organisation", "is_active"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "Organisation and role",
            {"fields": ["organisation", "role", "job_title", "alert_digest"]},
        ),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Organisation and role", {"fields": ["email", "organisation", "role"]}),
    )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at", "hostname"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Delivery status of every email, for reading only.

    Nothing is added, changed or deleted here: a row is the record that an email was (or is
    being) sent, and deleting it would let the same event send its email again.
    """

    list_display = [
        "created_at",
        "kind",
        "key",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["recipient", "key", "subject"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdmin):
    """Invitations, role changes and deactivations made on the organisation pages."""

    list_display = ["at", "organisation", "actor_name", "action", "subject_name", "message"]
    list_filter = ["action", "organisation"]
    search_fields = ["message", "actor_name", "subject_name"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are created by their user; an admin sees them and revokes any."""

    list_display = ["name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for token in queryset.select_related("user"):
            token_revoke(token, by=request.user)
