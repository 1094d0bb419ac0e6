from django.urls import path

from reporting.views import dashboards as dashboard_views
from reporting.views import experience as experience_views
from reporting.views import inbox as inbox_views
from reporting.views import incidents as incident_views
from reporting.views import recompute as recompute_views
from reporting.views import replay as replay_views
from reporting.views import reports as report_views

app_name = "reporting"

urlpatterns = [
    # Live compliance: the customer's agreements, and the provider's overview
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/live/", dashboard_views.dashboard_live, name="dashboard-live"),
    path(
        "dashboard/agreements/<int:pk>/breaches/",
        dashboard_views.agreement_breaches,
        name="agreement-breaches",
    ),
    # Experience beside compliance: CSAT, NPS, survey answers and the NPS schedule
    path(
        "agreements/<int:pk>/experience/",
        experience_views.agreement_experience,
        name="agreement-experience",
    ),
    # What is waiting for the person logged in (Home shows it too)
    path("inbox/", inbox_views.inbox_page, name="inbox"),
    path("inbox/badge/", inbox_views.inbox_badge, name="inbox-badge"),
    # Periodic reports with service credits
    path("reports/", report_views.report_list, name="report-list"),
    path("reports/<int:pk>/", report_views.report_detail, name="report-detail"),
    path("reports/<int:pk>/pdf/", report_views.report_pdf, name="report-pdf"),
    path("reports/<int:pk>/csv/", report_views.report_csv, name="report-csv"),
    path("reports/<int:pk>/issue/", report_views.report_issue, name="report-issue"),
    path("reports/<int:pk>/correct/", report_views.report_correct, name="report-correct"),
    # Negotiating with evidence: proposed targets replayed on the history held
    path("agreements/<int:pk>/replay/", replay_views.replay_panel, name="agreement-replay"),
    # Measuring again after a correction (a holiday learned late, data re-sent)
    path("recompute/", recompute_views.recompute_list, name="recompute-list"),
    path("recompute/<int:pk>/", recompute_views.recompute_detail, name="recompute-detail"),
    path(
        "recompute/<int:pk>/progress/",
        recompute_views.recompute_progress,
        name="recompute-progress",
    ),
    path(
        "recompute/<int:pk>/cancel/",
        recompute_views.recompute_cancel_view,
        name="recompute-cancel",
    ),
    path("recompute/<int:pk>/apply/", recompute_views.recompute_apply_view, name="recompute-apply"),
    # Incidents, and the links of the customers' public status pages
    path("incidents/", incident_views.incident_list, name="incident-list"),
    path("incidents/new/", incident_views.incident_new, name="incident-new"),
    path("incidents/<int:pk>/", incident_views.incident_detail, name="incident-detail"),
    path("status-pages/", incident_views.status_page_list, name="status-page-list"),
    path(
        "status-pages/<int:pk>/<slug:action>/",
        incident_views.status_page_action,
        name="status-page-action",
    ),
]
