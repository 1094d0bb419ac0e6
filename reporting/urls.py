from django.urls import path

from . import dashboard_views, report_views

app_name = "reporting"

urlpatterns = [
    # Live compliance: the customer's agreements, and the provider's overview
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    # Periodic reports with service credits
    path("reports/", report_views.report_list, name="report-list"),
    path("reports/<int:pk>/", report_views.report_detail, name="report-detail"),
]
