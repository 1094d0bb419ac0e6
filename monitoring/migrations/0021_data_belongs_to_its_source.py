"""Monitoring data belongs to the source that sent it (monitoring.ownership).

Schema: checks, outages and measurements are unique per source (two customers' monitors of
one service keep their own rows); ``Source.shared`` marks provider-owned measurements counted
for every agreement covering the service.

Data, said line by line on the migration's output:

* every built-in probe source becomes shared: the provider's probe measured the service for
  every customer before, and still does, now deliberately;
* rows recorded without a source (checks, outages, maintenance windows) are given one where
  that is unambiguous: when the agreements of exactly one customer cover the service, they
  move to that customer's source "Recorded before sources" (created disabled: it receives
  nothing new). Rows of a service several customers' agreements cover (or none) stay without
  a source: they count for no agreement and only the provider sees them.
"""

from django.db import migrations, models
from django.utils import timezone

LEGACY_SOURCE = "Recorded before sources"


def _say(text):
    print(f"  monitoring 0021: {text}")


def attribute_data(apps, schema_editor):
    Source = apps.get_model("monitoring", "Source")
    Agreement = apps.get_model("agreements", "Agreement")
    shared = Source.objects.filter(kind="probe", shared=False).update(shared=True)
    if shared:
        _say(f"{shared} built-in probe source(s) marked shared")
    models_ = [
        apps.get_model("monitoring", name)
        for name in ("UptimeCheck", "Outage", "MaintenanceWindow")
    ]
    service_ids = set()
    for model in models_:
        service_ids.update(
            model.objects.filter(source__isnull=True)
            .order_by()
            .values_list("service_id", flat=True)
            .distinct()
        )
    for service_id in sorted(service_ids):
        customers = sorted(
            set(
                Agreement.objects.filter(services__id=service_id).values_list(
                    "customer_id", flat=True
                )
            )
        )
        counts = {
            model.__name__: model.objects.filter(service_id=service_id, source__isnull=True)
            for model in models_
        }
        if len(customers) != 1:
            left = ", ".join(f"{qs.count()} {name}" for name, qs in counts.items())
            _say(
                f"service {service_id}: {left} rows left without a source (covered by "
                f"{len(customers)} customers): counted for no agreement"
            )
            continue
        source, _ = Source.objects.get_or_create(
            customer_id=customers[0],
            name=LEGACY_SOURCE,
            defaults={
                "kind": "api",
                "description": "Rows recorded before every row named its source.",
                "disabled_at": timezone.now(),
            },
        )
        moved = ", ".join(f"{qs.update(source=source)} {name}" for name, qs in counts.items())
        _say(
            f"service {service_id}: {moved} rows given to source {source.pk} of customer {customers[0]}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0006_comment_threads"),
        ("monitoring", "0020_breach_withdrawn"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="measurement",
            name="measurement_unique_time",
        ),
        migrations.RemoveConstraint(
            model_name="outage",
            name="outage_unique_start",
        ),
        migrations.RemoveConstraint(
            model_name="uptimecheck",
            name="check_unique_time",
        ),
        migrations.AddField(
            model_name="source",
            name="shared",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Provider-owned measurement: its data counts for every customer's agreements that cover the service, not only this customer's.",
            ),
        ),
        migrations.AddConstraint(
            model_name="measurement",
            constraint=models.UniqueConstraint(
                fields=("service", "name", "measured_at", "source"), name="measurement_unique_time"
            ),
        ),
        migrations.AddConstraint(
            model_name="outage",
            constraint=models.UniqueConstraint(
                fields=("service", "started_at", "source"),
                name="outage_unique_start",
                nulls_distinct=False,
            ),
        ),
        migrations.AddConstraint(
            model_name="uptimecheck",
            constraint=models.UniqueConstraint(
                fields=("service", "checked_at", "source"),
                name="check_unique_time",
                nulls_distinct=False,
            ),
        ),
        # Last: updating rows leaves deferred foreign-key checks pending, and PostgreSQL
        # refuses to alter a table with pending trigger events in the same transaction.
        migrations.RunPython(attribute_data, migrations.RunPython.noop),
    ]
