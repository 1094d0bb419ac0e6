from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "sla_portal.core"
    label = "core"
    verbose_name = "Organisations, users and platform"
