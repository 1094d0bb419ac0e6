from django.urls import path

from . import dashboard_views, report_views

app_name = "reporting"

urlpatterns = [
    # Live compliance: the customer's agreements, and the provider's overview
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/live/", dashboard_views.dashboard_live, name="dashboard-live"),
    # Periodic reports with service credits
    path("reports/", report_views.report_list, name="report-list"),
    path("reports/<int:pk>/", report_views.report_detail, name="report-detail"),
    path("reports/<int:pk>/pdf/", report_views.report_pdf, name="report-pdf"),
    path("reports/<int:pk>/csv/", report_views.report_csv, name="report-csv"),
    path("reports/<int:pk>/correct/", report_views.report_correct, name="report-correct"),
]
