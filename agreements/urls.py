from django.urls import path

from agreements.views import (
    agreements,
    catalogue,
    comments,
    document,
    editor,
    history,
    lifecycle,
    versions,
)

app_name = "agreements"

urlpatterns = [
    # Agreements
    path("agreements/", agreements.agreement_list, name="list"),
    path("agreements/new/", agreements.agreement_create, name="create"),
    # agreements/<int:pk>/ (name "detail"): the document shows reporting data, so its view
    # is reporting.views.agreements.agreement_detail, routed in sla_portal/urls.py.
    path("agreements/<int:pk>/pdf/", document.agreement_pdf, name="pdf"),
    path("agreements/<int:pk>/edit/", editor.agreement_edit, name="edit"),
    path("agreements/<int:pk>/edit/<slug:section>/", editor.section_edit, name="edit-section"),
    # Lifecycle: negotiate, finalize, monitor, report, review
    path("agreements/<int:pk>/lifecycle/", lifecycle.lifecycle_page, name="lifecycle"),
    path(
        "agreements/<int:pk>/lifecycle/<slug:action>/",
        lifecycle.lifecycle_action,
        name="transition",
    ),
    path("agreements/<int:pk>/comments/", comments.comment_create, name="comment"),
    path(
        "agreements/<int:pk>/comments/<int:comment_id>/<slug:action>/",
        comments.comment_thread,
        name="comment-thread",
    ),
    path("agreements/<int:pk>/versions/compare/", versions.version_compare, name="compare"),
    path("agreements/<int:pk>/history/", history.history, name="history"),
    # agreements/<int:pk>/reviews/<int:review_id>/ (name "review"): likewise
    # reporting.views.agreements.review_detail, routed in sla_portal/urls.py.
    path("agreements/<int:pk>/supporting/", lifecycle.supporting_create, name="supporting-create"),
    # Service catalogue
    path("services/", catalogue.service_list, name="service-list"),
    path("services/new/", catalogue.service_create, name="service-create"),
    path("services/<int:pk>/", catalogue.service_detail, name="service-detail"),
    path("services/<int:pk>/edit/", catalogue.service_edit, name="service-edit"),
    # Calendars (service hours)
    path("calendars/", catalogue.calendar_list, name="calendar-list"),
    path("calendars/new/", catalogue.calendar_create, name="calendar-create"),
    path("calendars/<int:pk>/", catalogue.calendar_detail, name="calendar-detail"),
    path("calendars/<int:pk>/edit/", catalogue.calendar_edit, name="calendar-edit"),
    # Tier templates
    path("tiers/", catalogue.tier_list, name="tier-list"),
    path("tiers/new/", catalogue.tier_create, name="tier-create"),
    path("tiers/<slug:slug>/", catalogue.tier_detail, name="tier-detail"),
    path("tiers/<slug:slug>/edit/", catalogue.tier_edit, name="tier-edit"),
]
