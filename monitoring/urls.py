from django.urls import path

from monitoring.api import webhooks
from monitoring.views import evaluation as evaluation_views
from monitoring.views import event_log as event_log_views
from monitoring.views import imports as upload_views
from monitoring.views import mapping as mapping_views
from monitoring.views import sources as source_views
from monitoring.views import surveys as survey_views
from monitoring.views import tickets as views
from sla_portal.core.throttles import webhook_throttled

app_name = "monitoring"

urlpatterns = [
    # Ingested data, read by people
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket-detail"),
    path("services/<int:pk>/checks/", views.service_checks, name="service-checks"),
    # What the evaluation engine concluded
    path("alerts/", evaluation_views.alert_list, name="alert-list"),
    path("alerts/<int:pk>/acknowledge/", evaluation_views.alert_acknowledge, name="alert-ack"),
    # The one-click link of alert emails (a signed token, no login)
    path("alerts/ack/<str:token>/", evaluation_views.alert_ack_link, name="alert-ack-link"),
    # The links of CSAT and NPS survey emails (a signed token, no login)
    path("surveys/<str:token>/", survey_views.survey_answer_page, name="survey-answer"),
    path("breaches/<int:pk>/", evaluation_views.breach_detail, name="breach-detail"),
    path("agreements/<int:pk>/compliance/", evaluation_views.compliance, name="compliance"),
    path("agreements/<int:pk>/escalation/", evaluation_views.escalation, name="escalation"),
    path(
        "agreements/<int:pk>/escalation/<int:contact_pk>/remove/",
        evaluation_views.escalation_remove,
        name="escalation-remove",
    ),
    # Imports of export files, run as background jobs
    path("imports/", upload_views.import_list, name="import-list"),
    path("imports/new/", upload_views.import_new, name="import-new"),
    path("imports/csv/", mapping_views.csv_upload, name="csv-upload"),
    path("imports/csv/<str:token>/", mapping_views.csv_mapping, name="csv-mapping"),
    path("imports/events/", event_log_views.event_log_upload, name="event-log-upload"),
    path(
        "imports/events/<str:token>/", event_log_views.event_log_columns, name="event-log-columns"
    ),
    path(
        "imports/events/<str:token>/states/",
        event_log_views.event_log_states,
        name="event-log-states",
    ),
    path("imports/<int:pk>/", upload_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/progress/", upload_views.import_progress, name="import-progress"),
    path("imports/<int:pk>/retry/", upload_views.import_retry, name="import-retry"),
    # Sources: feeds, webhooks and probes, managed in the browser
    path("sources/", source_views.source_list, name="source-list"),
    path("sources/new/", source_views.source_new, name="source-new"),
    path("sources/new/<str:group>/", source_views.source_create_view, name="source-create"),
    path("sources/<int:pk>/", source_views.source_detail, name="source-detail"),
    path("sources/<int:pk>/edit/", source_views.source_edit, name="source-edit"),
    path("sources/<int:pk>/status/", source_views.source_toggle, name="source-toggle"),
    path(
        "sources/<int:pk>/rotate-secret/",
        source_views.source_rotate_secret_view,
        name="source-rotate-secret",
    ),
    path("sources/<int:pk>/sharing/", source_views.source_sharing_view, name="source-sharing"),
    # Webhooks: signed pushes from monitors and alert managers
    path(
        "hooks/<int:source_id>/generic/", webhook_throttled(webhooks.generic), name="hook-generic"
    ),
    path(
        "hooks/<int:source_id>/uptime-kuma/",
        webhook_throttled(webhooks.uptime_kuma),
        name="hook-uptime-kuma",
    ),
    path(
        "hooks/<int:source_id>/alertmanager/",
        webhook_throttled(webhooks.alertmanager),
        name="hook-alertmanager",
    ),
]
