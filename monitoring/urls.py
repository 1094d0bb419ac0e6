from django.urls import path

from . import views, webhooks

app_name = "monitoring"

urlpatterns = [
    # Ingested data, read by people
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket-detail"),
    path("services/<int:pk>/checks/", views.service_checks, name="service-checks"),
    # Webhooks: signed pushes from monitors and alert managers
    path("hooks/<int:source_id>/generic/", webhooks.generic, name="hook-generic"),
    path("hooks/<int:source_id>/uptime-kuma/", webhooks.uptime_kuma, name="hook-uptime-kuma"),
    path("hooks/<int:source_id>/alertmanager/", webhooks.alertmanager, name="hook-alertmanager"),
]
