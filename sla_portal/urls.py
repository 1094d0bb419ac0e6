from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agreements import urls as agreement_urls
from monitoring.api import experience as survey_api
from reporting.api import experience as experience_api
from reporting.views import agreements as agreement_report_views
from reporting.views import inbox as inbox_views
from reporting.views import people as people_views
from reporting.views import status as status_views
from sla_portal.api_router import router
from sla_portal.core import forms as core_forms
from sla_portal.core.api import people as core_api
from sla_portal.core.views import health as health_views

admin.site.site_header = "SLA Portal administration"
admin.site.site_title = "SLA Portal admin"

# The agreement document and a review show reporting data, so their views live in reporting
# (agreements may not import it); they keep their paths and names in the agreements namespace.
agreement_patterns = [
    path("agreements/<int:pk>/", agreement_report_views.agreement_detail, name="detail"),
    path(
        "agreements/<int:pk>/reviews/<int:review_id>/",
        agreement_report_views.review_detail,
        name="review",
    ),
    *agreement_urls.urlpatterns,
]

urlpatterns = [
    # Home shows the work inbox, which reads every app: its view lives in reporting.
    path("", inbox_views.home, name="home"),
    path("", include("sla_portal.core.urls")),
    # The organisation page shows signatories and escalation contacts too: a reporting view.
    path("organisations/<slug:slug>/", people_views.organisation_detail, name="organisation"),
    path("", include((agreement_patterns, agreement_urls.app_name))),
    path("", include("monitoring.urls")),
    path("", include("reporting.urls")),
    # The public status pages: the random token in the link is the only key (no login).
    re_path(
        r"^status/(?P<token>[A-Za-z0-9_-]{20,100})/$", status_views.status_page, name="status-page"
    ),
    re_path(
        r"^status/(?P<token>[A-Za-z0-9_-]{20,100})/subscribe/$",
        status_views.status_subscribe,
        name="status-subscribe",
    ),
    path("status/confirm/<str:token>/", status_views.status_confirm, name="status-confirm"),
    path(
        "status/unsubscribe/<str:token>/",
        status_views.status_unsubscribe,
        name="status-unsubscribe",
    ),
    # Django's reset page with an hourly limit on the emails it sends (core.reset_limits).
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=core_forms.LimitedPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health_views.healthz, name="healthz"),
    path("api/me/", core_api.me, name="api-me"),
    path(
        "api/agreements/<int:agreement_pk>/experience/",
        experience_api.agreement_experience,
        name="agreement-experience",
    ),
    path(
        "api/agreements/<int:agreement_pk>/nps-schedule/",
        survey_api.nps_schedule,
        name="agreement-nps-schedule",
    ),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, so the
    # Content-Security-Policy needs no exception.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

# Styled pages for people, JSON under /api/ (with DEBUG on too: core.errors).
handler400 = "sla_portal.core.errors.bad_request"
handler403 = "sla_portal.core.errors.permission_denied"
handler404 = "sla_portal.core.errors.page_not_found"
handler500 = "sla_portal.core.errors.server_error"
